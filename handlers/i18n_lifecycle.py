"""Texts of the ticket lifecycle (SLA, duplicates, departments, follow-up), merged into
``handlers.i18n`` (kept apart so the main catalogue stays easy to merge)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    # --- residents: duplicates and following ------------------------------------------------
    "dup.offer": {
        "zh": "已有相同问题在处理中（工单 {number}，{status}），为您关注进度？",
        "en": "The same problem is already being handled (ticket {number}, {status}). "
        "Follow its progress instead?",
    },
    "dup.offer_own": {
        "zh": "您已经报过相同的问题（工单 {number}，{status}）。要把这次的内容补充到该工单吗？",
        "en": "You already reported this (ticket {number}, {status}). Add this to that ticket?",
    },
    "dup.button.follow": {"zh": "关注进度", "en": "Follow it"},
    "dup.button.add": {"zh": "补充到该工单", "en": "Add to it"},
    "dup.button.new": {"zh": "仍要新报", "en": "Report anyway"},
    "dup.followed": {
        "zh": "已为您关注工单 {number}（{status}），处理进展会在这里通知您。",
        "en": "You now follow ticket {number} ({status}); updates will arrive here.",
    },
    "dup.already_following": {
        "zh": "您已在关注工单 {number}（{status}），有进展会通知您。",
        "en": "You already follow ticket {number} ({status}); we'll keep you posted.",
    },
    "dup.gone": {
        "zh": "工单 {number} 刚刚已不在处理中，已为您新建报事：",
        "en": "Ticket {number} is no longer open, so we filed your report as a new one:",
    },
    "status.followed_mark": {"zh": "（关注）", "en": " (following)"},
    # --- residents: adding to an open ticket ------------------------------------------------
    "supplement.ask": {
        "zh": "请发送要补充到工单 {number} 的文字或照片：",
        "en": "Send the text or photos to add to ticket {number}:",
    },
    "supplement.choose": {
        "zh": "要把内容补充到哪个工单？",
        "en": "Which ticket should this be added to?",
    },
    "supplement.photo_choice": {
        "zh": "收到照片。是补充到您正在处理中的工单，还是新报一件事？",
        "en": "Photo received. Add it to one of your open tickets, or report something new?",
    },
    "supplement.button": {"zh": "补充到 {number}", "en": "Add to {number}"},
    "supplement.button.status": {"zh": "补充 {number}", "en": "Add to {number}"},
    "supplement.button.more": {"zh": "补充说明", "en": "Add details"},
    "button.new_report": {"zh": "新报事", "en": "New report"},
    "supplement.done": {
        "zh": "已补充到工单 {number}，已告知{who}。",
        "en": "Added to ticket {number}; {who} has been told.",
    },
    "supplement.closed": {
        "zh": "工单 {number} 已不在处理中（{status}），无法补充。如问题仍在，请直接新报事。",
        "en": "Ticket {number} is no longer open ({status}). If the problem persists, please "
        "report it again.",
    },
    "supplement.not_open": {
        "zh": "工单 {number} 不在您进行中的工单里，无法补充。如问题仍在，请直接新报事。",
        "en": "Ticket {number} is not one of your open tickets. If the problem persists, "
        "please report it again.",
    },
    "supplement.none": {
        "zh": "您目前没有进行中的工单可以补充。遇到新问题可以直接告诉我。",
        "en": "You have no open ticket to add to. Tell me about any new problem.",
    },
    "supplement.who.worker": {"zh": "网格员{name}", "en": "grid worker {name}"},
    "supplement.who.community": {"zh": "社区", "en": "the community"},
    # --- residents: pushed updates ------------------------------------------------------------
    "push.escalated": {
        "zh": "您反映的问题（工单 {number}）尚未被及时接单，已上报{who}督办，"
        "会尽快安排人员联系您。",
        "en": "Your report {number} was not picked up in time and has been escalated to {who}; "
        "someone will contact you soon.",
    },
    "push.handoff": {
        "zh": "工单 {number} 已移交{department}处理，网格员{worker}会继续跟进直到办结。",
        "en": "Ticket {number} has been handed to {department}; grid worker {worker} keeps "
        "following it until it is resolved.",
    },
    "push.cohandle": {
        "zh": "工单 {number} 已邀请{department}协助处理，网格员{worker}继续负责。",
        "en": "{department} has been asked to help with ticket {number}; grid worker {worker} "
        "remains in charge.",
    },
    "push.department_reply": {
        "zh": "工单 {number} {department}回复：{note}",
        "en": "Ticket {number}, {department} replies: {note}",
    },
    "push.department_done": {
        "zh": "工单 {number} {department}反馈已处理完毕：{note}。网格员核实后会告诉您结果。",
        "en": "Ticket {number}: {department} reports the work done: {note}. The grid worker will "
        "check and confirm.",
    },
    "push.merged": {
        "zh": "您反映的问题与工单 {target} 是同一问题，已合并处理，后续进展会继续在这里通知您。",
        "en": "Your report is the same problem as ticket {target}; they are handled together and "
        "you'll keep getting updates here.",
    },
    "push.closed_unrated": {
        "zh": "工单 {number} 办结后{days}未收到您的评价，已自动关闭。"
        "如问题仍未解决，可以随时再次报事。",
        "en": "Ticket {number} was closed without a rating after {days}. If the problem is back, "
        "just report it again.",
    },
    "push.closed_unrated.follower": {
        "zh": "您关注的工单 {number} 已办结关闭。",
        "en": "Ticket {number}, which you follow, is resolved and closed.",
    },
    "push.resolved.follower": {
        "zh": "您关注的问题（工单 {number}）已办结：{note}",
        "en": "Ticket {number}, which you follow, is resolved: {note}",
    },
    "push.note": {
        "zh": "工单 {number} 社区留言：{note}",
        "en": "Ticket {number}, a note from the community: {note}",
    },
    "push.closed": {
        "zh": "工单 {number} 已由社区关闭：{note}",
        "en": "Ticket {number} was closed by the community: {note}",
    },
    "push.cancelled": {
        "zh": "工单 {number} 已撤销：{note}",
        "en": "Ticket {number} was withdrawn: {note}",
    },
    "push.reopened.follower": {
        "zh": "您关注的工单 {number} 已重新打开，继续处理中。",
        "en": "Ticket {number}, which you follow, has been reopened.",
    },
    "rate.reopened_escalated": {
        "zh": "很抱歉没能让您满意。工单 {number} 已重新打开，并已上报{who}督办跟进。"
        "可以点“补充说明”告诉我们哪里还没解决。",
        "en": "Sorry we didn't get it right. Ticket {number} is reopened and escalated to {who}. "
        "Tap 'Add details' to tell us what is still wrong.",
    },
    "who.grid_leader": {"zh": "网格长{name}", "en": "grid leader {name}"},
    "who.community_staff": {"zh": "社区工作人员", "en": "community staff"},
    # --- workers: SLA ---------------------------------------------------------------------------
    "worker.remind.accept": {
        "zh": "【接单提醒】工单 {number}（{category}{urgent}）还剩约{left}到接单时限，"
        "请尽快接单并联系居民。",
        "en": "[Reminder] Ticket {number} ({category}{urgent}): about {left} left to accept it. "
        "Please accept and call the resident.",
    },
    "worker.remind.resolve": {
        "zh": "【办结提醒】工单 {number}（{category}）还剩约{left}到办结时限，请抓紧处理。",
        "en": "[Reminder] Ticket {number} ({category}): about {left} left to resolve it.",
    },
    "worker.escalated": {
        "zh": "【超时上报】工单 {number} 超过{target}未接单，已上报{who}。您仍可接单处理。",
        "en": "[Escalated] Ticket {number} was not accepted within {target} and has been "
        "escalated to {who}. You can still accept it.",
    },
    "worker.escalated.reopened": {
        "zh": "【工单重开】{number} 居民对处理结果不满意（{score}星），已上报{who}督办，"
        "请再次跟进并联系居民。",
        "en": "[Reopened] {number}: the resident is not satisfied ({score}/5); escalated to {who}. "
        "Please follow up and contact them.",
    },
    "supervisor.escalated": {
        "zh": "【超时上报】{number} 超过{target}无人接单（原派：{worker}），"
        "请督办或直接接单、转派。",
        "en": "[Escalated] {number} was not accepted within {target} (assigned to {worker}). "
        "Please chase it up, accept or transfer it.",
    },
    "supervisor.reopened": {
        "zh": "【不满意重开】{number} 居民对处理结果不满意（{score}星），上报您督办。"
        "原处理人：{worker}。",
        "en": "[Reopened] {number}: the resident is not satisfied ({score}/5). "
        "Handled by {worker}; please follow up.",
    },
    "supervisor.manual": {
        "zh": "【上报督办】{number} 由{actor}上报：{note}",
        "en": "[Escalated] {number} by {actor}: {note}",
    },
    "worker.overdue": {
        "zh": "【超期督办】工单 {number} 已超过办结时限（{target}），已上报{who}督办，请尽快办结。",
        "en": "[Overdue] Ticket {number} is past its resolution deadline ({target}); {who} has "
        "been told. Please resolve it soon.",
    },
    "supervisor.overdue": {
        "zh": "【超期督办】{number} 超过办结时限{target}仍未办结"
        "（当前：{status}，负责人：{worker}）。",
        "en": "[Overdue] {number} is past its {target} resolution deadline (now: {status}, "
        "handled by {worker}).",
    },
    "worker.closed_unrated": {
        "zh": "工单 {number} 居民{days}未评价，已自动关闭。",
        "en": "Ticket {number} was closed unrated after {days}.",
    },
    # --- workers: follow-up, duplicates, merge ------------------------------------------------
    "worker.follow": {
        "zh": "工单 {number} 又有居民反映了同一问题（共{count}位居民关注）。",
        "en": "Another resident reported the same problem as {number} ({count} following).",
    },
    "worker.supplement": {
        "zh": "【居民补充】工单 {number}：{note}{photos}",
        "en": "[Resident adds] Ticket {number}: {note}{photos}",
    },
    "worker.supplement.photos": {"zh": "（附{count}张照片）", "en": " ({count} photo(s))"},
    "task.possible_duplicate": {
        "zh": "（可能与 {number} 为同一问题，居民选择仍新报）",
        "en": "(maybe the same problem as {number}; the resident reported it anyway)",
    },
    "worker.merged_away": {
        "zh": "工单 {source} 已并入 {target}，无需再单独处理。",
        "en": "Ticket {source} was merged into {target}; no need to handle it separately.",
    },
    "worker.merged_in": {
        "zh": "工单 {source} 已并入您处理的 {target}（同一问题，共{count}位居民关注）。",
        "en": "Ticket {source} was merged into your {target} (same problem, {count} following).",
    },
    "worker.merge_ok": {
        "zh": "已将工单 {source} 并入 {target}，相关居民会继续收到进展。",
        "en": "Merged {source} into {target}; its residents keep getting updates.",
    },
    "worker.merge_usage": {
        "zh": "请写明两个工单号：合并 被合并的工单号 保留的工单号。",
        "en": "Name both tickets: merge <ticket to merge> <ticket to keep>.",
    },
    "worker.notice_not_staff": {
        "zh": "只有网格长或社区工作人员可以发布通知。需要发通知，请联系网格长或社区。",
        "en": "Only grid leaders and community staff can publish notices; ask them to.",
    },
    "worker.not_staff": {
        "zh": "只有网格长或社区工作人员可以合并工单。",
        "en": "Only grid leaders and community staff can merge tickets.",
    },
    "worker.merge_same": {
        "zh": "不能把工单合并到它自己。",
        "en": "A ticket cannot be merged into itself.",
    },
    "worker.note": {
        "zh": "【社区备注】工单 {number}：{note}",
        "en": "[Note] Ticket {number}: {note}",
    },
    "worker.supervised": {"zh": "需要您督办的工单：", "en": "Escalated to you:"},
    # --- workers: departments -----------------------------------------------------------------
    "worker.button.handoff": {"zh": "移交部门", "en": "Hand off"},
    "worker.handoff_ok": {
        "zh": "已将工单 {number} 移交{department}，对方的回复会转告您和居民；"
        "您仍负责跟进直到办结。",
        "en": "Ticket {number} handed to {department}; their replies reach you and the resident. "
        "You stay in charge until it is resolved.",
    },
    "worker.cohandle_ok": {
        "zh": "已邀请{department}协办工单 {number}，对方的回复会转告您和居民。",
        "en": "{department} asked to help with {number}; their replies reach you and the resident.",
    },
    "worker.department_offline": {
        "zh": "（{department}暂未登记联系渠道，请电话联系{phone}）",
        "en": " ({department} has no registered channel; please call {phone})",
    },
    "worker.ask_department": {
        "zh": "请选择把工单 {number} {action}给哪个部门：",
        "en": "Which department should {number} go to ({action})?",
    },
    "worker.department_unknown": {
        "zh": "没有找到部门“{target}”。可选：{options}",
        "en": "No department called '{target}'. Options: {options}",
    },
    "worker.department_none": {
        "zh": "本社区还没有登记可移交的部门，请联系社区工作人员。",
        "en": "No departments are registered for this community; please ask community staff.",
    },
    "worker.department_reply": {
        "zh": "【部门回复】工单 {number} {department}：{note}",
        "en": "[Department] Ticket {number}, {department}: {note}",
    },
    "worker.department_done": {
        "zh": "【部门反馈完成】工单 {number} {department}：{note}\n"
        "请核实后回复“办结 {number} 结果”。",
        "en": "[Department done] Ticket {number}, {department}: {note}\nPlease check, then send "
        "'resolve {number} <result>'.",
    },
    # --- departments ----------------------------------------------------------------------------
    "dept.card": {
        "zh": "【移交工单】{number} {category}{urgent}\n地点：{location}\n问题：{description}"
        "{photos}\n移交人：{worker}（{grid}）{note}\n处理后请回复“回复 {number} 处理情况”，"
        "完成后回复“完成 {number} 结果”。",
        "en": "[Handed to you] {number} {category}{urgent}\nWhere: {location}\nProblem: "
        "{description}{photos}\nFrom: {worker} ({grid}){note}\nReply 'reply {number} <status>' "
        "as you go and 'done {number} <result>' when finished.",
    },
    "dept.card.cohandle": {
        "zh": "【协办请求】{number} {category}{urgent}\n地点：{location}\n问题：{description}"
        "{photos}\n负责网格员：{worker}（{grid}）{note}\n请协助处理，回复“回复 {number} 处理情况”，"
        "完成后回复“完成 {number} 结果”。",
        "en": "[Help requested] {number} {category}{urgent}\nWhere: {location}\nProblem: "
        "{description}{photos}\nGrid worker in charge: {worker} ({grid}){note}\nReply "
        "'reply {number} <status>' and 'done {number} <result>'.",
    },
    "dept.card.note": {"zh": "\n说明：{note}", "en": "\nNote: {note}"},
    "dept.card.photos": {"zh": "\n照片：{count}张", "en": "\nPhotos: {count}"},
    "dept.button.reply": {"zh": "回复进展", "en": "Reply"},
    "dept.button.done": {"zh": "处理完毕", "en": "Done"},
    "dept.reply_ok": {
        "zh": "已记录并转告网格员和居民（{number}）。",
        "en": "Recorded and passed on to the grid worker and the resident ({number}).",
    },
    "dept.done_ok": {
        "zh": "已记录完成情况（{number}），网格员核实后办结。谢谢！",
        "en": "Recorded as done ({number}); the grid worker will check and close it. Thank you!",
    },
    "dept.help": {
        "zh": "部门指令：\n回复 [工单号] 处理情况\n完成 [工单号] 处理结果\n"
        "任务（查看移交给本部门的工单）\n只有一个工单时可省略工单号。",
        "en": "Department commands:\nreply [ticket] status\ndone [ticket] result\ntasks (tickets "
        "handed to you)\nThe ticket number may be left out when there is only one.",
    },
    "dept.no_tasks": {
        "zh": "目前没有移交给{department}的工单。",
        "en": "No tickets are with {department} right now.",
    },
    "dept.tasks": {"zh": "移交给{department}的工单：", "en": "Tickets with {department}:"},
    "dept.which": {
        "zh": "{department}有{count}个工单在处理，请写明工单号，如“回复 {number} 处理情况”。",
        "en": "{department} has {count} tickets; add the number, e.g. 'reply {number} <status>'.",
    },
    "dept.not_found": {
        "zh": "没有找到移交给{department}的工单 {number}。",
        "en": "Ticket {number} is not with {department}.",
    },
    "dept.ask_note": {
        "zh": "请回复工单 {number} 的{action}：",
        "en": "Reply with the {action} for {number}:",
    },
    "dept.action.reply": {"zh": "处理情况", "en": "status"},
    "dept.action.done": {"zh": "处理结果", "en": "result"},
    "dept.ended": {
        "zh": "工单 {number} 已{status}，无需再回复。",
        "en": "Ticket {number} is already {status}; no reply needed.",
    },
}
