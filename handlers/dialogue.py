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
    idle --> duplicate: CreateTicket, but the same problem is open (the service holds the draft)
    duplicate --> idle: 关注进度 (FollowTicket) / 仍要新报 (CreateTicket) / 补充 (AddSupplement)
    idle --> supplement: 补充 / a photo while tickets are open / 补充 button
    supplement --> idle: text or photo (AddSupplement) / 新报事 → filling
```
Interruptions (进度, 帮助, 转人工) are answered in any stage and the form resumes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from handlers.address import BuildingRef, nearest_building, resolve_building
from handlers.flows import CONVERSATION_INTENTS, FALLBACK_FLOW, FLOWS, ReportFlow, category_label
from handlers.i18n import status_text, t
from handlers.messages import Button, Inbound, MediaKind, Outbound
from nlu.types import Parse


class Stage(StrEnum):
    IDLE = "idle"
    FILLING = "filling"
    CONFIRMING = "confirming"
    CLARIFYING = "clarifying"
    EDITING = "editing"
    FOLLOWUP_PHONE = "followup_phone"
    CALLBACK_PHONE = "callback_phone"
    DUPLICATE = "duplicate"  # offered to follow an open ticket about the same problem
    SUPPLEMENT = "supplement"  # adding information or photos to an open ticket


@dataclass(slots=True)
class DialogueState:
    """A conversation's memory between messages (stored as JSON in the session store).

    ``slots`` holds what is known about the report being filled; a key present with an empty
    value means "asked and skipped". ``offered`` remembers the payloads of the last buttons so
    a reply of "2" on a text-only channel (WeChat) means the second button.
    """

    stage: Stage = Stage.IDLE
    flow: str | None = None
    slots: dict[str, str] = field(default_factory=dict)
    asking: str | None = None
    retries: int = 0
    candidates: list[str] = field(default_factory=list)
    urgent: bool = False
    editing: bool = False
    ticket: str | None = None
    offered: list[str] = field(default_factory=list)
    worker_pending: str | None = None  # a worker's "progress:MH-…" awaiting its note
    draft: dict[str, Any] | None = None  # a report held while a duplicate offer is open
    nlu_intent: str = ""
    nlu_confidence: float = 0.0
    updated_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value,
            "flow": self.flow,
            "slots": dict(self.slots),
            "asking": self.asking,
            "retries": self.retries,
            "candidates": list(self.candidates),
            "urgent": self.urgent,
            "editing": self.editing,
            "ticket": self.ticket,
            "offered": list(self.offered),
            "worker_pending": self.worker_pending,
            "draft": self.draft,
            "nlu_intent": self.nlu_intent,
            "nlu_confidence": self.nlu_confidence,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> DialogueState:
        if not data:
            return cls()
        try:
            stage = Stage(str(data.get("stage", "idle")))
        except ValueError:
            stage = Stage.IDLE
        return cls(
            stage=stage,
            flow=data.get("flow"),
            slots={str(k): str(v) for k, v in dict(data.get("slots") or {}).items()},
            asking=data.get("asking"),
            retries=int(data.get("retries") or 0),
            candidates=[str(c) for c in data.get("candidates") or []],
            urgent=bool(data.get("urgent")),
            editing=bool(data.get("editing")),
            ticket=data.get("ticket"),
            offered=[str(o) for o in data.get("offered") or []],
            worker_pending=data.get("worker_pending"),
            draft=dict(data["draft"]) if isinstance(data.get("draft"), Mapping) else None,
            nlu_intent=str(data.get("nlu_intent") or ""),
            nlu_confidence=float(data.get("nlu_confidence") or 0.0),
            updated_at=data.get("updated_at"),
        )


@dataclass(frozen=True, slots=True)
class TicketBrief:
    """What the dialogue needs to know about one of the resident's tickets."""

    number: str
    category: str
    status: str
    location: str = ""
    priority: str = "normal"
    last_note: str = ""


@dataclass(frozen=True, slots=True)
class ResidentContext:
    """Facts loaded by the service before a step: the resident, the registry, their tickets."""

    now: datetime
    locale: str = "zh"
    phone: str = ""
    home: BuildingRef | None = None
    unit: str = ""
    room: str = ""
    community_id: int | None = None
    buildings: tuple[BuildingRef, ...] = ()
    open_tickets: tuple[TicketBrief, ...] = ()
    awaiting_rating: tuple[TicketBrief, ...] = ()
    followed_tickets: tuple[TicketBrief, ...] = ()  # others' tickets the resident follows


@dataclass(frozen=True, slots=True)
class DialogueConfig:
    flows: Mapping[str, ReportFlow] = field(default_factory=lambda: FLOWS)
    clarify_threshold: float = 0.55
    ttl_seconds: int = 1800
    max_retries: int = 2
    max_text: int = 2000
    location_radius_m: float = 300.0


# --- actions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateTicket:
    intent: str
    category: str
    priority: str
    description: str
    building_id: int | None
    building_name: str
    unit: str = ""
    room: str = ""
    location_note: str = ""
    phone: str = ""
    photos: tuple[int, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)
    latitude: float | None = None
    longitude: float | None = None
    nlu_intent: str = ""
    nlu_confidence: float = 0.0
    followup_phone: bool = False  # urgent without a phone: ask for one after filing
    allow_duplicate: bool = False  # the resident chose "report anyway" over following


@dataclass(frozen=True, slots=True)
class RateTicket:
    number: str
    score: int
    comment: str = ""


@dataclass(frozen=True, slots=True)
class AddContactPhone:
    number: str
    phone: str


@dataclass(frozen=True, slots=True)
class RequestCallback:
    phone: str
    building_id: int | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class FollowTicket:
    """Follow an open ticket about the same problem instead of filing ``fallback``."""

    number: str
    fallback: CreateTicket | None = None  # filed instead if the ticket closed meanwhile


@dataclass(frozen=True, slots=True)
class AddSupplement:
    """Add information or photos to one of the resident's open tickets."""

    number: str
    text: str = ""
    photos: tuple[int, ...] = ()
    fallback: CreateTicket | None = None  # filed instead if the ticket closed meanwhile


Action = (
    CreateTicket | RateTicket | AddContactPhone | RequestCallback | FollowTicket | AddSupplement
)


def draft_to_dict(action: CreateTicket) -> dict[str, Any]:
    """A held report as JSON (kept in the conversation state while the resident decides)."""
    data = asdict(action)
    data["photos"] = list(action.photos)
    data["extra"] = dict(action.extra)
    return data


def draft_from_dict(data: Mapping[str, Any] | None) -> CreateTicket | None:
    if not data:
        return None
    try:
        values = {k: v for k, v in data.items() if k in CreateTicket.__dataclass_fields__}
        values["photos"] = tuple(int(p) for p in values.get("photos") or ())
        values["extra"] = {str(k): str(v) for k, v in dict(values.get("extra") or {}).items()}
        return CreateTicket(**values)
    except (TypeError, ValueError):
        return None


def offer_duplicate(
    state: DialogueState, action: CreateTicket, *, number: str, status: str, own: bool, locale: str
) -> Outbound:
    """Hold a report that repeats an open ticket and ask what the resident wants.

    Called by the service when it finds the duplicate; the held draft waits in ``state``
    until the resident answers (or the conversation expires).
    """
    state.stage = Stage.DUPLICATE
    state.draft = draft_to_dict(action)
    state.ticket = number
    state.asking = None
    state.retries = 0
    state.slots = {"dup_status": status, "dup_own": "1" if own else ""}
    message = duplicate_offer(number, status, own, locale)
    state.offered = [b.payload for b in message.buttons]
    return message


def duplicate_offer(number: str, status: str, own: bool, locale: str) -> Outbound:
    if own:
        return Outbound(
            text=t("dup.offer_own", locale, number=number, status=status),
            buttons=(
                Button(t("dup.button.add", locale), "dup:add"),
                Button(t("dup.button.new", locale), "dup:new"),
            ),
        )
    return Outbound(
        text=t("dup.offer", locale, number=number, status=status),
        buttons=(
            Button(t("dup.button.follow", locale), "dup:follow"),
            Button(t("dup.button.new", locale), "dup:new"),
        ),
        kind="duplicate_offer",
        data={"number": number},
    )


@dataclass(slots=True)
class Turn:
    """The result of one step: the new state, replies now, actions, replies after the actions."""

    state: DialogueState
    replies: list[Outbound] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    after: list[Outbound] = field(default_factory=list)


# --- small pure helpers -------------------------------------------------------------------

SKIP_WORDS = frozenset(
    {"跳过", "不用", "没有", "没", "不知道", "不清楚", "略过", "skip", "no", "none"}
)
CANCEL_WORDS = frozenset({"取消", "算了", "不报了", "撤销", "cancel", "退出"})
STATUS_WORDS = frozenset({"进度", "我的工单", "查询", "查进度", "工单", "status"})
FOLLOW_WORDS = frozenset(
    {
        "关注",
        "关注进度",
        "好",
        "好的",
        "是",
        "是的",
        "可以",
        "行",
        "要",
        "嗯",
        "ok",
        "yes",
        "follow",
    }
)
NEW_REPORT_WORDS = frozenset(
    {"仍要新报", "新报", "仍要报", "还是要报", "新报事", "不用", "不要", "不", "不是", "不是同一个"}
    | {"no", "report", "reportanyway"}
)
_SUPPLEMENT = re.compile(
    r"^\s*(?:补充|追加)(?:说明|信息|情况|材料|内容|一下)?\s*[:：,，]?\s*"
    r"(?P<number>MH-\d{8}-\d{4})?\s*[:：,，]?\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
# buttons a text channel shows as words ("跳过", "取消"), never as numbers
UNNUMBERED = frozenset({"skip", "cancel"})
HELP_WORDS = frozenset({"帮助", "使用帮助", "help", "?", "？", "怎么用"})
_PUNCT = re.compile(r"[\s。，,.!！？?~～、]+")
_TICKET = re.compile(r"MH-\d{8}-\d{4}", re.IGNORECASE)
_RATING_WORDS: tuple[tuple[str, int], ...] = (
    ("非常不满意", 1),
    ("很不满意", 1),
    ("不太满意", 2),
    ("不满意", 2),
    ("非常满意", 5),
    ("很满意", 5),
    ("基本满意", 4),
    ("比较满意", 4),
    ("满意", 5),
    ("一般", 3),
    ("还行", 4),
    ("差评", 1),
    ("好评", 5),
    ("unsatisfied", 2),
    ("not satisfied", 2),
    ("satisfied", 5),
)
_CN_SCORE = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}


def _key(text: str) -> str:
    return _PUNCT.sub("", text).lower()


def parse_rating(text: str) -> int | None:
    """A 1–5 score from '5', '五星', '4分', '满意', '不满意' …; None when it is not a rating."""
    value = _key(text)
    if not value:
        return None
    match = re.fullmatch(r"([1-5])(?:星|分|颗星)?", value)
    if match:
        return int(match.group(1))
    match = re.search(r"([一二两三四五])(?:星|分|颗星)", value) or re.search(
        r"([1-5])(?:星|分)", value
    )
    if match:
        digit = match.group(1)
        return int(digit) if digit.isdigit() else _CN_SCORE[digit]
    for word, score in _RATING_WORDS:
        if word in value:
            return score
    return None


def ticket_numbers(text: str) -> list[str]:
    return [m.upper() for m in _TICKET.findall(text)]


def mask_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 7:
        return digits[:3] + "****" + digits[-4:]
    return "***" if digits else ""


def menu_buttons(locale: str) -> tuple[Button, ...]:
    return (
        Button(t("menu.report", locale), "report"),
        Button(t("menu.status", locale), "status"),
        Button(t("menu.help", locale), "help"),
    )


def rating_buttons(number: str, locale: str) -> tuple[Button, ...]:
    stars = tuple(Button("★" * s, f"rate:{number}:{s}") for s in (5, 4, 3, 2, 1))
    return stars


def location_text(
    building_name: str, unit: str = "", room: str = "", note: str = "", locale: str = "zh"
) -> str:
    parts = [building_name]
    if unit:
        parts.append(f"{unit}单元" if locale == "zh" else f" unit {unit}")
    if room:
        parts.append(room if locale == "zh" else f" room {room}")
    text = "".join(p for p in parts if p)
    if note:
        text = f"{text}（{note}）" if text else note
    return text or ("未知" if locale == "zh" else "unknown")


# --- the policy ---------------------------------------------------------------------------


class _Step:
    """One step's working set; methods mutate ``turn`` and return nothing."""

    def __init__(
        self,
        state: DialogueState,
        msg: Inbound,
        parse: Parse | None,
        ctx: ResidentContext,
        cfg: DialogueConfig,
    ) -> None:
        self.msg = msg
        self.parse = parse
        self.ctx = ctx
        self.cfg = cfg
        self.loc = ctx.locale
        self.turn = Turn(state=replace(state, slots=dict(state.slots)))

    # shortcuts
    @property
    def state(self) -> DialogueState:
        return self.turn.state

    def say(self, text: str, buttons: Sequence[Button] = (), *, ask: str = "") -> None:
        # ``ask`` names the slot a question asks for, so a channel can offer a native control
        # (Telegram: a "send my location" / "share my phone number" keyboard button)
        data = {"ask": ask, "locale": self.loc} if ask else {}
        self.turn.replies.append(Outbound(text=text, buttons=tuple(buttons), data=data))

    def reset(self) -> None:
        self.turn.state = DialogueState(worker_pending=self.state.worker_pending)

    @property
    def intent(self) -> str:
        return self.parse.intent.name if self.parse else ""

    @property
    def confidence(self) -> float:
        return self.parse.intent.confidence if self.parse else 0.0

    def confident(self, intent: str) -> bool:
        return self.intent == intent and self.confidence >= self.cfg.clarify_threshold

    # ---- entry ----------------------------------------------------------------------------

    def run(self) -> Turn:
        state = self.state
        if state.stage != Stage.IDLE and self._expired():
            self.reset()
            self.say(t("expired", self.loc))
        text = self.msg.text.strip()
        button = self.msg.button
        # text channels show buttons as a numbered list: "2" means the second button. Skip and
        # cancel are not numbered (they have words): "2" is a real answer to "which unit?"
        choices = [p for p in self.state.offered if p not in UNNUMBERED]
        if button is None and re.fullmatch(r"\d{1,2}", text) and 1 <= int(text) <= len(choices):
            button = choices[int(text) - 1]
        self.state.offered = []
        if button is not None:
            self.on_button(button)
        elif self.msg.media:
            self.on_media()
        elif self.msg.location is not None:
            self.on_location()
        elif self.msg.contact_phone:
            self.on_phone_shared(self.msg.contact_phone)
        elif not text and self._awaiting_description_at():
            # a stairwell QR code (scene) named the building: ask what happened there
            building = self.state.slots["building_name"]
            cancel = Button(t("button.cancel", self.loc), "cancel")
            self.say(t("ask.describe_at", self.loc, building=building), [cancel])
        elif not text:
            self.say(t("empty_message", self.loc))
            self.reprompt()
        else:
            self.on_text(text)
        self._finish()
        return self.turn

    def _awaiting_description_at(self) -> bool:
        s = self.state
        return (
            s.stage == Stage.FILLING
            and s.asking == "description"
            and bool(s.slots.get("building_name"))
            and "description" not in s.slots
        )

    def _expired(self) -> bool:
        if not self.state.updated_at:
            return False
        try:
            last = datetime.fromisoformat(self.state.updated_at)
        except ValueError:
            return True
        return self.ctx.now - last > timedelta(seconds=self.cfg.ttl_seconds)

    def _finish(self) -> None:
        last_with_buttons = [r for r in (*self.turn.replies, *self.turn.after) if r.buttons]
        if last_with_buttons:
            self.state.offered = [b.payload for b in last_with_buttons[-1].buttons]
        self.state.updated_at = self.ctx.now.isoformat()

    # ---- buttons --------------------------------------------------------------------------

    def on_button(self, payload: str) -> None:
        head, _, rest = payload.partition(":")
        if head == "report":
            self.reset()
            self.state.stage = Stage.FILLING
            self.state.asking = "description"
            self.say(t("ask.describe", self.loc), [Button(t("button.cancel", self.loc), "cancel")])
        elif head == "status":
            self.show_status()
            self.reprompt()
        elif head == "help":
            self.say(t("help", self.loc), menu_buttons(self.loc))
            self.reprompt()
        elif head == "cancel":
            self.cancel()
        elif head == "skip":
            self.on_skip()
        elif head == "confirm":
            if self.state.stage == Stage.CONFIRMING:
                self.submit()
            else:
                self.reprompt_or_menu()
        elif head == "edit":
            self.on_edit(rest)
        elif head == "flow" and rest in self.cfg.flows:
            self.choose_flow(rest)
        elif head == "building" and rest.isdigit():
            self.choose_building(int(rest))
        elif head == "rate":
            number, _, score = rest.partition(":")
            if score.isdigit() and 1 <= int(score) <= 5:
                self.rate(number, int(score))
            else:
                self.say(t("not_understood", self.loc))
        elif head == "dup":
            self.on_duplicate_choice(rest)
        elif head == "supplement" and _TICKET.fullmatch(rest):
            self.on_supplement_button(rest.upper())
        elif head == "newreport":
            self.on_new_report_button()
        else:
            # stale or forged payload: answer politely, change nothing
            self.say(t("not_understood", self.loc), menu_buttons(self.loc))

    # ---- media / location / contact --------------------------------------------------------

    def photo_ids(self) -> list[int]:
        ids: list[int] = []
        for media in self.msg.media:
            if media.kind == MediaKind.IMAGE and media.ref.startswith("attachment:"):
                ref = media.ref.removeprefix("attachment:")
                if ref.isdigit():
                    ids.append(int(ref))
        return ids

    def on_media(self) -> None:
        photos = self.photo_ids()
        if not photos:
            self.say(t("unsupported_media", self.loc))
            self.reprompt()
            return
        if self.state.stage == Stage.SUPPLEMENT or (
            self.state.stage == Stage.IDLE and self.ctx.open_tickets
        ):
            self.on_supplement_media(photos)
            return
        existing = [p for p in self.state.slots.get("photos", "").split(",") if p]
        self.state.slots["photos"] = ",".join([*existing, *map(str, photos)])
        caption = self.msg.text.strip()
        if self.state.stage in (Stage.FILLING, Stage.CONFIRMING, Stage.EDITING):
            if self.state.asking == "photo":
                self.state.slots.setdefault("photo", "yes")
                self.state.asking = None
            self.say(t("photo_added", self.loc))
            if caption:
                self.on_text(caption)
                return
            if self.state.stage == Stage.CONFIRMING:
                self.confirm()
            else:
                self.advance()
            return
        # a photo out of the blue starts a report; the caption (if any) describes it
        self.state.stage = Stage.FILLING
        self.state.slots["photo"] = "yes"
        if caption:
            self.state.asking = "description"
            self.on_text(caption)
            return
        self.state.asking = "description"
        self.say(t("photo_received_ask", self.loc))

    def on_location(self) -> None:
        point = self.msg.location
        if point is None:
            return
        self.state.slots["latitude"] = f"{point.latitude:.6f}"
        self.state.slots["longitude"] = f"{point.longitude:.6f}"
        near = nearest_building(
            point.latitude,
            point.longitude,
            self.ctx.buildings,
            max_metres=self.cfg.location_radius_m,
        )
        if point.label:
            self.state.slots.setdefault("location_note", point.label[:100])
        if self.state.stage == Stage.FILLING:
            if near is not None and "building" not in self.state.slots:
                self.set_building(near)
            self.advance()
            return
        self.state.stage = Stage.FILLING
        self.state.asking = "description"
        if near is not None:
            self.set_building(near)
            self.say(t("location_received_ask", self.loc, building=near.display()))
        else:
            self.say(t("location_unknown", self.loc), ask="building")

    def on_phone_shared(self, phone: str) -> None:
        digits = re.sub(r"\D", "", phone)
        if self.state.stage == Stage.FOLLOWUP_PHONE and self.state.ticket:
            self.turn.actions.append(AddContactPhone(self.state.ticket, digits))
            self.reset()
            return
        if self.state.stage == Stage.CALLBACK_PHONE:
            self.callback(digits)
            return
        if self.state.stage in (Stage.FILLING, Stage.CONFIRMING):
            self.state.slots["phone"] = digits
            if self.state.asking == "phone":
                self.state.asking = None
            if self.state.stage == Stage.CONFIRMING:
                self.confirm()
            else:
                self.advance()
            return
        self.say(t("welcome", self.loc), menu_buttons(self.loc))

    # ---- text -----------------------------------------------------------------------------

    def on_text(self, text: str) -> None:
        key = _key(text)
        urgent = self.parse is not None and self.parse.first("urgency") is not None
        if urgent and self.state.stage in (Stage.FILLING, Stage.CONFIRMING, Stage.CLARIFYING):
            self.state.urgent = True
        # interruptions, answered in any stage
        if key in CANCEL_WORDS or self.confident("cancel"):
            self.cancel()
            return
        choosing = self.state.stage == Stage.SUPPLEMENT  # there a ticket number is a choice
        if self.state.stage != Stage.IDLE and (
            key in STATUS_WORDS
            or (ticket_numbers(text) and self.intent == "query_status" and not choosing)
        ):
            self.show_status(text)
            self.reprompt()
            return
        if self.state.stage != Stage.IDLE and (key in HELP_WORDS or self.confident("help")):
            self.say(t("help", self.loc))
            self.reprompt()
            return
        stage = self.state.stage
        if stage == Stage.FILLING:
            self.on_answer(text)
        elif stage == Stage.CONFIRMING:
            self.on_confirm_text(text)
        elif stage == Stage.CLARIFYING:
            self.on_clarify_text(text)
        elif stage == Stage.EDITING:
            self.on_edit_text(text)
        elif stage == Stage.FOLLOWUP_PHONE:
            self.on_followup_phone(text)
        elif stage == Stage.CALLBACK_PHONE:
            self.on_callback_phone(text)
        elif stage == Stage.DUPLICATE:
            self.on_duplicate_text(text)
        elif stage == Stage.SUPPLEMENT:
            self.on_supplement_text(text)
        else:
            self.on_idle(text)

    def on_idle(self, text: str) -> None:
        key = _key(text)
        intent, conf = self.intent, self.confidence
        if key in STATUS_WORDS or (intent == "query_status" and conf >= self.cfg.clarify_threshold):
            self.show_status(text)
            return
        if key in HELP_WORDS:
            self.say(t("help", self.loc), menu_buttons(self.loc))
            return
        if self.on_supplement_command(text):
            return
        # a pending rating: "5", "满意", "不满意" after a resolved ticket
        if self.ctx.awaiting_rating:
            score = parse_rating(text)
            if score is not None and (intent in ("rate", "affirm", "deny") or len(key) <= 8):
                self.rate(self.ctx.awaiting_rating[0].number, score)
                return
        if conf >= self.cfg.clarify_threshold:
            if intent in self.cfg.flows:
                self.start_report(intent, text)
                return
            if intent == "greet":
                self.say(t("welcome", self.loc), menu_buttons(self.loc))
                return
            if intent == "help":
                self.say(t("help", self.loc), menu_buttons(self.loc))
                return
            if intent == "thanks":
                self.say(t("thanks", self.loc))
                return
            if intent == "rate":
                self.say(t("rate.nothing", self.loc))
                return
            if intent == "human_agent":
                self.request_callback()
                return
            if intent == "cancel":
                self.say(t("nothing_to_cancel", self.loc))
                return
            if intent == "inform":
                self.start_from_details()
                return
            if intent == "out_of_scope":
                self.say(t("out_of_scope", self.loc), menu_buttons(self.loc))
                return
            if intent in ("affirm", "deny"):
                self.say(t("welcome", self.loc), menu_buttons(self.loc))
                return
            if intent not in CONVERSATION_INTENTS:
                # an intent staff taught in the admin console without a flow of its own:
                # filed as "other"; the ticket keeps the intent (nlu_intent) for staff
                self.start_report(FALLBACK_FLOW, text)
                return
        self.unsure(text)

    def unsure(self, text: str) -> None:
        """Two-stage fallback: offer the likely report categories, or say we didn't get it."""
        ranking = self.parse.ranking if self.parse else ()
        candidates = [s.name for s in ranking if s.name in self.cfg.flows][:3]
        top = ranking[0].name if ranking else ""
        report_like = top in self.cfg.flows or (
            top not in CONVERSATION_INTENTS and bool(candidates)
        )
        if self.intent == "out_of_scope" or not candidates or not report_like:
            if self.parse is not None and self.parse.first("building") is not None:
                self.start_from_details()
                return
            self.say(t("not_understood", self.loc), menu_buttons(self.loc))
            return
        self.state.stage = Stage.CLARIFYING
        self.state.candidates = candidates
        self.state.slots["description"] = text[: self.cfg.max_text]
        self.absorb_entities()
        self.state.nlu_intent, self.state.nlu_confidence = self.intent, self.confidence
        buttons = [Button(self.label(c), f"flow:{c}") for c in candidates]
        if FALLBACK_FLOW not in candidates:
            buttons.append(Button(t("clarify.other", self.loc), f"flow:{FALLBACK_FLOW}"))
        self.say(t("clarify", self.loc), buttons)

    def start_report(self, intent: str, text: str) -> None:
        keep = self.state.slots if self.state.stage == Stage.FILLING else {}
        self.turn.state = DialogueState(
            stage=Stage.FILLING,
            flow=intent,
            slots=dict(keep),
            worker_pending=self.state.worker_pending,
            urgent=self.state.urgent,
            nlu_intent=self.intent,
            nlu_confidence=self.confidence,
        )
        self.state.slots["description"] = text[: self.cfg.max_text]
        if self.parse is not None and self.parse.first("urgency") is not None:
            self.state.urgent = True
        self.absorb_entities()
        if self.state.urgent:
            advice = self.cfg.flows[intent].urgent_advice
            if advice:
                self.say(advice.get(self.loc) or advice["zh"])
        self.advance()

    def start_from_details(self) -> None:
        """'3幢2单元' with no problem stated: keep the details and ask what happened."""
        self.reset()
        self.state.stage = Stage.FILLING
        self.state.asking = "description"
        self.absorb_entities()
        building = self.state.slots.get("building_name", "")
        if building:
            self.say(t("ask.describe_at", self.loc, building=building))
        else:
            self.say(t("ask.describe", self.loc))

    def absorb_entities(self) -> None:
        """Fill whatever slots the message's entities answer, without overwriting answers."""
        if self.parse is None:
            return
        slots = self.state.slots
        building = self.parse.first("building")
        if building is not None and "building_id" not in slots:
            matches = resolve_building(
                building.value, self.ctx.buildings, community_id=self.ctx.community_id
            )
            if len(matches) == 1:
                self.set_building(matches[0])
            elif matches:
                slots["building_candidates"] = ",".join(str(b.id) for b in matches)
                slots["building_value"] = building.value
            else:
                slots["building_value"] = building.value
        for name in ("unit", "room", "phone", "plate"):
            entity = self.parse.first(name)
            if entity is not None and not slots.get(name):
                slots[name] = entity.value
        when = self.parse.first("time")
        if when is not None and "time" not in slots:
            slots["time"] = when.value

    def set_building(self, building: BuildingRef) -> None:
        self.state.slots["building"] = str(building.id)
        self.state.slots["building_id"] = str(building.id)
        self.state.slots["building_name"] = building.display()
        self.state.slots.pop("building_candidates", None)
        self.state.slots.pop("building_value", None)
        if self.ctx.home is not None and building.id == self.ctx.home.id:
            if self.ctx.unit:
                self.state.slots.setdefault("unit", self.ctx.unit)
            if self.ctx.room:
                self.state.slots.setdefault("room", self.ctx.room)

    # ---- slot filling -------------------------------------------------------------------

    def flow(self) -> ReportFlow | None:
        return self.cfg.flows.get(self.state.flow or "")

    def on_answer(self, text: str) -> None:
        asking = self.state.asking
        if asking == "description" and self.state.flow is None:
            self.on_description_for_new_report(text)
            return
        if asking == "description":
            self.state.slots["description"] = text[: self.cfg.max_text]
            self.absorb_entities()
        elif asking == "building":
            self.answer_building(text)
            return
        elif asking in ("unit", "room", "plate"):
            self.answer_simple(asking, text)
        elif asking == "phone":
            self.answer_phone(text)
            return
        elif asking == "photo":
            if not self.is_skip(text):
                note = self.state.slots.get("description", "")
                self.state.slots["description"] = f"{note}；{text}"[: self.cfg.max_text]
            self.state.slots["photo"] = ""
            self.absorb_entities()
        else:
            self.absorb_entities()
        self.state.asking = None
        self.after_fill()

    def on_description_for_new_report(self, text: str) -> None:
        """The resident was asked to describe a problem: classify it among report intents."""
        ranking = self.parse.ranking if self.parse else ()
        reports = [s for s in ranking if s.name in self.cfg.flows]
        if reports and reports[0].confidence >= self.cfg.clarify_threshold * 0.8:
            self.start_report(reports[0].name, text)
            return
        keep = dict(self.state.slots)
        self.reset()
        self.state.slots.update(keep)
        self.unsure(text)
        if self.state.stage != Stage.CLARIFYING:
            # nothing report-like at all: still a report, the residents' words matter
            self.turn.replies.clear()
            self.start_report(FALLBACK_FLOW, text)

    def is_skip(self, text: str) -> bool:
        return _key(text) in SKIP_WORDS or self.confident("deny")

    def answer_building(self, text: str) -> None:
        slots = self.state.slots
        self.absorb_entities()
        if "building_id" not in slots and "building_candidates" not in slots:
            matches = resolve_building(text, self.ctx.buildings, community_id=self.ctx.community_id)
            if len(matches) == 1:
                self.set_building(matches[0])
            elif matches:
                slots["building_candidates"] = ",".join(str(b.id) for b in matches)
                slots["building_value"] = text
        if "building_id" in slots:
            self.state.asking = None
            self.state.retries = 0
            self.after_fill()
            return
        if "building_candidates" in slots:
            self.ask_which_building()
            return
        self.state.retries += 1
        if self.state.retries > self.cfg.max_retries:
            # never trap a resident: route on their own words, staff will place it
            slots["building"] = ""
            slots["location_note"] = text[:100]
            self.state.asking = None
            self.state.retries = 0
            self.after_fill()
            return
        names = self.building_names()
        value = slots.pop("building_value", "")
        if value:
            self.say(t("ask.building.unknown", self.loc, value=value, names=names), ask="building")
        else:
            example = self.ctx.buildings[0].name if self.ctx.buildings else "3幢"
            self.say(
                t("ask.building.retry", self.loc, names=names, example=example), ask="building"
            )

    def building_names(self) -> str:
        pool = [b for b in self.ctx.buildings if self.ctx.community_id in (None, b.community_id)]
        names = [b.name for b in pool[:20]]
        more = "…" if len(pool) > 20 else ""
        return "、".join(names) + more if names else "-"

    def ask_which_building(self) -> None:
        ids = [int(i) for i in self.state.slots.get("building_candidates", "").split(",") if i]
        options = [b for b in self.ctx.buildings if b.id in ids]
        self.state.asking = "building"
        self.say(
            t("ask.building.which", self.loc, value=self.state.slots.get("building_value", "")),
            [Button(b.display(), f"building:{b.id}") for b in options],
        )

    def choose_building(self, building_id: int) -> None:
        match = [b for b in self.ctx.buildings if b.id == building_id]
        if not match or self.state.stage not in (Stage.FILLING, Stage.CONFIRMING):
            self.say(t("not_understood", self.loc))
            self.reprompt()
            return
        self.set_building(match[0])
        if self.state.asking == "building":
            self.state.asking = None
        self.after_fill()

    def answer_simple(self, name: str, text: str) -> None:
        slots = self.state.slots
        self.absorb_entities()
        if slots.get(name):
            return
        if self.is_skip(text):
            slots[name] = ""
            return
        value = text.strip()
        if name in ("unit", "room"):
            digits = re.sub(r"(单元|室|号|房)$", "", value)
            digits = re.sub(r"\s+", "", digits)
            slots[name] = digits[:20] if digits else ""
        else:
            slots[name] = value[:20].upper()

    def answer_phone(self, text: str) -> None:
        slots = self.state.slots
        self.absorb_entities()
        if slots.get("phone"):
            self.state.asking = None
            self.state.retries = 0
            self.after_fill()
            return
        if self.is_skip(text):
            slots["phone"] = ""
            self.state.asking = None
            self.after_fill()
            return
        self.state.retries += 1
        if self.state.retries > self.cfg.max_retries:
            slots["phone"] = ""
            self.state.asking = None
            self.state.retries = 0
            self.after_fill()
            return
        self.say(
            t("ask.phone.retry", self.loc),
            [Button(t("button.skip", self.loc), "skip")],
            ask="phone",
        )

    def on_skip(self) -> None:
        asking = self.state.asking
        if self.state.stage != Stage.FILLING or asking is None:
            self.reprompt_or_menu()
            return
        flow = self.flow()
        slot = flow.slot(asking) if flow else None
        if slot is not None and slot.required and asking != "description":
            self.reprompt()
            return
        self.state.slots[asking if asking != "photo" else "photo"] = ""
        self.state.asking = None
        self.after_fill()

    def after_fill(self) -> None:
        if self.state.editing:
            self.state.editing = False
            self.confirm()
            return
        self.advance()

    def next_slot(self) -> str | None:
        flow = self.flow()
        if flow is None:
            return "description"
        slots = self.state.slots
        for slot in flow.slots:
            name = slot.name
            filled = name in slots or (name == "building" and "building_id" in slots)
            if name == "photo":
                filled = "photo" in slots or bool(slots.get("photos"))
            if filled:
                continue
            if slot.required:
                return name
            if name == "phone" and self.ctx.phone:
                slots["phone"] = self.ctx.phone
                continue
            if not slot.ask or self.state.urgent:
                continue
            return name
        return None

    def advance(self) -> None:
        """Ask the next missing question, or confirm, or (urgent) file at once."""
        if "building_candidates" in self.state.slots and "building_id" not in self.state.slots:
            self.ask_which_building()
            return
        name = self.next_slot()
        if name is not None:
            self.ask(name)
            return
        if self.state.urgent:
            self.submit()
            return
        self.confirm()

    def ask(self, name: str) -> None:
        self.state.asking = name
        flow = self.flow()
        slot = flow.slot(name) if flow else None
        key = slot.prompt_key if slot else f"ask.{name}"
        buttons: list[Button] = []
        if slot is not None and not slot.required:
            buttons.append(Button(t("button.skip", self.loc), "skip"))
        buttons.append(Button(t("button.cancel", self.loc), "cancel"))
        self.say(t(key, self.loc), buttons, ask=name)

    def reprompt(self) -> None:
        """Repeat the pending question after an interruption (status, help …)."""
        stage = self.state.stage
        if stage == Stage.FILLING and self.state.asking:
            self.say(t("status.resume", self.loc))
            self.ask(self.state.asking)
        elif stage == Stage.CONFIRMING:
            self.confirm()
        elif stage == Stage.CLARIFYING:
            buttons = [Button(self.label(c), f"flow:{c}") for c in self.state.candidates]
            buttons.append(Button(t("clarify.other", self.loc), f"flow:{FALLBACK_FLOW}"))
            self.say(t("clarify", self.loc), buttons)
        elif stage == Stage.EDITING:
            self.on_edit("")
        elif stage == Stage.DUPLICATE and self.state.ticket:
            self.say_duplicate_offer()
        elif stage == Stage.SUPPLEMENT:
            self.ask_supplement()

    def reprompt_or_menu(self) -> None:
        if self.state.stage == Stage.IDLE:
            self.say(t("welcome", self.loc), menu_buttons(self.loc))
        else:
            self.reprompt()

    # ---- confirmation and editing ---------------------------------------------------------

    def summary_location(self) -> str:
        s = self.state.slots
        return location_text(
            s.get("building_name", ""),
            s.get("unit", ""),
            s.get("room", ""),
            s.get("location_note", ""),
            self.loc,
        )

    def confirm(self) -> None:
        s = self.state.slots
        self.state.stage = Stage.CONFIRMING
        self.state.asking = None
        extra = ""
        if s.get("plate"):
            extra += t("confirm.plate", self.loc, plate=s["plate"])
        photos = [p for p in s.get("photos", "").split(",") if p]
        if photos:
            extra += t("confirm.photos", self.loc, count=len(photos))
        phone = s.get("phone", "")
        text = t(
            "confirm",
            self.loc,
            category=self.label(self.state.flow or FALLBACK_FLOW),
            urgent=t("confirm.urgent", self.loc) if self.state.urgent else "",
            location=self.summary_location(),
            description=s.get("description", ""),
            extra=extra,
            phone=mask_phone(phone) if phone else t("confirm.no_phone", self.loc),
        )
        self.say(
            text,
            [
                Button(t("button.submit", self.loc), "confirm"),
                Button(t("button.edit", self.loc), "edit"),
                Button(t("button.cancel", self.loc), "cancel"),
            ],
        )

    def on_confirm_text(self, text: str) -> None:
        if self.confident("affirm") or _key(text) in {"确认", "提交", "确认提交", "是", "对", "好"}:
            self.submit()
            return
        if self.confident("deny") or _key(text) in {"修改", "改", "不对"}:
            self.on_edit("")
            return
        before = dict(self.state.slots)
        self.absorb_entities()
        if self.state.slots != before:
            self.confirm()
            return
        self.say(t("confirm.again", self.loc))
        self.confirm()

    def on_edit(self, field_name: str) -> None:
        if self.state.stage not in (Stage.CONFIRMING, Stage.EDITING):
            self.reprompt_or_menu()
            return
        if field_name in ("building", "description", "phone"):
            self.state.stage = Stage.FILLING
            self.state.editing = True
            if field_name == "building":
                for key in ("building", "building_id", "building_name", "unit", "room"):
                    self.state.slots.pop(key, None)
            else:
                self.state.slots.pop(field_name, None)
            self.ask(field_name)
            return
        self.state.stage = Stage.EDITING
        self.say(
            t("edit.which", self.loc),
            [
                Button(t("edit.building", self.loc), "edit:building"),
                Button(t("edit.description", self.loc), "edit:description"),
                Button(t("edit.phone", self.loc), "edit:phone"),
                Button(t("button.cancel", self.loc), "cancel"),
            ],
        )

    def on_edit_text(self, text: str) -> None:
        key = _key(text)
        for field_name, words in (
            ("building", ("地点", "楼栋", "地址", "place", "building")),
            ("description", ("描述", "问题", "问题描述", "description")),
            ("phone", ("电话", "手机", "联系电话", "phone")),
        ):
            if key in words:
                self.on_edit(field_name)
                return
        self.on_edit("")

    # ---- clarification --------------------------------------------------------------------

    def on_clarify_text(self, text: str) -> None:
        if self.intent in self.cfg.flows and self.confidence >= self.cfg.clarify_threshold:
            self.choose_flow(self.intent)
            return
        for candidate in self.state.candidates:
            if _key(text) == _key(self.label(candidate)):
                self.choose_flow(candidate)
                return
        self.reprompt()

    def choose_flow(self, intent: str) -> None:
        if self.state.stage not in (Stage.CLARIFYING, Stage.FILLING):
            self.say(t("not_understood", self.loc), menu_buttons(self.loc))
            return
        self.state.stage = Stage.FILLING
        self.state.flow = intent
        self.state.candidates = []
        self.state.asking = None
        if self.state.urgent:
            advice = self.cfg.flows[intent].urgent_advice
            if advice:
                self.say(advice.get(self.loc) or advice["zh"])
        self.advance()

    # ---- submit, cancel ---------------------------------------------------------------------

    def submit(self) -> None:
        flow = self.flow() or self.cfg.flows[FALLBACK_FLOW]
        s = self.state.slots
        phone = s.get("phone", "")
        extra = {k: s[k] for k in ("plate", "time") if s.get(k)}
        lat, lon = s.get("latitude"), s.get("longitude")
        building_id = s.get("building_id", "")
        action = CreateTicket(
            intent=flow.intent,
            category=flow.category,
            priority="urgent" if self.state.urgent else flow.priority,
            description=s.get("description", ""),
            building_id=int(building_id) if building_id.isdigit() else None,
            building_name=s.get("building_name", ""),
            unit=s.get("unit", ""),
            room=s.get("room", ""),
            location_note=s.get("location_note", ""),
            phone=phone,
            photos=tuple(int(p) for p in s.get("photos", "").split(",") if p.isdigit()),
            extra=extra,
            latitude=float(lat) if lat else None,
            longitude=float(lon) if lon else None,
            nlu_intent=self.state.nlu_intent,
            nlu_confidence=self.state.nlu_confidence,
            followup_phone=self.state.urgent and not phone,
        )
        self.turn.actions.append(action)
        self.reset()
        if action.followup_phone:
            # the ticket number is only known after filing: the service fills it in
            self.state.stage = Stage.FOLLOWUP_PHONE
            self.turn.after.append(
                Outbound(
                    text=t("urgent.followup_phone", self.loc),
                    data={"ask": "phone", "locale": self.loc},
                )
            )

    def cancel(self) -> None:
        if self.state.stage in (Stage.IDLE, Stage.FOLLOWUP_PHONE):
            self.reset()
            self.say(t("nothing_to_cancel", self.loc), menu_buttons(self.loc))
            return
        self.reset()
        self.say(t("cancelled", self.loc), menu_buttons(self.loc))

    def on_followup_phone(self, text: str) -> None:
        phone = self.parse.first("phone") if self.parse else None
        if phone is not None and self.state.ticket:
            self.turn.actions.append(AddContactPhone(self.state.ticket, phone.value))
            self.reset()
            return
        self.reset()
        if not self.is_skip(text):
            self.on_idle(text)

    # ---- status, rating, human agent -------------------------------------------------------

    def show_status(self, text: str = "") -> None:
        tickets = [*self.ctx.awaiting_rating, *self.ctx.open_tickets]
        wanted = ticket_numbers(text)
        if wanted:
            tickets = [tk for tk in tickets if tk.number in wanted] or tickets
        if not tickets and not self.ctx.followed_tickets:
            self.say(t("status.none", self.loc))
            return
        lines = [t("status.header", self.loc)]
        seen: set[str] = set()
        for ticket in tickets:
            if ticket.number in seen:
                continue
            seen.add(ticket.number)
            note = f"（{ticket.last_note}）" if ticket.last_note else ""
            lines.append(
                t(
                    "status.line",
                    self.loc,
                    number=ticket.number,
                    category=category_label(ticket.category, self.loc),
                    location=ticket.location,
                    status=status_text(ticket.status, self.loc),
                    note=note,
                )
            )
        mark = t("status.followed_mark", self.loc)
        for ticket in self.ctx.followed_tickets:
            if ticket.number in seen or (wanted and ticket.number not in wanted):
                continue
            seen.add(ticket.number)
            lines.append(
                t(
                    "status.line",
                    self.loc,
                    number=ticket.number,
                    category=category_label(ticket.category, self.loc),
                    location=ticket.location,
                    status=status_text(ticket.status, self.loc),
                    note=mark,
                )
            )
        buttons: tuple[Button, ...] = ()
        if self.ctx.awaiting_rating and self.state.stage == Stage.IDLE:
            buttons = rating_buttons(self.ctx.awaiting_rating[0].number, self.loc)
            lines.append(t("rate.ask_score", self.loc, number=self.ctx.awaiting_rating[0].number))
        elif self.ctx.open_tickets and self.state.stage == Stage.IDLE:
            buttons = tuple(
                Button(
                    t("supplement.button.status", self.loc, number=tk.number),
                    f"supplement:{tk.number}",
                )
                for tk in self.ctx.open_tickets[:3]
            )
        self.say("\n".join(lines), buttons)

    def rate(self, number: str, score: int) -> None:
        if not any(tk.number == number for tk in self.ctx.awaiting_rating):
            self.say(t("rate.nothing", self.loc))
            return
        self.turn.actions.append(RateTicket(number, score, self.msg.text.strip()[:200]))

    def request_callback(self) -> None:
        given = self.parse.first("phone") if self.parse else None
        phone = self.ctx.phone or (given.value if given else "")
        if not phone:
            self.state.stage = Stage.CALLBACK_PHONE
            self.say(
                t("human.need_phone", self.loc),
                [Button(t("button.cancel", self.loc), "cancel")],
                ask="phone",
            )
            return
        self.callback(phone)

    def on_callback_phone(self, text: str) -> None:
        phone = self.parse.first("phone") if self.parse else None
        if phone is None:
            if self.is_skip(text):
                self.reset()
                self.say(t("cancelled", self.loc))
                return
            self.say(
                t("ask.phone.retry", self.loc),
                [Button(t("button.cancel", self.loc), "cancel")],
                ask="phone",
            )
            return
        self.callback(phone.value)

    def callback(self, phone: str) -> None:
        building = self.state.slots.get("building_id", "")
        home = self.ctx.home.id if self.ctx.home else None
        self.turn.actions.append(
            RequestCallback(
                phone=phone,
                building_id=int(building) if building.isdigit() else home,
                note=self.msg.text.strip()[:200],
            )
        )
        if self.state.stage == Stage.CALLBACK_PHONE:
            self.reset()

    # ---- duplicates: follow the open ticket, add to one's own, or report anyway ----------

    def say_duplicate_offer(self) -> None:
        message = duplicate_offer(
            self.state.ticket or "",
            self.state.slots.get("dup_status", ""),
            bool(self.state.slots.get("dup_own")),
            self.loc,
        )
        self.turn.replies.append(message)

    def on_duplicate_choice(self, choice: str) -> None:
        draft = draft_from_dict(self.state.draft)
        number = self.state.ticket
        if self.state.stage != Stage.DUPLICATE or draft is None or not number:
            self.say(t("not_understood", self.loc), menu_buttons(self.loc))
            return
        anyway = replace(draft, allow_duplicate=True)
        if choice == "follow":
            self.turn.actions.append(FollowTicket(number, anyway))
        elif choice == "add":
            self.turn.actions.append(AddSupplement(number, draft.description, draft.photos, anyway))
        elif choice == "new":
            self.turn.actions.append(anyway)
        else:
            self.say_duplicate_offer()
            return
        self.reset()

    def on_duplicate_text(self, text: str) -> None:
        key = _key(text)
        own = bool(self.state.slots.get("dup_own"))
        if key in NEW_REPORT_WORDS or self.confident("deny"):
            self.on_duplicate_choice("new")
        elif key in FOLLOW_WORDS or self.confident("affirm") or key in {"补充", "补充到该工单"}:
            self.on_duplicate_choice("add" if own else "follow")
        else:
            self.state.retries += 1
            if self.state.retries > self.cfg.max_retries:
                # never trap a resident: their words become the report they meant to file
                self.on_duplicate_choice("new")
                return
            self.say_duplicate_offer()

    # ---- adding information or photos to an open ticket --------------------------------

    def own_open(self, number: str) -> bool:
        return any(tk.number == number for tk in self.ctx.open_tickets)

    def pending_content(self) -> tuple[str, tuple[int, ...]]:
        slots = self.state.slots
        photos = tuple(int(p) for p in slots.get("photos", "").split(",") if p.isdigit())
        return slots.get("description", ""), photos

    def ask_supplement(self) -> None:
        if self.state.ticket:
            self.say(
                t("supplement.ask", self.loc, number=self.state.ticket),
                [Button(t("button.cancel", self.loc), "cancel")],
            )
            return
        buttons = [
            Button(t("supplement.button", self.loc, number=tk.number), f"supplement:{tk.number}")
            for tk in self.ctx.open_tickets[:3]
        ]
        photos = bool(self.state.slots.get("photos"))
        if photos:
            buttons.append(Button(t("button.new_report", self.loc), "newreport"))
        buttons.append(Button(t("button.cancel", self.loc), "cancel"))
        key = "supplement.photo_choice" if photos else "supplement.choose"
        self.say(t(key, self.loc), buttons)

    def supplement(self, number: str, text: str, photos: tuple[int, ...]) -> None:
        self.turn.actions.append(AddSupplement(number, text[: self.cfg.max_text], photos))
        self.reset()

    def on_supplement_button(self, number: str) -> None:
        if not self.own_open(number):
            self.reset()
            self.say(t("supplement.not_open", self.loc, number=number))
            return
        text, photos = self.pending_content()
        if self.state.stage == Stage.SUPPLEMENT and (text or photos):
            self.supplement(number, text, photos)
            return
        self.reset()
        self.state.stage = Stage.SUPPLEMENT
        self.state.ticket = number
        self.ask_supplement()

    def on_supplement_media(self, photos: list[int]) -> None:
        caption = self.msg.text.strip()
        if self.state.stage == Stage.SUPPLEMENT and self.state.ticket:
            text, held = self.pending_content()
            self.supplement(self.state.ticket, caption or text, (*held, *photos))
            return
        # a photo while tickets are open: never guess — ask where it belongs
        if self.state.stage != Stage.SUPPLEMENT:
            self.reset()
            self.state.stage = Stage.SUPPLEMENT
        existing = [p for p in self.state.slots.get("photos", "").split(",") if p]
        self.state.slots["photos"] = ",".join([*existing, *map(str, photos)])
        if caption:
            self.state.slots["description"] = caption[: self.cfg.max_text]
        self.ask_supplement()

    def on_supplement_text(self, text: str) -> None:
        held_text, photos = self.pending_content()
        if self.state.ticket:
            self.supplement(self.state.ticket, text, photos)
            return
        chosen = [n for n in ticket_numbers(text) if self.own_open(n)]
        if chosen:
            self.supplement(chosen[0], held_text, photos)
            return
        self.state.retries += 1
        if self.state.retries > self.cfg.max_retries:
            self.reset()
            self.on_idle(text)
            return
        self.ask_supplement()

    def on_new_report_button(self) -> None:
        """'新报事' after a photo: the photo starts a new report, as it would with no tickets."""
        text, photos = self.pending_content()
        if self.state.stage != Stage.SUPPLEMENT or not photos:
            self.on_button("report")
            return
        self.reset()
        self.state.stage = Stage.FILLING
        self.state.slots["photo"] = "yes"
        self.state.slots["photos"] = ",".join(map(str, photos))
        self.state.asking = "description"
        if text:
            self.on_text(text)
            return
        self.say(t("photo_received_ask", self.loc))

    def on_supplement_command(self, text: str) -> bool:
        """'补充 MH-… 水越来越大了' / '补充：…': True when handled as a supplement."""
        match = _SUPPLEMENT.match(text)
        if match is None:
            return False
        number = (match.group("number") or "").upper()
        rest = match.group("rest").strip()
        if _key(rest) in {"", "照片", "图片", "一下", "说明"}:
            rest = ""
        if number and not self.own_open(number):
            self.say(t("supplement.not_open", self.loc, number=number))
            return True
        if not number:
            if not self.ctx.open_tickets:
                if rest:
                    return False  # no open ticket: it may well be a new report
                self.say(t("supplement.none", self.loc), menu_buttons(self.loc))
                return True
            if len(self.ctx.open_tickets) == 1:
                number = self.ctx.open_tickets[0].number
        if number and rest:
            self.supplement(number, rest, ())
            return True
        self.reset()
        self.state.stage = Stage.SUPPLEMENT
        self.state.ticket = number or None
        if rest:
            self.state.slots["description"] = rest[: self.cfg.max_text]
        self.ask_supplement()
        return True

    def label(self, intent: str) -> str:
        flow = self.cfg.flows.get(intent)
        if flow is None:
            return intent
        return flow.label.get(self.loc) or flow.label["zh"]


def step(
    state: DialogueState,
    msg: Inbound,
    parse: Parse | None,
    ctx: ResidentContext,
    cfg: DialogueConfig,
) -> Turn:
    """Advance a resident's conversation by one message.

    Pure: no I/O, no clock (``ctx.now``), no randomness. The service loads ``state`` and
    ``ctx`` inside the conversation lock, runs the returned actions in one transaction and
    saves ``turn.state``.

    Args:
        state: the conversation state before the message.
        msg: the message (text, button, photos, location).
        parse: the NLU parse of ``msg.text`` (None for buttons and media without text).
        ctx: the resident, the registry's buildings and their tickets.
        cfg: the flows and thresholds.

    Returns:
        The new state, replies to send now, actions to run, and replies to send after them.
    """
    return _Step(state, msg, parse, ctx, cfg).run()
