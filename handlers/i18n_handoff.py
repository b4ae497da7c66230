"""Texts of the live handoff (转人工): what the resident reads, and the lines staff see."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "handoff.stuck": {
        "zh": "抱歉，我几次都没能明白您的意思，已请社区工作人员来帮您。",
        "en": "Sorry, I could not understand you several times; community staff will help you.",
    },
    "handoff.opened": {
        "zh": "已为您转接社区工作人员，他们会在这里直接回复您，预计 {at} 前接入。"
        "等待时您可以继续描述情况；发送“结束人工”可回到智能助手。",
        "en": "You are being put through to community staff, who will answer here by {at}. "
        "You can keep describing the problem meanwhile; send 'end' to return to the bot.",
    },
    "handoff.already_taken": {
        "zh": "社区工作人员{name}正在这里和您对话，请直接留言。",
        "en": "{name} of the community staff is talking with you here; just write.",
    },
    "handoff.still_waiting": {
        "zh": "已收到，社区工作人员接入后会在这里回复您。",
        "en": "Got it. Community staff will answer here as soon as they join.",
    },
    "handoff.end_button": {"zh": "结束人工，回到智能助手", "en": "End and return to the bot"},
    "handoff.ended_by_resident": {
        "zh": "已结束人工对话，您可以继续和智能助手对话。",
        "en": "The conversation with staff has ended; the bot is here again.",
    },
    "handoff.taken": {
        "zh": "社区工作人员{name}已接入，正在为您处理。",
        "en": "{name} of the community staff has joined and is looking into it.",
    },
    "handoff.staff_says": {"zh": "【社区工作人员{name}】{text}", "en": "[Staff {name}] {text}"},
    "handoff.ticket_filed": {
        "zh": "工作人员已为您登记工单 {number}（{category}），处理进展会在这里通知您。",
        "en": "Staff filed ticket {number} ({category}) for you; updates will come here.",
    },
    "handoff.released": {
        "zh": "本次人工对话已结束，感谢您的耐心。接下来由智能助手为您服务，"
        "如需再次联系工作人员请发送“转人工”。",
        "en": "The conversation with staff has ended. The bot is here again; send "
        "'human' to reach staff once more.",
    },
    "handoff.photo": {"zh": "（发送了{count}张图片）", "en": "(sent {count} photos)"},
    "handoff.sys.taken": {"zh": "{name} 接入了会话", "en": "{name} joined"},
    "handoff.sys.ticket": {"zh": "已转为工单 {number}", "en": "Filed as ticket {number}"},
    "handoff.sys.released": {"zh": "{name} 结束会话，交还智能助手", "en": "{name} ended it"},
    "handoff.sys.resident_ended": {
        "zh": "居民结束了人工对话",
        "en": "The resident ended the conversation",
    },
}
