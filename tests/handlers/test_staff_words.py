"""What staff read: statuses in the office's voice, every event and intent named in Chinese,
locations written the usual way."""

from __future__ import annotations

import re

import pytest

from handlers.lifecycle import Move, Status
from handlers.staff_ticket_service import EVENT_LABELS
from handlers.staff_words import channel_label, intent_label, place, staff_status

HAN = re.compile("[\u4e00-\u9fff]")


@pytest.mark.parametrize("status", list(Status))
def test_every_status_has_a_staff_name_that_does_not_address_the_resident(status: Status) -> None:
    label = staff_status(status.value)
    assert HAN.search(label) and "您" not in label


@pytest.mark.parametrize("move", list(Move))
def test_every_timeline_entry_has_a_chinese_name(move: Move) -> None:
    assert HAN.search(EVENT_LABELS.get(move.value, "")), move


@pytest.mark.parametrize(
    ("building", "unit", "room", "written"),
    [
        ("2幢", "3", "502", "2幢3单元502室"),
        ("2幢", "3单元", "502室", "2幢3单元502室"),
        ("2幢", "", "502", "2幢502室"),
        ("综合楼", "", "", "综合楼"),
        ("5幢", "东", "", "5幢东"),
    ],
)
def test_a_location_reads_the_way_people_write_it(
    building: str, unit: str, room: str, written: str
) -> None:
    assert place(building, unit, room) == written


def test_every_intent_of_the_training_data_has_a_chinese_name() -> None:
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "nlu" / "data"
    intents = set()
    for path in data.rglob("*.yml"):
        intents |= set(re.findall(r"^- intent: ([a-z_]+)", path.read_text("utf-8"), re.M))
    assert len(intents) > 10
    assert [i for i in sorted(intents) if not HAN.search(intent_label(i))] == []
    assert intent_label("report_elevator") == "报事：电梯故障"
    assert channel_label("wechat") == "微信公众号"


def test_audit_entries_read_as_sentences() -> None:
    from handlers.staff_words import audit_action, audit_changes

    assert audit_action("ticket.close") == "关闭工单"
    assert audit_action("ticket.something_new") == "工单操作"
    assert audit_changes(
        {"status": "assigned", "category": "noise", "assignee_id": 3},
        {"status": "closed", "category": "noise", "assignee_id": 3},
    ) == ["状态：已派单，待接单 → 已关闭"]
    assert audit_changes({}, {"active": False, "role": "admin"}) == ["启用：否", "角色：管理员"]
    assert audit_changes(None, None) == []
