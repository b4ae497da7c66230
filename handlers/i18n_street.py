"""Texts of the street level (issue 14): referring a ticket to the street, sending it back
down, and the city's 12345 hotline; merged into ``handlers.i18n`` (kept apart to ease
merging)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "who.street_staff": {"zh": "街道工作人员", "en": "street office staff"},
    "supervisor.street_referred": {
        "zh": "【社区上报街道】{number} 由{actor}上报街道：{note}",
        "en": "[Referred to the street] {number} by {actor}: {note}",
    },
    "street.sent_back": {
        "zh": "【街道退回】工单 {number} 已由{actor}退回社区办理。街道意见：{note}",
        "en": "[Sent back by the street] Ticket {number} was returned to the community by "
        "{actor}. Instruction: {note}",
    },
    "push.street_referred": {
        "zh": "您反映的问题（工单 {number}，{category}）社区已上报街道协调处理，"
        "有进展会第一时间告诉您。",
        "en": "Your report {number} ({category}) has been referred by the community to the "
        "street office; we will tell you as soon as there is news.",
    },
    "push.city_forwarded": {
        "zh": "您反映的问题（工单 {number}，{category}）已转交12345市民服务热线办理，"
        "12345工单号 {order}。有答复会在这里告诉您。",
        "en": "Your report {number} ({category}) has been handed to the city's 12345 hotline "
        "(work order {order}). We will tell you here when they answer.",
    },
    "push.city_reply": {
        "zh": "12345市民服务热线对您的工单 {number} 答复：{note}",
        "en": "The 12345 hotline answered on your report {number}: {note}",
    },
    "push.city_resolved": {
        "zh": "12345市民服务热线已办结您的工单 {number}（{category}）：{note}\n请对处理结果评价：",
        "en": "The 12345 hotline has resolved your report {number} ({category}): {note}\n"
        "Please rate the result:",
    },
    "worker.city_update": {
        "zh": "【12345】工单 {number}：{note}",
        "en": "[12345] Ticket {number}: {note}",
    },
    "worker.street_only": {
        "zh": "“{command}”是街道工作人员的指令；需要街道协调请用“上报街道”或联系社区工作人员。",
        "en": "'{command}' is for street office staff; ask community staff to refer the ticket "
        "to the street.",
    },
    "worker.not_with_street": {
        "zh": "工单 {number} 不在街道（当前状态：{status}），不能{command}。",
        "en": "Ticket {number} is not with the street (status: {status}); cannot {command}.",
    },
    "worker.sent_back_ok": {
        "zh": "已将工单 {number} 退回社区，已通知{count}人。街道意见：{note}",
        "en": "Ticket {number} was sent back to the community ({count} told). Instruction: {note}",
    },
    "worker.forward_in_console": {
        "zh": "工单 {number} 转12345需要在管理后台的工单页点“转12345”完成：要确认居民是否同意"
        "提供联系方式，并核对转交内容。也可以先回复“退回 {number} 意见”退回社区。",
        "en": "To hand ticket {number} to 12345, use '转12345' on the ticket's console page: the "
        "resident's consent to share their contact must be confirmed there.",
    },
    "worker.street_number": {
        "zh": "请带上工单号，例如：{command} MH-20261122-0001 请社区先联系物业到场处理",
        "en": "Please include the ticket number, e.g. {command} MH-20261122-0001 <instruction>",
    },
    "worker.street_help": {
        "zh": "街道指令：\n退回 工单号 街道意见（退回社区办理）\n"
        "转12345 工单号（在管理后台确认后转交）",
        "en": "Street commands:\nsend_back <ticket> <instruction> (back to the community)\n"
        "forward_city <ticket> (confirmed in the console)",
    },
}
