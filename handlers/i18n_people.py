"""Texts of the people around a building and of residents reached off chat (issue 14, items
4 and 6); merged into ``handlers.i18n`` (kept apart to ease merging)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    # --- helpers asked on a ticket ------------------------------------------------------------
    "helper.ask.verify": {
        "zh": "【请帮忙确认】{role}您好，请帮忙确认 {place} {what}已恢复。\n"
        "工单 {number}（{category}），网格员{worker}已办结：{result}",
        "en": "[Please confirm] Could you check that the {what} at {place} works again?\n"
        "Ticket {number} ({category}), resolved by grid worker {worker}: {result}",
    },
    "helper.ask.assist": {
        "zh": "【请协助】{role}您好，{place}有居民反映：{description}\n"
        "工单 {number}（{category}），网格员{worker}正在处理，"
        "请您就近先去看看、安抚一下居民。{note}",
        "en": "[Please help] A resident at {place} reports: {description}\n"
        "Ticket {number} ({category}). Grid worker {worker} is on it; could you go and have a "
        "look first and reassure them? {note}",
    },
    "helper.button.fixed": {"zh": "已恢复", "en": "Fixed"},
    "helper.button.not_fixed": {"zh": "未恢复", "en": "Not fixed"},
    "helper.button.here": {"zh": "已到场", "en": "I am there"},
    "helper.button.cannot": {"zh": "去不了", "en": "Cannot go"},
    "helper.thanks.fixed": {
        "zh": "谢谢您！已记录：{place} {what}已恢复（工单 {number}）。",
        "en": "Thank you! Recorded: the {what} at {place} works again (ticket {number}).",
    },
    "helper.thanks.not_fixed": {
        "zh": "谢谢您的反馈！工单 {number} 已重新打开，并通知网格员{worker}尽快处理。",
        "en": "Thank you! Ticket {number} is reopened and grid worker {worker} has been told.",
    },
    "helper.thanks.here": {
        "zh": "谢谢您！已告诉网格员{worker}您已到场（工单 {number}）。",
        "en": "Thank you! Grid worker {worker} knows you are there (ticket {number}).",
    },
    "helper.thanks.cannot": {
        "zh": "好的，已告诉网格员{worker}（工单 {number}）。",
        "en": "All right, grid worker {worker} has been told (ticket {number}).",
    },
    "helper.already": {
        "zh": "这件事您已经答复过了（工单 {number}：{answer}），谢谢！",
        "en": "You already answered this (ticket {number}: {answer}). Thank you!",
    },
    "helper.not_yours": {
        "zh": "这条请求不是发给您的，或已失效。",
        "en": "This request was not meant for you, or it is no longer valid.",
    },
    "push.helper_reopened": {
        "zh": "您反映的问题（工单 {number}）经{role}现场查看仍未恢复，已重新打开，"
        "网格员会继续处理。",
        "en": "The {role} checked on site: the problem of ticket {number} is not fixed yet. "
        "It is reopened and the grid worker will continue.",
    },
    "worker.helper.fixed": {
        "zh": "【{role}确认】{name}确认：{place} {what}已恢复（工单 {number}）。",
        "en": "[{role} confirms] {name}: the {what} at {place} works again (ticket {number}).",
    },
    "worker.helper.not_fixed": {
        "zh": "【{role}反馈未恢复】{name}反馈：{place} {what}仍未恢复，工单 {number} 已重新打开，"
        "请尽快处理。",
        "en": "[{role}: not fixed] {name} says the {what} at {place} still does not work; "
        "ticket {number} is reopened, please handle it.",
    },
    "worker.helper.here": {
        "zh": "【{role}已到场】{name}已到 {place} 查看（工单 {number}）。",
        "en": "[{role} on site] {name} is at {place} (ticket {number}).",
    },
    "worker.helper.cannot": {
        "zh": "【{role}】{name}暂时去不了 {place}（工单 {number}）。",
        "en": "[{role}] {name} cannot go to {place} now (ticket {number}).",
    },
    "worker.helper.asked": {
        "zh": "已请{who}帮忙确认 {place} {what}是否恢复（工单 {number}），答复会告诉您。",
        "en": "Asked {who} to confirm the {what} at {place} works again (ticket {number}).",
    },
    "worker.helper.queued": {
        "zh": "已登记：工单 {number} 办结后将请{who}帮忙确认是否恢复。",
        "en": "Noted: once ticket {number} is resolved, {who} will be asked to confirm.",
    },
    "worker.helper.asked_assist": {
        "zh": "已请{who}先到场协助（工单 {number}），答复会告诉您。",
        "en": "Asked {who} to go and help first (ticket {number}).",
    },
    "worker.helper.none": {
        "zh": "{place}还没有登记楼栋长或志愿者（后台“楼栋长与志愿者”页可添加）。",
        "en": "No building head or volunteer is registered for {place} (add them in the console).",
    },
    "worker.helper.unreachable": {
        "zh": "{who}还没有绑定微信或网页，消息发不到，请电话联系：{phones}",
        "en": "{who} has not linked a chat account; please call: {phones}",
    },
    "worker.helper.already": {
        "zh": "已经请过{who}了（工单 {number}），答复会告诉您。",
        "en": "{who} has already been asked (ticket {number}); you will hear the answer.",
    },
    "worker.helper.no_place": {
        "zh": "工单 {number} 没有楼栋，无法找到楼栋长。",
        "en": "Ticket {number} has no building, so there is no building head to ask.",
    },
    # --- "我的网格员" ----------------------------------------------------------------------
    "people.answer": {
        "zh": "{place}的网格负责人：\n{lines}\n{hint}",
        "en": "Who looks after {place}:\n{lines}\n{hint}",
    },
    "people.hint": {
        "zh": "（楼栋长、志愿者的电话只显示部分号码。有事可以直接在这里说，网格员会联系您。）",
        "en": "(Building heads' and volunteers' phones are partly hidden. Tell me here what "
        "happened and the grid worker will contact you.)",
    },
    "people.no_home": {
        "zh": "请告诉我您住哪一幢，例如“3幢的网格员是谁”。",
        "en": "Which building do you live in? For example: “who is the grid worker of 3幢”.",
    },
    "people.none": {
        "zh": "{place}还没有登记网格员。有事可以直接在这里说，或回复“转人工”联系社区。",
        "en": "No grid worker is registered for {place} yet. Tell me here what happened, or "
        "reply “human” to reach the community office.",
    },
    # --- link codes -------------------------------------------------------------------------
    "link.done": {
        "zh": "绑定成功！工单 {numbers} 的进展以后会发到这里，不再发短信。",
        "en": "Linked! Updates on ticket {numbers} will come here instead of by text message.",
    },
    "link.done_none": {
        "zh": "绑定成功！以后您的工单进展会发到这里。",
        "en": "Linked! Updates on your reports will come here.",
    },
    "link.helper_done": {
        "zh": "绑定成功！{name}，您是{place}的{role}，需要您帮忙确认或转告的消息会发到这里。",
        "en": "Linked! {name}, you are the {role} of {place}; requests to confirm or pass on "
        "will come here.",
    },
    "link.phone_asked": {
        "zh": "如果 {phone} 有在电话或窗口登记的工单，绑定码会以短信发到该手机（30分钟内有效）。"
        "收到后在这里发送“绑定 绑定码”即可。",
        "en": "If {phone} has reports taken by phone or at the counter, a code is texted to it "
        "(valid 30 minutes). Then send “bind <code>” here.",
    },
    "link.phone_code": {
        "zh": "您的绑定码 {code}：在“民呼”对话中发送“绑定 {code}”，即可在微信/网页接收工单进展"
        "（30分钟内有效）。如非本人操作，请忽略。",
        "en": "Your code {code}: send “bind {code}” to Minhu to get your ticket updates there "
        "(valid 30 minutes). If this was not you, ignore it.",
    },
    "link.phone_off": {
        "zh": "短信验证暂未开通。请使用电话/窗口登记时回执上的绑定码，或联系社区工作人员。",
        "en": "Text-message checks are not available. Use the code on your receipt, or ask the "
        "community office.",
    },
    "link.bad": {
        "zh": "绑定码不对或已过期。请核对回执或短信上的8位绑定码，或请社区工作人员重新生成。",
        "en": "That code is wrong or expired. Check the 8-digit code on your receipt or text "
        "message, or ask the community office for a new one.",
    },
    # --- notices passed on by building heads ------------------------------------------------
    "notice.pass_on": {
        "zh": "【请转告】{role}您好，以下通知请帮忙转告{place}的居民"
        "（特别是不用微信的老人）：\n{notice}",
        "en": "[Please pass on] Please tell the residents of {place} (especially those without "
        "a phone app) about this notice:\n{notice}",
    },
    # --- tickets staff take by phone or at the counter --------------------------------------
    "desk.receipt": {
        "zh": "您反映的问题已受理，工单号 {number}（{category}），{assignee}。"
        "进展会发到您的手机 {phone}。"
        "在“民呼”公众号或网页对话中发送“绑定 {code}”，即可改在微信/网页接收进展。",
        "en": "Your report is filed as {number} ({category}); {assignee}. Updates go to {phone}. "
        "Send “bind {code}” to Minhu on WeChat or the web chat to get them there instead.",
    },
    "desk.receipt_unlinked": {
        "zh": "您反映的问题已受理，工单号 {number}（{category}），{assignee}。"
        "请记下工单号；在“民呼”公众号或网页对话中发送“绑定 {code}”，即可在微信/网页接收进展，"
        "也可以凭工单号向社区查询。",
        "en": "Your report is filed as {number} ({category}); {assignee}. Keep the number; send "
        "“bind {code}” to Minhu on WeChat or the web chat to get updates there, or ask the "
        "community office with the number.",
    },
    "desk.receipt_linked": {
        "zh": "您在电话/窗口反映的问题已受理，工单号 {number}（{category}），{assignee}。"
        "进展会发到这里。",
        "en": "Your report by phone / at the counter is filed as {number} ({category}); "
        "{assignee}. Updates will come here.",
    },
    "desk.assigned": {"zh": "已派给网格员{name}", "en": "assigned to grid worker {name}"},
    "desk.unassigned": {"zh": "等待派单", "en": "waiting to be assigned"},
}
