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
    # issue 14: people around a building, reports by phone or at the counter
    "desk_report": "电话/窗口受理",
    "helper_added": "添加楼栋长/志愿者",
    "helper_fixed": "楼栋长确认已恢复",
    "helper_not_fixed": "楼栋长反馈未恢复",
    "helper_here": "楼栋长已到场",
    "helper_cannot": "楼栋长去不了",
}
CHANNELS = {
    "web": "网页",
    "wechat": "微信公众号",
    "wecom": "企业微信",
    "telegram": "Telegram",
    "cli": "命令行",
    "open311": "Open311",
    "sms": "短信（电话/窗口登记）",
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


ROLES = {
    "admin": "管理员",
    "community_staff": "社区工作人员",
    "grid_leader": "网格长",
    "grid_worker": "网格员",
}
AUDIT_ACTIONS = {
    "login": "登录",
    "login.failed": "登录失败",
    "login.locked": "账号被锁定",
    "logout": "退出",
    "user.create": "创建账号",
    "user.update": "修改账号",
    "token.create": "签发 API 令牌",
    "ticket.reassign": "转派工单",
    "ticket.recategorize": "更改工单类别",
    "ticket.note": "工单备注",
    "ticket.close": "关闭工单",
    "ticket.cancel": "撤销工单",
    "ticket.merge": "合并工单",
    "ticket.escalate": "上报工单",
    "ticket.department": "工单交部门",
    "handoff.take": "接入人工会话",
    "handoff.ticket": "人工会话转工单",
    "handoff.release": "结束人工会话",
    "review.label": "审核：加入例句",
    "review.dismiss": "审核：忽略",
    "nlu.seed": "载入初始训练数据",
    "nlu.import": "导入训练数据",
    "nlu.train": "训练模型",
    "nlu.activate": "启用模型",
    "nlu.activate.forced": "强制启用模型",
    "nlu.rollback": "回滚模型",
    "nlu.intent.create": "新建意图",
    "nlu.intent.update": "修改意图",
    "nlu.intent.delete": "删除意图",
    "nlu.example.add": "添加例句",
    "nlu.example.update": "修改例句",
    "nlu.example.delete": "删除例句",
    "registry.building.import": "导入楼幢",
    "registry.worker.import": "导入网格员",
    "registry.worker.update": "修改网格员",
}
AUDIT_TARGETS = {
    "ticket": "工单",
    "handoff": "人工会话",
    "user": "账号",
    "intent": "意图",
    "example": "例句",
    "model": "模型",
    "job": "训练任务",
    "worker": "网格员",
    "building": "楼幢",
    "community": "社区",
    "review": "审核项",
}
AUDIT_FIELDS = {
    "status": "状态",
    "category": "类别",
    "assignee_id": "承办网格员编号",
    "role": "角色",
    "active": "启用",
    "on_duty": "在岗",
    "name": "名称",
    "display_name": "显示名",
    "community_id": "社区编号",
    "grid_id": "网格编号",
    "version": "模型版本",
    "intent": "意图",
    "text": "例句",
    "reason": "原因",
    "phone": "电话",
}


def audit_action(action: str) -> str:
    """An audit action in words; an unknown one by its family (``ticket.x`` → 工单操作)."""
    if action in AUDIT_ACTIONS:
        return AUDIT_ACTIONS[action]
    family = action.split(".", 1)[0]
    return f"{AUDIT_TARGETS.get(family, family)}操作" if family in AUDIT_TARGETS else action


def _value(key: str, value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if key == "status" and isinstance(value, str):
        return staff_status(value)
    if key == "role" and isinstance(value, str):
        return ROLES.get(value, value)
    if key == "category" and isinstance(value, str):
        flow = next((f for f in FLOWS.values() if f.category == value), None)
        return flow.label["zh"] if flow else value
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def audit_changes(before: dict[str, object] | None, after: dict[str, object] | None) -> list[str]:
    """What changed, one line per field: "状态：待接单 → 已关闭" (unchanged fields left out)."""
    before, after = before or {}, after or {}
    lines = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        if key in before and key in after and old == new:
            continue
        label = AUDIT_FIELDS.get(key, key)
        if key not in before:
            lines.append(f"{label}：{_value(key, new)}")
        elif key not in after:
            lines.append(f"{label}：{_value(key, old)}（原）")
        else:
            lines.append(f"{label}：{_value(key, old)} → {_value(key, new)}")
    return lines
