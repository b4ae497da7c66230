"""A community, a resident and a step for calling one dialogue stage directly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from handlers.address import BuildingRef
from handlers.dialogue import DialogueConfig, DialogueState, ResidentContext, Stage, TicketBrief
from handlers.dialogue.base import Step
from handlers.messages import Outbound
from nlu.types import Parse
from tests.factories import inbound

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SUNNY = "阳光花园社区"
BUILDINGS = tuple(
    BuildingRef(id=n, name=f"{n}幢", aliases=(f"{n}号楼",), community_id=1, community=SUNNY)
    for n in range(1, 6)
)
# another community with a building of the same name
ELSEWHERE = BuildingRef(id=9, name="3幢", aliases=("3号楼",), community_id=2, community="翠苑社区")
CTX = ResidentContext(now=NOW, buildings=BUILDINGS, community_id=1)
CFG = DialogueConfig(clarify_threshold=0.55, max_retries=2)

FIRST, SECOND, OTHERS = "MH-20261122-0001", "MH-20261122-0002", "MH-20261122-0009"


def brief(number: str, status: str = "assigned", note: str = "") -> TicketBrief:
    return TicketBrief(number, "elevator", status, location="3幢", last_note=note)


def make(
    state: DialogueState | None = None,
    text: str = "",
    parse: Parse | None = None,
    ctx: ResidentContext = CTX,
    cfg: DialogueConfig = CFG,
    **message: Any,
) -> Step:
    """A step on ``text`` (and any other message fields) in ``state``."""
    return Step(state or DialogueState(), inbound(text, **message), parse, ctx, cfg)


def form_of(
    flow: str = "report_elevator", asking: str | None = None, **slots: str
) -> DialogueState:
    """A report of ``flow`` at 3幢 being filled, asking for ``asking``."""
    known = {"description": "电梯坏了", "building": "3", "building_id": "3", "building_name": "3幢"}
    return DialogueState(stage=Stage.FILLING, flow=flow, asking=asking, slots=known | slots)


def texts(s: Step) -> list[str]:
    return [r.text for r in s.turn.replies]


def payloads(reply: Outbound) -> list[str]:
    return [b.payload for b in reply.buttons]
