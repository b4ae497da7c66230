"""A city's registry: every community has a "3幢", so a resident with no known community is
asked which community (or street) it is, never shown hundreds of buttons."""

from __future__ import annotations

from dataclasses import replace

from handlers.address import BuildingRef
from handlers.dialogue import DialogueState, Stage, filling
from handlers.dialogue.prompts import MAX_CHOICES
from tests.handlers.dialogue.support import CTX, make, payloads, texts

NAMES = ["阳光花园", "翠苑", "金桂家园", "紫荆小区", "锦绣苑", "碧水花园"]
STREETS = ["东湖街道", "西溪街道"]
# 2 streets × 6 communities, each with 1幢..3幢: 12 buildings called 3幢
CITY = tuple(
    BuildingRef(
        id=100 * c + n,
        name=f"{n}幢",
        aliases=(f"{n}号楼",),
        community_id=c,
        community=f"{STREETS[c % 2][:2]}{NAMES[(c - 1) // 2]}",
        street=STREETS[c % 2],
    )
    for c in range(1, 13)
    for n in range(1, 4)
)


def asking_building(text: str) -> tuple[object, DialogueState]:
    ctx = replace(CTX, buildings=CITY, community_id=None)
    state = DialogueState(stage=Stage.FILLING, flow="report_elevator", asking="building")
    state.slots["description"] = "电梯坏了"
    s = make(state, text, ctx=ctx)
    filling.on_text(s, text)
    return s, s.state


def test_a_building_every_community_has_asks_for_the_community_instead_of_buttons() -> None:
    s, state = asking_building("3幢")
    assert len(CITY) // 3 > MAX_CHOICES
    reply = s.turn.replies[0]  # type: ignore[attr-defined]
    assert reply.buttons == ()
    assert reply.text.startswith("有12个小区都有“3幢”。请问是哪个小区？")
    assert state.asking == "building" and "building_id" not in state.slots


def test_the_community_named_in_answer_settles_the_building() -> None:
    _, state = asking_building("3幢")
    community = CITY[0].community  # community 1, its 3幢 is building 103
    s2 = make(state, community, ctx=replace(CTX, buildings=CITY, community_id=None))
    filling.on_text(s2, community)
    assert s2.state.slots["building_id"] == "103"
    assert s2.state.slots["building_name"] == f"{community}3幢"
    assert s2.state.asking == "unit"


def test_a_street_narrows_the_choice_to_its_communities() -> None:
    _, state = asking_building("3幢")
    ctx = replace(CTX, buildings=CITY, community_id=None)
    s = make(state, "西溪街道", ctx=ctx)
    filling.on_text(s, "西溪街道")
    assert [b.street for b in CITY if f"building:{b.id}" in payloads(s.turn.replies[0])] == [
        "西溪街道"
    ] * 6
    assert texts(s) == ["有几处叫“3幢”的楼栋，请选择："]


def test_a_community_and_building_in_one_message_needs_no_question() -> None:
    text = f"{CITY[4].community}3幢"
    _, state = asking_building(text)
    assert state.slots["building_id"] == str(CITY[4].community_id * 100 + 3)
