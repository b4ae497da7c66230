"""Resident- and worker-facing text: natural Simplified Chinese first, English second."""

from __future__ import annotations

from collections.abc import Mapping

from handlers.i18n_grid import TEXT as _GRID_TEXT
from handlers.i18n_handoff import TEXT as _HANDOFF_TEXT
from handlers.i18n_lifecycle import TEXT as _LIFECYCLE_TEXT
from handlers.i18n_people import TEXT as _PEOPLE_TEXT
from handlers.i18n_street import TEXT as _STREET_TEXT

_TEXT: dict[str, dict[str, str]] = {
    # --- greeting, help, fallbacks ---------------------------------------------------------
    "welcome": {
        "zh": "您好，这里是“民呼”社区报事服务。小区里停车、电梯、噪音、漏水、卫生、邻里纠纷等"
        "问题，直接用一句话告诉我，比如“3幢电梯坏了”，我会派给负责的网格员处理，并把进展告诉您。",
        "en": "Hello, this is Minhu, your community's reporting service. Tell me about a problem "
        "in one sentence, e.g. 'the elevator in building 3 is broken', and I will pass it to the "
        "grid worker in charge and keep you posted.",
    },
    "help": {
        "zh": "使用方法：\n1. 直接描述问题和地点，如“5号楼门口有车堵了消防通道”；\n"
        "2. 按提示补充楼栋、电话或照片，确认后生成工单；\n"
        "3. 网格员接单、处理、办结都会在这里通知您，办结后请为服务打分；\n"
        "回复“进度”查看我的工单，随时回复“取消”可放弃正在填写的报事。",
        "en": "How it works:\n1. Describe the problem and where it is;\n"
        "2. Add the building, a phone number or a photo when asked, then confirm;\n"
        "3. You will be told here when a grid worker accepts, works on and resolves it, "
        "then please rate the service.\nSend 'status' for your reports, 'cancel' to stop a report.",
    },
    "menu.report": {"zh": "我要报事", "en": "Report a problem"},
    "menu.status": {"zh": "我的工单", "en": "My reports"},
    "menu.help": {"zh": "使用帮助", "en": "Help"},
    "thanks": {
        "zh": "不客气，有问题随时找我们。",
        "en": "You're welcome. We're here whenever you need us.",
    },
    "not_understood": {
        "zh": "抱歉，我没太明白。您可以直接说遇到了什么问题、在哪一幢楼，"
        "比如“3幢楼道里堆满了杂物”。",
        "en": "Sorry, I didn't quite get that. Tell me what the problem is and which building, "
        "e.g. 'junk piled up in the stairwell of building 3'.",
    },
    "out_of_scope": {
        "zh": "抱歉，这个问题不在社区报事的服务范围内。我可以受理小区里的停车、电梯、噪音、物业、"
        "卫生、水电气、安全隐患、违建和邻里纠纷等问题。",
        "en": "Sorry, that is outside what this service handles. I can take reports about "
        "parking, elevators, noise, property management, sanitation, utilities, safety hazards, "
        "illegal construction and disputes between neighbours.",
    },
    "empty_message": {
        "zh": "您好像发了一条空消息。请直接告诉我遇到了什么问题。",
        "en": "That message looks empty. Please tell me what the problem is.",
    },
    "too_long": {
        "zh": "消息有点长，我已收到前{limit}个字。如需补充，可以分几条发送。",
        "en": "That was long; I kept the first {limit} characters. Send more in separate messages.",
    },
    "unsupported_media": {
        "zh": "暂时只能处理文字、图片和位置。请用文字描述问题，或发送现场照片。",
        "en": "I can handle text, photos and locations for now. Please describe the problem in "
        "words or send a photo.",
    },
    "error_apology": {
        "zh": "抱歉，系统刚才出了点问题，您的消息已保存，我们会尽快处理。请稍后再试一次。",
        "en": "Sorry, something went wrong on our side. Your message is saved and will not be "
        "lost; please try again in a moment.",
    },
    "holding": {
        "zh": "收到，正在为您处理，结果稍后发给您。",
        "en": "Got it. We're working on it and will send you the answer shortly.",
    },
    "journaled": {
        "zh": "收到，您的消息已保存。系统正在恢复，处理结果稍后发给您，不用重发。",
        "en": "Got it, your message is saved. We are recovering from a fault and will send you "
        "the answer shortly; no need to send it again.",
    },
    "busy": {
        "zh": "上一条消息还在处理中，请稍等片刻再发。",
        "en": "Still working on your previous message, please wait a moment.",
    },
    "rate.message": {
        "zh": "您发送得有点快，请{seconds}秒后再发，我们不会漏掉您的问题。",
        "en": "You are sending messages a little fast; please wait {seconds} s and send again.",
    },
    "rate.ticket": {
        "zh": "您刚刚已经提交了几件报事，请{minutes}分钟后再提交新的。如有紧急危险，请直接拨打"
        "110、119或120。",
        "en": "You have just filed several reports; please wait {minutes} min before a new one. "
        "In an emergency call 110, 119 or 120 directly.",
    },
    "rate.upload": {
        "zh": "照片上传得太频繁了，请{seconds}秒后再试。",
        "en": "Too many photos in a short time; please try again in {seconds} s.",
    },
    "expired": {
        "zh": "您上次未完成的报事已超时，已为您重新开始。",
        "en": "Your unfinished report timed out, so we're starting over.",
    },
    # --- clarification -----------------------------------------------------------------------
    "clarify": {
        "zh": "我想确认一下，您要反映的是哪类问题？",
        "en": "Just to be sure, which kind of problem is it?",
    },
    "clarify.other": {"zh": "都不是", "en": "None of these"},
    "ask.describe": {
        "zh": "请用一句话描述您遇到的问题，比如“楼道里有电动车在充电”。",
        "en": "Please describe the problem in one sentence, e.g. 'an e-bike is charging in the "
        "stairwell'.",
    },
    "ask.describe_at": {
        "zh": "好的，{building}。请问遇到了什么问题？",
        "en": "OK, {building}. What is the problem?",
    },
    "photo_received_ask": {
        "zh": "照片收到了。请再用一句话说明是什么问题、在哪一幢楼。",
        "en": "Got the photo. Please tell me in one sentence what the problem is and which "
        "building.",
    },
    "location_received_ask": {
        "zh": "已收到位置（{building}附近）。请说明遇到了什么问题。",
        "en": "Location received (near {building}). What is the problem?",
    },
    "location_unknown": {
        "zh": "已收到位置，但附近没有找到登记的楼栋。请告诉我是哪一幢楼。",
        "en": "Location received, but no registered building is near it. Which building is it?",
    },
    # --- slot prompts --------------------------------------------------------------------
    "ask.building": {
        "zh": "请问是哪一幢楼？可以回复如“3幢”“3号楼2单元”或“3-2-501”。",
        "en": "Which building is it? You can reply e.g. '3幢', 'building 3 unit 2' or '3-2-501'.",
    },
    "ask.building.parking": {
        "zh": "请问车停在哪一幢楼附近？可以回复如“5幢楼下”。",
        "en": "Near which building is the car? e.g. 'below building 5'.",
    },
    "ask.building.retry": {
        "zh": "没能识别出楼栋。本社区登记的楼栋有：{names}。请回复其中一个，如“{example}”。",
        "en": "I couldn't tell which building. Registered buildings: {names}. Reply with one, "
        "e.g. '{example}'.",
    },
    "ask.building.unknown": {
        "zh": "没有找到“{value}”。本社区登记的楼栋有：{names}。请确认是哪一幢。",
        "en": "There is no '{value}' here. Registered buildings: {names}. Which one is it?",
    },
    "ask.building.community": {
        "zh": "有{count}个小区都有“{value}”。请问是哪个小区？请回复小区名称（例如“{example}”），"
        "不确定的话也可以回复所在街道。",
        "en": "{count} communities have a '{value}'. Which community is it? Reply with its name "
        "(e.g. '{example}'), or with your street (街道) if you are not sure.",
    },
    "ask.building.street": {
        "zh": "{street}有几个小区都有“{value}”：{names}。请问是哪个小区？",
        "en": "Several communities in {street} have a '{value}': {names}. Which one is it?",
    },
    "ask.building.which": {
        "zh": "有几处叫“{value}”的楼栋，请选择：",
        "en": "Several buildings are called '{value}'. Please choose:",
    },
    "ask.unit": {
        "zh": "是几单元？不清楚可以回复“跳过”。",
        "en": "Which unit (entrance)? Reply 'skip' if you're not sure.",
    },
    "ask.room": {
        "zh": "请问您家的门牌号（如501）？不方便可以回复“跳过”。",
        "en": "Your flat number (e.g. 501)? Reply 'skip' if you'd rather not say.",
    },
    "ask.plate": {
        "zh": "知道车牌号吗？如“浙A12345”，不知道可以回复“跳过”。",
        "en": "Do you know the plate number (e.g. 浙A12345)? Reply 'skip' if not.",
    },
    "ask.phone": {
        "zh": "请留一个手机号，方便网格员联系您（会记住，下次不用再填）。不方便可以回复“跳过”。",
        "en": "Please leave a mobile number so the grid worker can call you back (we'll "
        "remember it). Reply 'skip' if you'd rather not.",
    },
    "ask.phone.retry": {
        "zh": "这个号码好像不对，请回复11位手机号或座机号，或回复“跳过”。",
        "en": "That doesn't look like a phone number. Please send an 11-digit mobile or a "
        "landline number, or 'skip'.",
    },
    "ask.photo": {
        "zh": "方便的话拍张现场照片发过来，网格员能更快判断情况；没有照片可以回复“跳过”。",
        "en": "If you can, send a photo of it so the grid worker can judge faster; reply "
        "'skip' if you have none.",
    },
    "ask.description": {
        "zh": "请简单描述一下具体情况。",
        "en": "Please describe what is going on.",
    },
    "photo_added": {
        "zh": "照片已收到。",
        "en": "Photo received.",
    },
    "button.skip": {"zh": "跳过", "en": "Skip"},
    "button.cancel": {"zh": "取消", "en": "Cancel"},
    # --- confirmation ----------------------------------------------------------------------
    "confirm": {
        "zh": "请确认报事内容：\n类别：{category}{urgent}\n地点：{location}\n问题：{description}"
        "{extra}\n联系电话：{phone}\n确认无误请点“确认提交”。",
        "en": "Please check your report:\nCategory: {category}{urgent}\nWhere: {location}\n"
        "Problem: {description}{extra}\nPhone: {phone}\nTap 'Submit' if this is right.",
    },
    "confirm.urgent": {"zh": "（紧急）", "en": " (urgent)"},
    "confirm.plate": {"zh": "\n车牌：{plate}", "en": "\nPlate: {plate}"},
    "confirm.photos": {"zh": "\n照片：{count}张", "en": "\nPhotos: {count}"},
    "confirm.no_phone": {"zh": "未留", "en": "not given"},
    "button.submit": {"zh": "确认提交", "en": "Submit"},
    "button.edit": {"zh": "修改", "en": "Change"},
    "edit.which": {"zh": "要修改哪一项？", "en": "What would you like to change?"},
    "edit.building": {"zh": "地点", "en": "Place"},
    "edit.description": {"zh": "问题描述", "en": "Description"},
    "edit.phone": {"zh": "联系电话", "en": "Phone"},
    "confirm.again": {
        "zh": "请点“确认提交”提交报事，或点“修改”“取消”。",
        "en": "Tap 'Submit' to send the report, or 'Change' / 'Cancel'.",
    },
    "cancelled": {
        "zh": "好的，已取消这次报事。有需要随时再找我。",
        "en": "OK, this report is cancelled. Message me any time.",
    },
    "nothing_to_cancel": {
        "zh": "当前没有正在填写的报事。",
        "en": "There is no report in progress.",
    },
    # --- ticket created --------------------------------------------------------------------
    "created": {
        "zh": "已受理！工单号 {number}（{category}）。已派给{assignee}，{promise}"
        "处理进展会在这里通知您，回复“进度”可随时查询。",
        "en": "Got it! Ticket {number} ({category}) has gone to {assignee}; {promise} "
        "You'll get updates here; send 'status' any time.",
    },
    "created.unassigned": {
        "zh": "已受理！工单号 {number}（{category}）。社区会尽快安排人员处理，进展会在这里通知您。",
        "en": "Got it! Ticket {number} ({category}). The community will assign someone shortly "
        "and you'll get updates here.",
    },
    "promise.urgent": {
        "zh": "紧急情况网格员会在10分钟内联系您。",
        "en": "for urgent cases the grid worker calls within 10 minutes.",
    },
    "promise.normal": {
        "zh": "网格员会尽快联系您。",
        "en": "the grid worker will contact you soon.",
    },
    "assignee.worker": {"zh": "{grid}网格员{name}", "en": "grid worker {name} ({grid})"},
    "urgent.followup_phone": {
        "zh": "为了让网格员马上联系到您，请回复您的手机号。",
        "en": "So the grid worker can reach you right away, please reply with your mobile number.",
    },
    "phone_added": {
        "zh": "电话已补充到工单 {number}，网格员会尽快联系您。",
        "en": "Phone number added to ticket {number}; the grid worker will call you soon.",
    },
    # --- status --------------------------------------------------------------------------
    "status.none": {
        "zh": "您目前没有进行中的工单。遇到问题可以直接告诉我。",
        "en": "You have no open reports. Tell me any time something needs fixing.",
    },
    "status.header": {"zh": "您的工单：", "en": "Your reports:"},
    "status.line": {
        "zh": "{number} {category}｜{location}｜{status}{note}",
        "en": "{number} {category} | {location} | {status}{note}",
    },
    "status.resume": {
        "zh": "接着刚才的报事：",
        "en": "Back to your report:",
    },
    # --- rating ----------------------------------------------------------------------------
    "rate.thanks": {
        "zh": "感谢您的评价（{score}星）！工单 {number} 已关闭。",
        "en": "Thank you for rating ({score}/5)! Ticket {number} is closed.",
    },
    "rate.reopened": {
        "zh": "很抱歉没能让您满意。工单 {number} 已重新打开，网格员会再次跟进。"
        "您可以直接回复补充说明哪里还没解决。",
        "en": "Sorry we didn't get it right. Ticket {number} is reopened and the grid worker "
        "will follow up. Reply here to tell us what is still wrong.",
    },
    "rate.nothing": {
        "zh": "目前没有需要评价的工单。",
        "en": "There is nothing to rate right now.",
    },
    "rate.ask_score": {
        "zh": "请为工单 {number} 的处理打分（1-5星）：",
        "en": "Please rate how ticket {number} was handled (1-5):",
    },
    "rate.satisfied": {"zh": "满意", "en": "Satisfied"},
    "rate.unsatisfied": {"zh": "不满意", "en": "Not satisfied"},
    # --- human agent -----------------------------------------------------------------------
    "human.requested": {
        "zh": "已通知{who}，会尽快打电话联系您。{hotline}",
        "en": "{who} has been asked to call you back shortly. {hotline}",
    },
    "human.who.worker": {"zh": "网格员{name}", "en": "grid worker {name}"},
    "human.who.staff": {"zh": "社区工作人员", "en": "community staff"},
    "human.hotline": {"zh": "急事也可拨打社区电话 {hotline}。", "en": "Urgent: call {hotline}."},
    "human.need_phone": {
        "zh": "好的，请先留个手机号，我马上请网格员给您回电。",
        "en": "Sure, please leave a mobile number and I'll ask a grid worker to call you.",
    },
    # --- pushed updates to residents ---------------------------------------------------------
    "push.accepted": {
        "zh": "您反映的问题（工单 {number}，{category}）已由网格员{worker}接单，正在处理，"
        "会尽快联系您。",
        "en": "Grid worker {worker} has accepted your report {number} ({category}) and will "
        "contact you soon.",
    },
    "push.progress": {
        "zh": "工单 {number} 有新进展：{note}",
        "en": "Update on {number}: {note}",
    },
    "push.resolved": {
        "zh": "您反映的问题（工单 {number}）已办结：{note}\n请为这次处理打分：",
        "en": "Your report {number} is resolved: {note}\nPlease rate how it was handled:",
    },
    "push.transferred": {
        "zh": "工单 {number} 已转交{target}继续处理。",
        "en": "Ticket {number} has been handed to {target}.",
    },
    "push.reopened_worker": {
        "zh": "【工单重开】{number} 居民对处理结果不满意（{score}星），请再次跟进并联系居民。",
        "en": "[Reopened] {number}: the resident is not satisfied ({score}/5). Please follow "
        "up and contact them.",
    },
    "push.rated_worker": {
        "zh": "工单 {number} 居民评价：{score}星，已关闭。辛苦了！",
        "en": "Ticket {number} rated {score}/5 by the resident and closed. Thank you!",
    },
    "push.callback": {
        "zh": "【回电请求】居民请求人工联系：{phone}{location}。请尽快回电。",
        "en": "[Call-back request] A resident asks to be called: {phone}{location}.",
    },
    "push.phone_added": {
        "zh": "工单 {number} 居民补充了联系电话：{phone}",
        "en": "Ticket {number}: the resident added a phone number: {phone}",
    },
    "push.relayed": {
        "zh": "【代为转达】网格员{name}的所有消息渠道都无法送达，请代为跟进或联系本人：\n{text}",
        "en": "[Relayed] Grid worker {name} cannot be reached on any channel; please follow up "
        "or contact them:\n{text}",
    },
    "push.photo_added": {
        "zh": "工单 {number} 居民补充了照片。",
        "en": "Ticket {number}: the resident added a photo.",
    },
    # --- worker console ---------------------------------------------------------------------
    "task.card": {
        "zh": "【新任务】{number} {category}{urgent}\n地点：{location}\n居民描述：{description}"
        "{extra}\n联系电话：{phone}\n上报时间：{time}\n请回复“接单 {number}”或点击按钮。",
        "en": "[New task] {number} {category}{urgent}\nWhere: {location}\nResident says: "
        "{description}{extra}\nPhone: {phone}\nReported: {time}\nReply 'accept {number}' or "
        "tap a button.",
    },
    "task.urgent": {"zh": "【紧急】", "en": " [URGENT]"},
    "task.urgent_reason": {"zh": "\n紧急原因：{reason}", "en": "\nWhy urgent: {reason}"},
    # --- danger first: advice per code, hazard names for the worker ----------------------------
    "danger.header": {
        "zh": "⚠️ 情况紧急，请先确保人身安全：",
        "en": "⚠️ This is urgent. Make sure everyone is safe first:",
    },
    "danger.filing": {
        "zh": "我们已按紧急工单上报，正在通知网格员。",
        "en": "We are filing this as an urgent report and alerting the grid worker now.",
    },
    "danger.reason": {
        "zh": "{kinds}（居民原话：{cues}）",
        "en": "{kinds} (resident's words: {cues})",
    },
    "advice.120": {
        "zh": "· 有人受伤或失去意识：请立即拨打120急救电话，不要随意搬动伤者。",
        "en": "· Someone is hurt or unconscious: call 120 (ambulance) now; do not move them.",
    },
    "advice.119": {
        "zh": "· 起火、冒烟或有人被困：请立即拨打119，撤离到安全地带，不要乘坐电梯。",
        "en": "· Fire, smoke or someone trapped: call 119 now, get to a safe place, do not use "
        "the lift.",
    },
    "advice.110": {
        "zh": "· 有人打架、持械或人身安全受到威胁：请立即拨打110报警，远离现场。",
        "en": "· A fight, a weapon or someone in danger: call 110 (police) now and keep away.",
    },
    "advice.96333": {
        "zh": "· 有人被困电梯：请拨打电梯应急救援电话96333，让被困人员保持冷静、不要扒门，"
        "按轿厢内警铃。",
        "en": "· Someone trapped in a lift: call the lift rescue line 96333; tell them to stay "
        "calm, not to force the doors and to press the alarm button.",
    },
    "advice.gas": {
        "zh": "· 闻到燃气味：不要开关电器、不要动明火，打开门窗，到室外拨打燃气公司抢修电话。",
        "en": "· Gas smell: do not touch switches or flames, open the windows, and call the gas "
        "company's emergency line from outside.",
    },
    "advice.power": {
        "zh": "· 漏电、触电或电线冒火花：请远离、不要用手碰，先拉下电闸（总开关），"
        "再拨打供电抢修电话95598。",
        "en": "· Live wires, sparks or an electric shock: keep away, do not touch, switch off "
        "the mains, then call the power repair line 95598.",
    },
    # the same number, worded for the hazard that calls for it (danger.advice_text)
    "advice.119.trapped": {
        "zh": "· 有人被困在屋里、阳台或其他地方出不来：请立即拨打119请消防救援，让被困的人"
        "待在安全处、保持冷静，不要冒险攀爬或强行破门。",
        "en": "· Someone is shut in (a room, a balcony or elsewhere): call 119 (fire and "
        "rescue) now; keep them calm and somewhere safe, and do not climb or force the door.",
    },
    "advice.120.electric_shock": {
        "zh": "· 有人触电：先拉下电闸（总开关），或用干燥的木棍、塑料把电线挑开，千万不要"
        "直接用手拉人；然后立即拨打120。",
        "en": "· Someone has had an electric shock: switch off the mains or push the wire away "
        "with something dry (wood, plastic), never pull them by hand; then call 120 now.",
    },
    "advice.110.fire": {
        "zh": "· 有人故意放火：请立即拨打110报警，远离放火的人，不要与其对峙。",
        "en": "· Someone is setting fires: call 110 (police) now and keep away from them.",
    },
    "advice.110.injury": {
        "zh": "· 有人想轻生或有坠楼危险：请立即拨打110，尽量有人陪着、耐心跟他/她说话，"
        "不要刺激，移开刀具、药品等危险物品。",
        "en": "· Someone may harm themselves or fall: call 110 now; stay with them, talk "
        "calmly, do not provoke, and move knives, pills and the like out of reach.",
    },
    "advice.110.falling_object": {
        "zh": "· 有人往楼下扔东西：请立即拨打110报警，远离楼下区域；能安全的话记下大致的楼层"
        "和窗户位置。",
        "en": "· Someone is throwing things from above: call 110 (police) now and keep away "
        "from below; if it is safe, note roughly which floor and window.",
    },
    "advice.119.falling_object": {
        "zh": "· 高处的东西松动、随时可能掉下来：请立即拨打119，远离下方区域并提醒行人绕行。",
        "en": "· Something high up is loose and may fall: call 119 now, keep away from below "
        "and warn passers-by.",
    },
    "advice.110.vulnerable_person": {
        "zh": "· 孩子或老人走失、独自在家或处境危险：请立即拨打110求助，说清位置和他们的衣着、"
        "样貌；能安全陪在旁边的话，请先陪着、安抚他们。",
        "en": "· A child or an elderly person is missing, alone or at risk: call 110 now and "
        "say where and what they look like; if you can safely stay with them, do.",
    },
    "advice.119.vulnerable_person": {
        "zh": "· 有人（尤其是孩子和老人）被锁在车里屋里、被卡住、爬到窗台阳台外或掉进水里井里："
        "请立即拨打119请消防救援；不要大声惊吓，不要独自冒险攀爬、破拆或下水。",
        "en": "· Someone (above all a child or an elderly person) is locked in a car or a room, "
        "stuck, out on a ledge or in the water: call 119 (fire and rescue) now; do not "
        "startle them, and do not climb, break in or go into the water alone.",
    },
    "advice.110.call_for_help": {
        "zh": "· 有人呼救：请立即拨打110报警，说清具体位置；不要独自冒险靠近。",
        "en": "· Someone is calling for help: call 110 (police) now and say exactly where; do "
        "not go in alone.",
    },
    "hazard.trapped": {"zh": "有人被困", "en": "someone trapped"},
    "hazard.electric_shock": {"zh": "有人触电", "en": "electric shock"},
    "hazard.fire": {"zh": "起火/冒烟/火花", "en": "fire, smoke or sparks"},
    "hazard.gas": {"zh": "燃气泄漏", "en": "gas leak"},
    "hazard.violence": {"zh": "打架/持械/暴力", "en": "violence or a weapon"},
    "hazard.injury": {"zh": "有人受伤", "en": "someone injured"},
    "hazard.flood_electric": {"zh": "进水近电", "en": "water near electricity"},
    "hazard.falling_object": {"zh": "高空坠物", "en": "falling objects"},
    "hazard.vulnerable_person": {
        "zh": "老人或儿童有危险",
        "en": "a child or elderly person at risk",
    },
    "hazard.call_for_help": {"zh": "有人呼救", "en": "a call for help"},
    "task.sla": {"zh": "{deadline}前（{span}内）", "en": "by {deadline} (within {span})"},
    "task.handed_over": {"zh": "已转交{name}处理", "en": "handed over to {name}"},
    "worker.photo_note": {"zh": "（见现场照片）", "en": "(see the photo)"},
    "worker.button.accept": {"zh": "接单", "en": "Accept"},
    "worker.button.progress": {"zh": "进展", "en": "Progress"},
    "worker.button.resolve": {"zh": "办结", "en": "Resolve"},
    "worker.button.transfer": {"zh": "转派", "en": "Transfer"},
    "worker.button.contact": {"zh": "联系居民", "en": "Contact resident"},
    "worker.unknown": {
        "zh": "没有识别出指令“{text}”。",
        "en": "Unknown command '{text}'.",
    },
    "worker.no_tasks": {"zh": "您目前没有待办工单。", "en": "You have no open tasks."},
    "worker.tasks": {"zh": "您的待办工单：", "en": "Your open tasks:"},
    "worker.which": {
        "zh": "您有{count}个待办工单，请在指令后写明工单号，如“{command} {number}”。",
        "en": "You have {count} open tasks; add the ticket number, e.g. '{command} {number}'.",
    },
    "worker.which_free": {
        "zh": "您有{count}个工单，要{command}哪一个？请点下面的按钮，或写明工单号，"
        "如“{command} {number} 说明”。",
        "en": "You have {count} tasks; which one to {command}? Tap one, or add the number, "
        "e.g. '{command} {number} note'.",
    },
    "worker.confirm_free": {
        "zh": "把这句话作为工单 {number} 的{action}说明发给居民吗？\n{task}\n“{note}”",
        "en": "Send this to the resident as the {action} note of {number}?\n{task}\n'{note}'",
    },
    "worker.button.confirm_free": {"zh": "确认{action}", "en": "Confirm {action}"},
    "worker.button.as_progress": {"zh": "只记为进展", "en": "Record as progress"},
    "worker.not_found": {
        "zh": "没有找到工单 {number}。",
        "en": "Ticket {number} was not found.",
    },
    "worker.not_yours": {
        "zh": "工单 {number} 不在您的待办中，不能操作。",
        "en": "Ticket {number} is not assigned to you.",
    },
    "worker.bad_state": {
        "zh": "工单 {number} 当前状态为“{status}”，不能{action}。",
        "en": "Ticket {number} is '{status}'; you can't {action} it now.",
    },
    "worker.need_note": {
        "zh": "请写明{action}说明，如“{command} {number} 已联系物业，明天上午维修”。",
        "en": "Please add a note, e.g. '{command} {number} called the property office'.",
    },
    "worker.ask_note": {
        "zh": "请回复工单 {number} 的{action}说明：",
        "en": "Reply with the {action} note for {number}:",
    },
    "worker.ask_transfer": {
        "zh": "请选择把工单 {number} 转派给：",
        "en": "Transfer {number} to:",
    },
    "worker.accepted": {
        "zh": "已接单 {number}。请尽快联系居民（{phone}），处理中可回复“进展 说明”，"
        "完成后回复“办结 结果”。",
        "en": "Accepted {number}. Please contact the resident ({phone}); send 'progress <note>' "
        "while working and 'resolve <result>' when done.",
    },
    "worker.progress_ok": {
        "zh": "进展已记录并通知居民（{number}）。",
        "en": "Progress noted and sent to the resident ({number}).",
    },
    "worker.resolved_ok": {
        "zh": "工单 {number} 已办结，已通知居民评价。",
        "en": "Ticket {number} resolved; the resident has been asked to rate it.",
    },
    "worker.transferred_ok": {
        "zh": "工单 {number} 已转派给{target}。",
        "en": "Ticket {number} transferred to {target}.",
    },
    "worker.transfer_unknown": {
        "zh": "没有找到网格或网格员“{target}”。可选：{options}",
        "en": "No grid or worker called '{target}'. Options: {options}",
    },
    "worker.transfer_none": {
        "zh": "“{target}”目前没有在岗人员可以接收，请换一个或联系社区。",
        "en": "Nobody on duty can take it at '{target}'. Choose another or call the community.",
    },
    "worker.contact": {
        "zh": "工单 {number} 居民电话：{phone}",
        "en": "Ticket {number}, resident phone: {phone}",
    },
    "worker.task_line": {
        "zh": "{number} {category}{urgent}｜{location}｜{status}",
        "en": "{number} {category}{urgent} | {location} | {status}",
    },
    "worker.transferred_in": {
        "zh": "【转派任务】{number} 由{source}转给您。",
        "en": "[Transferred to you] {number} from {source}.",
    },
}

# lifecycle texts (SLA, duplicates, departments, follow-up) live in their own module
_TEXT.update(_LIFECYCLE_TEXT)
_TEXT.update(_HANDOFF_TEXT)
_TEXT.update(_GRID_TEXT)
_TEXT.update(_STREET_TEXT)
_TEXT.update(_PEOPLE_TEXT)

STATUS_TEXT: dict[str, dict[str, str]] = {
    "submitted": {"zh": "已受理，等待派单", "en": "received, waiting to be assigned"},
    "assigned": {"zh": "已派给网格员，等待接单", "en": "assigned, waiting for the grid worker"},
    "accepted": {"zh": "网格员已接单", "en": "accepted by the grid worker"},
    "in_progress": {"zh": "正在处理", "en": "being handled"},
    "resolved": {"zh": "已办结，等待您评价", "en": "resolved, waiting for your rating"},
    "closed": {"zh": "已关闭", "en": "closed"},
    "transferred": {"zh": "已转派，等待接单", "en": "transferred, waiting to be accepted"},
    "escalated": {"zh": "已上报上级跟进", "en": "escalated to a supervisor"},
    "reopened": {"zh": "已重新打开，等待跟进", "en": "reopened, waiting for follow-up"},
    "cancelled": {"zh": "已撤销", "en": "cancelled"},
    "merged": {"zh": "已并入其他工单", "en": "merged into another ticket"},
}


# the same statuses as a grid worker reads them on a task card
WORKER_STATUS_TEXT: dict[str, dict[str, str]] = {
    "submitted": {"zh": "待派单", "en": "waiting to be assigned"},
    "assigned": {"zh": "已派单，等待接单", "en": "assigned, waiting to be accepted"},
    "accepted": {"zh": "已接单", "en": "accepted"},
    "in_progress": {"zh": "处理中", "en": "in progress"},
    "resolved": {"zh": "已办结，等待居民评价", "en": "resolved, waiting for the rating"},
    "closed": {"zh": "已关闭", "en": "closed"},
    "transferred": {"zh": "已转派，等待接单", "en": "transferred, waiting to be accepted"},
    "escalated": {"zh": "已上报，等待接单", "en": "escalated, waiting to be accepted"},
    "reopened": {"zh": "居民不满意，已重新打开", "en": "reopened: the resident is not satisfied"},
    "cancelled": {"zh": "已撤销", "en": "cancelled"},
    "merged": {"zh": "已并入其他工单", "en": "merged into another ticket"},
}


def locale_of(value: str | None) -> str:
    """Map a platform language code (zh-CN, en-US, en) to a supported locale."""
    if value and value.lower().startswith("en"):
        return "en"
    return "zh"


def t(key: str, locale: str = "zh", /, **values: object) -> str:
    """Render a text in the locale (falls back to Chinese)."""
    entry = _TEXT[key]
    template = entry.get(locale) or entry["zh"]
    return template.format(**values) if values else template


def pick(texts: Mapping[str, str], locale: str) -> str:
    """Pick a locale from an inline {"zh": ..., "en": ...} mapping."""
    return texts.get(locale) or texts["zh"]


def status_text(status: str, locale: str = "zh") -> str:
    return pick(STATUS_TEXT.get(status, {"zh": status}), locale)


def worker_status_text(status: str, locale: str = "zh") -> str:
    return pick(WORKER_STATUS_TEXT.get(status, {"zh": status}), locale)


def keys() -> frozenset[str]:
    return frozenset(_TEXT)
