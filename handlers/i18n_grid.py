"""Texts of the whole grid (issue 14): call-backs, withdrawals, notices, the street level,
patrols and helpers; merged into ``handlers.i18n`` (kept apart to ease merging)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    # --- call-back promise ------------------------------------------------------------------
    "promise.callback": {
        "zh": "网格员会在{time}前（{span}内）给您回电，请留意来电。",
        "en": "the grid worker will call you back by {time} (within {span}).",
    },
    "worker.button.called": {"zh": "已回电", "en": "Called back"},
    "worker.button.unreachable": {"zh": "联系不上", "en": "No answer"},
    "worker.called_ok": {
        "zh": "已记录：{time} 已回电居民（工单 {number}）。",
        "en": "Recorded: called the resident back at {time} (ticket {number}).",
    },
    "worker.unreachable_ok": {
        "zh": "已记录：{time} 回电未接通（工单 {number}），已告知居民留意来电。",
        "en": "Recorded: no answer at {time} (ticket {number}); the resident has been told.",
    },
    "push.callback_unreachable": {
        "zh": "网格员{worker}于{time}给您回电未接通（工单 {number}）。请留意来电，"
        "或直接在这里回复补充情况。",
        "en": "Grid worker {worker} called you at {time} but could not reach you (ticket "
        "{number}). Please watch for the call, or reply here with more details.",
    },
    "supervisor.callback_overdue": {
        "zh": "【回电督办】{number} 超过{target}仍未回电居民（负责人：{worker}，电话：{phone}）。",
        "en": "[Call-back overdue] {number}: the resident has not been called back within "
        "{target} (handled by {worker}, phone {phone}).",
    },
    "worker.callback_overdue": {
        "zh": "【回电督办】工单 {number} 已超过{target}未回电居民，已上报{who}。"
        "请尽快回电并点“已回电”。",
        "en": "[Call-back overdue] Ticket {number}: no call-back within {target}; {who} has been "
        "told. Please call now and tap 'Called back'.",
    },
    "worker.help": {  # the one list of worker commands (street staff get theirs appended)
        "zh": "网格员指令：\n接单 [工单号]\n已回电 [工单号]（给居民回过电话后）\n"
        "联系不上 [工单号]（回电未接通）\n进展 [工单号] 说明\n办结 [工单号] 处理结果\n"
        "转派 [工单号] 网格名或网格员姓名\n移交 [工单号] 部门（如城管、交管、物业）\n"
        "协办 [工单号] 部门\n联系居民 [工单号]\n请楼栋长确认 / 请楼栋长协助 [工单号]\n"
        "随手拍 楼栋 问题（巡查发现的问题，可带照片）\n"
        "合并 被合并的工单号 保留的工单号（网格长、社区）\n任务（查看我的待办）\n"
        "只有一个待办时可省略工单号；等待补充说明时回复“取消”可放弃该指令。",
        "en": "Worker commands:\naccept [ticket]\ncalled [ticket] (after calling the resident "
        "back)\nunreachable [ticket] (the call was not answered)\nprogress [ticket] note\n"
        "resolve [ticket] result\ntransfer [ticket] grid or worker name\nhandoff [ticket] "
        "department\ncohandle [ticket] department\ncontact [ticket]\nhelper_verify / "
        "helper_assist [ticket]\npatrol <building> <problem> (what you saw on patrol; a photo "
        "welcome)\nmerge <ticket to merge> <ticket to keep> (leaders, staff)\ntasks (list my "
        "open tasks)\nThe ticket number may be left out when you have only one open task; "
        "send 'cancel' to drop a command waiting for its note.",
    },
    "task.callback": {
        "zh": "\n请于 {deadline} 前回电居民",
        "en": "\nCall the resident back by {deadline}",
    },
    # --- withdrawing a report -----------------------------------------------------------------
    "withdraw.done": {
        "zh": "已撤销工单 {number}（{category}）。如问题仍在，随时可以重新报事。",
        "en": "Ticket {number} ({category}) is withdrawn. Report again any time if the problem "
        "is still there.",
    },
    "withdraw.not_open": {
        "zh": "工单 {number} 当前状态为“{status}”，不能撤销。",
        "en": "Ticket {number} is {status}; it can no longer be withdrawn.",
    },
    "withdraw.not_found": {
        "zh": "没有找到您的工单 {number}。回复“我的工单”查看可撤销的工单。",
        "en": "No report {number} of yours. Send 'my reports' to see which can be withdrawn.",
    },
    "withdraw.none": {
        "zh": "您目前没有可以撤销的工单。",
        "en": "You have no report that can be withdrawn.",
    },
    "withdraw.choose": {
        "zh": "要撤销哪个工单？",
        "en": "Which report do you want to withdraw?",
    },
    "withdraw.confirm": {
        "zh": "确定撤销工单 {number}（{category}，{location}）吗？撤销后网格员将不再处理。",
        "en": "Withdraw ticket {number} ({category}, {location})? The grid worker will stop "
        "working on it.",
    },
    "withdraw.button.yes": {"zh": "确定撤销", "en": "Withdraw"},
    "withdraw.button.no": {"zh": "不撤销", "en": "Keep it"},
    "withdraw.kept": {
        "zh": "好的，工单 {number} 继续处理。",
        "en": "OK, ticket {number} stays open.",
    },
    "worker.withdrawn": {
        "zh": "【居民撤销】工单 {number}（{category}，{location}）已被居民撤销，"
        "无需再处理。{reason}",
        "en": "[Withdrawn] The resident withdrew ticket {number} ({category}, {location}); "
        "no further work needed. {reason}",
    },
    "push.withdrawn.follower": {
        "zh": "您关注的工单 {number}（{category}）已被报事居民撤销。"
        "如您遇到的问题仍在，请直接告诉我，我会为您重新报事。",
        "en": "Ticket {number} ({category}) that you follow was withdrawn by the resident who "
        "reported it. If the problem is still there for you, just tell me and I'll report it.",
    },
    "withdraw.reason": {"zh": "原因：{reason}", "en": "Reason: {reason}"},
    # --- notices ------------------------------------------------------------------------------
    "notice.title": {"zh": "社区通知：{label}", "en": "Community notice: {label}"},
    "notice.push": {
        "zh": "【社区通知·{label}】{line}\n（回复“关闭通知”可不再接收通知）",
        "en": "[Community notice · {label}] {line}\n(Reply 'notices off' to stop notices.)",
    },
    "notice.opt_out_hint": {
        "zh": "回复“关闭通知”可不再接收",
        "en": "Reply 'notices off' to stop notices",
    },
    "notice.list": {
        "zh": "目前有以下通知：\n{lines}\n如遇到通知以外的问题，直接告诉我即可报事。",
        "en": "Current notices:\n{lines}\nFor anything else, just tell me and I'll report it.",
    },
    "notice.none": {
        "zh": "目前您所在的楼栋和小区没有停水、停电等通知。如果遇到问题，直接告诉我即可报事。",
        "en": "There are no outage notices for your building or community right now. If "
        "something is wrong, just tell me and I'll report it.",
    },
    "notice.list_at": {
        "zh": "{place}目前有以下通知：\n{lines}\n如遇到通知以外的问题，直接告诉我即可报事。",
        "en": "Current notices for {place}:\n{lines}\nFor anything else, just tell me and I'll "
        "report it.",
    },
    "notice.none_at": {
        "zh": "目前{place}及所在小区没有停水、停电等通知。如果遇到问题，直接告诉我即可报事。",
        "en": "There are no outage notices for {place} or its community right now. If something "
        "is wrong, just tell me and I'll report it.",
    },
    "notice.matched": {
        "zh": "这可能是已通知的计划安排：\n{lines}\n"
        "如果不是这个原因，或超出通知时间仍未恢复，请点“仍要报事”。",
        "en": "This may be the announced work:\n{lines}\nIf it is something else, or it lasts "
        "past the announced time, tap 'Report anyway'.",
    },
    "notice.button.report": {"zh": "仍要报事", "en": "Report anyway"},
    "notice.button.ok": {"zh": "知道了", "en": "OK"},
    "notice.ok": {
        "zh": "好的。通知时间过后仍未恢复，随时告诉我。",
        "en": "OK. If it is not back after the announced time, tell me any time.",
    },
    "notice.off": {
        "zh": "已为您关闭社区通知。回复“开启通知”可重新接收。",
        "en": "Community notices are off. Reply 'notices on' to get them again.",
    },
    "notice.on": {
        "zh": "已为您开启社区通知，停水、停电等通知会发到这里。",
        "en": "Community notices are on; outage notices will arrive here.",
    },
    "staff.notice_usage": {
        "zh": "发布通知：通知 楼栋/网格/社区 内容，例如“通知 5幢 明天9:00-17:00停水，请提前储水”。",
        "en": "Publish a notice: notice <building/grid/community> <text>, e.g. 'notice 5幢 "
        "tomorrow 9:00-17:00 no water'.",
    },
    "staff.notice_ok": {
        "zh": "已发布通知 #{id}（{label}，{place}）：发送给 {recipients} 位居民"
        "{unreachable}{opted_out}。",
        "en": "Notice #{id} ({label}, {place}) published to {recipients} residents"
        "{unreachable}{opted_out}.",
    },
    "staff.notice_unreachable": {"zh": "，{count} 位无法送达", "en": ", {count} unreachable"},
    "staff.notice_opted_out": {"zh": "，{count} 位已关闭通知", "en": ", {count} opted out"},
    "staff.notice_error": {"zh": "未能发布通知：{reason}", "en": "Notice not published: {reason}"},
    "staff.notice_place": {
        "zh": "没有找到“{place}”。请写楼栋（如5幢）、网格名或“全社区”。",
        "en": "No place '{place}'. Name a building (e.g. 5幢), a grid or '全社区'.",
    },
    # --- hotspots -----------------------------------------------------------------------------
    "hotspot.alert": {
        "zh": "【热点预警】{place} {hours}小时内已有{count}次居民反映“{category}”：{numbers}。"
        "可能是同一问题，请统筹处理（可在后台“热点”页一并回复）。",
        "en": "[Hotspot] {place}: {count} reports of '{category}' within {hours} h: {numbers}. "
        "Probably one problem; please handle them together (console: Hotspots).",
    },
    # --- patrol (随手拍) -------------------------------------------------------------------------
    "patrol.usage": {
        "zh": "随手拍用法：随手拍 楼栋或地点 看到的问题，例如“随手拍 5幢 楼道堆放杂物”，可附照片。",
        "en": "Patrol report: patrol <building or place> <what you saw>, e.g. 'patrol 5幢 "
        "clutter in the stairwell'; a photo may come along.",
    },
    "patrol.done": {
        "zh": "已登记随手拍 {number}（{category}，{place}）{photos}，已派给您本人并接单。"
        "处理后回复“办结 {number} 结果”。",
        "en": "Patrol report {number} ({category}, {place}){photos} is filed, assigned to you and "
        "accepted. Send 'resolve {number} <result>' when done.",
    },
    "patrol.photos": {"zh": "，附照片{count}张", "en": ", {count} photo(s)"},
}
