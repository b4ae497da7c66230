"""The resident dialogue policy: a pure step function from (state, message, parse) to a turn.

```mermaid
stateDiagram-v2
    [*] --> idle
    idle --> filling: report intent (confident)
    idle --> clarifying: report-like but unsure
    clarifying --> filling: category chosen
    filling --> filling: slot answered, next question
    filling --> confirming: all questions answered (normal)
    filling --> idle: urgent → CreateTicket at once
    confirming --> idle: 确认提交 → CreateTicket
    confirming --> editing: 修改
    editing --> filling: field chosen
    idle --> idle: status / help / rating / greeting
    filling --> idle: 取消 / timeout
    idle --> followup_phone: urgent ticket created without a phone
    followup_phone --> idle: phone given (AddContactPhone) or anything else
    idle --> callback_phone: 转人工 without a phone on record
    callback_phone --> idle: phone given (RequestCallback) / 取消
    idle --> duplicate: CreateTicket, but the same problem is open (the service holds the draft)
    duplicate --> idle: 关注进度 (FollowTicket) / 仍要新报 (CreateTicket) / 补充 (AddSupplement)
    idle --> supplement: 补充 / a photo while tickets are open / 补充 button
    supplement --> idle: text or photo (AddSupplement) / 新报事 → filling
```
Interruptions (进度, 帮助, 取消) are answered in any stage and the form resumes.

Modules, each stage a function ``(Step, …) -> None`` testable on its own:

| module | |
|---|---|
| ``policy`` | ``step``: buttons, photos, locations, interruptions; dispatch on ``state.stage`` |
| ``idle`` | idle, followup_phone |
| ``filling`` | slot answers (building, unit/room/plate, phone), 跳过, building buttons |
| ``clarifying`` | the two-stage fallback and the category choice |
| ``confirming``, ``editing`` | the summary: submit, edit a field |
| ``duplicate`` | follow the open ticket, add to one's own, or report anyway |
| ``supplement`` | add words or photos to an open ticket |
| ``followups`` | status, rating, callback_phone (转人工) |
| ``report`` | the report being built: entities into slots, the next question, filing |
| ``prompts`` | the questions, and asking the pending one again |
| ``base``, ``types`` | the step's working set; state, context, actions, turns |
| ``words``, ``replies`` | vocabulary (skip, cancel, ratings …); menus, stars, places |
"""

from handlers.dialogue.duplicate import offer_duplicate
from handlers.dialogue.policy import step
from handlers.dialogue.replies import duplicate_offer, location_text, menu_buttons, rating_buttons
from handlers.dialogue.types import (
    Action,
    AddContactPhone,
    AddSupplement,
    CreateTicket,
    DialogueConfig,
    DialogueState,
    FollowTicket,
    HandToStaff,
    RateTicket,
    RequestCallback,
    ResidentContext,
    SetNotices,
    Stage,
    TicketBrief,
    Turn,
    WithdrawTicket,
    draft_from_dict,
    draft_to_dict,
)
from handlers.dialogue.words import (
    CANCEL_WORDS,
    FOLLOW_WORDS,
    HELP_WORDS,
    NEW_REPORT_WORDS,
    SKIP_WORDS,
    STATUS_WORDS,
    UNNUMBERED,
    mask_phone,
    parse_rating,
    ticket_numbers,
)

__all__ = [
    "CANCEL_WORDS",
    "FOLLOW_WORDS",
    "HELP_WORDS",
    "NEW_REPORT_WORDS",
    "SKIP_WORDS",
    "STATUS_WORDS",
    "UNNUMBERED",
    "Action",
    "AddContactPhone",
    "AddSupplement",
    "CreateTicket",
    "DialogueConfig",
    "DialogueState",
    "FollowTicket",
    "HandToStaff",
    "RateTicket",
    "RequestCallback",
    "ResidentContext",
    "SetNotices",
    "Stage",
    "TicketBrief",
    "Turn",
    "WithdrawTicket",
    "draft_from_dict",
    "draft_to_dict",
    "duplicate_offer",
    "location_text",
    "mask_phone",
    "menu_buttons",
    "offer_duplicate",
    "parse_rating",
    "rating_buttons",
    "step",
    "ticket_numbers",
]
