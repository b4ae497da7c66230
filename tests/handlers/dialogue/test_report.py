"""The report being built: the next question and filing it, called directly."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.dialogue import CreateTicket, DialogueState, Stage, report
from tests.factories import parse_of
from tests.handlers.dialogue.support import BUILDINGS, CTX, form_of, make, texts


@pytest.mark.parametrize(
    ("state", "phone", "expected"),
    [
        (DialogueState(stage=Stage.FILLING), "", "description"),  # no flow yet
        (form_of("report_elevator"), "", "unit"),
        (form_of("report_elevator", unit=""), "", "phone"),  # skipped unit stays skipped
        (form_of("report_elevator", unit=""), "13900001111", None),  # remembered phone fills in
        (replace(form_of("report_elevator"), urgent=True), "", None),  # urgent: no optional asks
        (form_of("report_parking", plate=""), "", "photo"),
        (form_of("report_parking", plate="", photos="7"), "", "phone"),  # a photo was sent
    ],
)
def test_the_next_question_is_the_first_missing_slot_of_the_flow(
    state: DialogueState, phone: str, expected: str | None
) -> None:
    s = make(state, ctx=replace(CTX, phone=phone))
    assert report.next_slot(s) == expected


def test_entities_fill_unanswered_slots_but_never_overwrite_answers() -> None:
    parse = parse_of(
        "inform", 0.9, entities={"building": "4号楼", "unit": "1", "room": "302", "time": "昨晚"}
    )
    s = make(form_of("report_noise", room="501"), "4号楼1单元302 昨晚", parse)
    report.absorb_entities(s)
    slots = s.state.slots
    assert (slots["building_id"], slots["room"]) == ("3", "501")  # answers kept
    assert (slots["unit"], slots["time"]) == ("1", "昨晚")  # new facts taken


def test_the_home_building_brings_the_remembered_unit_and_room() -> None:
    home = replace(CTX, home=BUILDINGS[3], unit="2", room="201")
    s = make(DialogueState(stage=Stage.FILLING), ctx=home)
    report.set_building(s, BUILDINGS[3])
    assert (s.state.slots["unit"], s.state.slots["room"]) == ("2", "201")
    s = make(DialogueState(stage=Stage.FILLING), ctx=replace(CTX, home=BUILDINGS[3], unit="2"))
    report.set_building(s, BUILDINGS[0])
    assert "unit" not in s.state.slots


@pytest.mark.parametrize(
    ("urgent", "phone", "priority", "stage", "after"),
    [
        (False, "13812345678", "high", Stage.IDLE, []),
        (True, "13812345678", "urgent", Stage.IDLE, []),
        (
            True,
            "",
            "urgent",
            Stage.FOLLOWUP_PHONE,
            ["为了让网格员马上联系到您，请回复您的手机号。"],
        ),
    ],
)
def test_submit_files_the_report_and_asks_an_urgent_reporter_for_a_phone_after(
    urgent: bool, phone: str, priority: str, stage: Stage, after: list[str]
) -> None:
    state = form_of("report_elevator", unit="2", phone=phone, photos="7,8", time="刚才")
    state.urgent = urgent
    s = make(state)
    report.submit(s)
    [action] = s.turn.actions
    assert isinstance(action, CreateTicket)
    assert (action.priority, action.building_id, action.photos) == (priority, 3, (7, 8))
    assert action.extra == {"time": "刚才"}
    assert action.followup_phone == (urgent and not phone)
    assert s.state.stage == stage
    assert [r.text for r in s.turn.after] == after
    assert texts(s) == []
