"""The dialogue's data: stages, the conversation state, the resident's context, actions, turns.

Everything here is plain data (the state round-trips through JSON in the session store); the
stage modules read and change it, the service runs the actions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from handlers.address import BuildingIndex, BuildingRef, building_index
from handlers.flows import FLOWS, ReportFlow
from handlers.grid_notices import NoticeBrief
from handlers.messages import Outbound


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
    # typed messages in a row the bot could not make sense of (not understood, or asked back
    # which kind of problem): at DialogueConfig.stuck_handoff_after a person takes over
    stuck: int = 0

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
            "stuck": self.stuck,
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
            stuck=int(data.get("stuck") or 0),
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
    buildings: Sequence[BuildingRef] = ()  # always a BuildingIndex once built
    open_tickets: tuple[TicketBrief, ...] = ()
    awaiting_rating: tuple[TicketBrief, ...] = ()
    followed_tickets: tuple[TicketBrief, ...] = ()  # others' tickets the resident follows
    # active notices that reach the resident's home, or the building the message names
    notices: tuple[NoticeBrief, ...] = ()
    notice_place: str = ""  # that named building ("阳光花园社区5幢"); empty: the home

    def __post_init__(self) -> None:
        # the dialogue looks buildings up by key and id; index a plain list once, here
        if not isinstance(self.buildings, BuildingIndex):
            object.__setattr__(self, "buildings", BuildingIndex(self.buildings))

    @property
    def index(self) -> BuildingIndex:
        """The registered buildings, indexed."""
        return building_index(self.buildings)


@dataclass(frozen=True, slots=True)
class DialogueConfig:
    flows: Mapping[str, ReportFlow] = field(default_factory=lambda: FLOWS)
    clarify_threshold: float = 0.55
    # 其他问题 (the catch-all) is filed at once only when the specific categories together get
    # less than this share of the confidence; else the resident picks among them (buttons,
    # 其他问题 included). Real letters read as 其他问题 were half the wrong filings
    # (bench/real_residents.py --chat: filed wrong 0.037 -> 0.028 on community-dev).
    fallback_share: float = 0.03
    ttl_seconds: int = 1800
    max_retries: int = 2
    max_text: int = 2000
    location_radius_m: float = 300.0
    stuck_handoff_after: int = 3  # typed messages in a row not understood → staff inbox


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
class HandToStaff:
    """The bot cannot help: the conversation goes to the staff inbox (no phone needed)."""

    note: str
    building_id: int | None
    reason: str = "bot_stuck"


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


@dataclass(frozen=True, slots=True)
class WithdrawTicket:
    """The resident withdraws (撤销) one of their own reports that is not yet resolved."""

    number: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SetNotices:
    """关闭通知 / 开启通知: the resident turns notices off or on."""

    on: bool


Action = (
    CreateTicket
    | RateTicket
    | AddContactPhone
    | RequestCallback
    | HandToStaff
    | FollowTicket
    | AddSupplement
    | WithdrawTicket
    | SetNotices
)


def draft_to_dict(action: CreateTicket) -> dict[str, Any]:
    """A held report as JSON (kept in the conversation state while the resident decides)."""
    data = asdict(action)
    data["photos"] = list(action.photos)
    data["extra"] = dict(action.extra)
    return data


def draft_from_dict(data: Mapping[str, Any] | None) -> CreateTicket | None:
    """The held report back from JSON (None when there is none or it no longer fits)."""
    if not data:
        return None
    try:
        values = {k: v for k, v in data.items() if k in CreateTicket.__dataclass_fields__}
        values["photos"] = tuple(int(p) for p in values.get("photos") or ())
        values["extra"] = {str(k): str(v) for k, v in dict(values.get("extra") or {}).items()}
        return CreateTicket(**values)
    except (TypeError, ValueError):
        return None


@dataclass(slots=True)
class Turn:
    """The result of one step: the new state, replies now, actions, replies after the actions."""

    state: DialogueState
    replies: list[Outbound] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    after: list[Outbound] = field(default_factory=list)
