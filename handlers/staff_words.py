"""Words staff read in the console (pure): statuses in the office's voice, event and channel
names, and a location written the way people write it ("2幢3单元502室").

The resident-facing texts (``handlers.i18n.STATUS_TEXT``) speak to the resident ("等待您评价");
staff read the same statuses as the state of their work.
"""

from __future__ import annotations

from handlers.flows import FLOWS

STAFF_STATUS = {
    "submitted": "待派单",
    "assigned": "已派单，待接单",
    "accepted": "已接单",
    "in_progress": "处理中",
    "resolved": "已办结，待居民评价",
    "closed": "已关闭",
    "transferred": "已转派，待接单",
    "escalated": "已上报，待上级处理",
    "reopened": "居民不满意，已重开",
    "cancelled": "已撤销",
    "merged": "已合并到其他工单",
}
# timeline entries beyond the moves the ticket desk names itself
MORE_EVENTS = {
    "handoff": "交部门主办",
    "cohandle": "交部门协办",
    "department_reply": "部门回复",
    "overdue": "超时",
    "remind": "超时提醒",
    "escalation_failed": "上报失败（无人可报）",
    "supplement": "居民补充",
    "follow": "其他居民关注",
    "merge_in": "并入其他工单",
}
CHANNELS = {
    "web": "网页",
    "wechat": "微信公众号",
    "wecom": "企业微信",
    "telegram": "Telegram",
    "cli": "命令行",
    "open311": "Open311",
}


def staff_status(status: str) -> str:
    return STAFF_STATUS.get(status, status)


def channel_label(channel: str) -> str:
    return CHANNELS.get(channel, channel or "—")


def _with(value: str, suffix: str) -> str:
    value = value.strip()
    if not value:
        return ""
    return value if value.endswith(suffix) or not value[-1].isdigit() else value + suffix


def place(building: str, unit: str = "", room: str = "") -> str:
    """``2幢`` ``3`` ``502`` → ``2幢3单元502室``; words already there are kept."""
    return f"{building.strip()}{_with(unit, '单元')}{_with(room, '室')}"


INTENTS = {
    "affirm": "肯定（是的/对）",
    "deny": "否定（不是/不用）",
    "cancel": "取消",
    "greet": "问候",
    "thanks": "感谢",
    "help": "求助（怎么用）",
    "human_agent": "转人工",
    "inform": "补充信息（回答提问）",
    "out_of_scope": "无关内容",
    "query_status": "查询进度",
    "rate": "评价",
}


def intent_label(intent: str) -> str:
    """An intent's Chinese name: a report flow's category label, or the table above; an
    intent added in the console without a name keeps its id."""
    flow = FLOWS.get(intent)
    if flow is not None:
        return f"报事：{flow.label['zh']}"
    return INTENTS.get(intent, intent)
