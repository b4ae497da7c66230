"""SLA rules as a specification: targets, working hours, clock plans, decisions, escalation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.lifecycle import Move
from handlers.routing import GridRef, WorkerRef
from handlers.sla import (
    CallbackMissed,
    ClockKind,
    CloseUnrated,
    Escalate,
    Overdue,
    Remind,
    Skip,
    SlaPolicy,
    SlaTarget,
    SlaTicket,
    WorkingHours,
    decide,
    duration_text,
    escalation_targets,
    plan,
    plan_callback,
    plan_new,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # a Friday, 17:00 in Shanghai
OFFICE = WorkingHours.from_settings(
    {
        "working_hours": {
            "timezone": "Asia/Shanghai",
            "days": [1, 2, 3, 4, 5],
            "hours": ["08:30-12:00", "13:30-17:30"],
            "holidays": ["2026-11-23"],
            "workdays": ["2026-11-28"],
        }
    }
)


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


# --- targets ----------------------------------------------------------------------------------


def test_default_targets_are_the_street_offices() -> None:
    policy = SlaPolicy()
    assert policy.target("elevator", "urgent").accept == timedelta(minutes=10)
    assert policy.target("parking", "normal") == SlaTarget(timedelta(hours=2), timedelta(days=3))
    high = policy.target("elevator", "high")
    assert timedelta(minutes=10) < high.accept < timedelta(hours=2)
    assert timedelta(hours=24) <= high.resolve <= timedelta(days=3)


def test_category_override_wins_over_the_priority_default() -> None:
    fast = SlaTarget(timedelta(minutes=5), timedelta(hours=4))
    policy = SlaPolicy(categories={"elevator": {"urgent": fast}})
    assert policy.target("elevator", "urgent") == fast
    assert policy.target("safety", "urgent").accept == timedelta(minutes=10)
    assert policy.target("other", "unknown-priority") == policy.targets["normal"]


# --- working hours ----------------------------------------------------------------------------


def test_clock_runs_only_in_office_hours_across_the_weekend_and_a_holiday() -> None:
    assert OFFICE is not None
    # Friday 17:00 + 2 h: 30 min on Friday; Monday 23rd is a holiday; Tuesday 08:30 + 1 h 30
    due = OFFICE.add(local(2026, 11, 20, 17, 0), timedelta(hours=2))
    assert due == local(2026, 11, 24, 10, 0)


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        (local(2026, 11, 24, 9, 0), timedelta(hours=1), local(2026, 11, 24, 10, 0)),
        # the lunch break pauses the clock
        (local(2026, 11, 24, 11, 30), timedelta(hours=1), local(2026, 11, 24, 14, 0)),
        # reported at night: the clock starts when the office opens
        (local(2026, 11, 24, 22, 0), timedelta(minutes=30), local(2026, 11, 25, 9, 0)),
        # a make-up working Saturday (调休) counts
        (local(2026, 11, 27, 17, 0), timedelta(hours=1), local(2026, 11, 28, 9, 0)),
    ],
)
def test_working_time_is_added_inside_the_hours(
    start: datetime, duration: timedelta, due: datetime
) -> None:
    assert OFFICE is not None
    assert OFFICE.add(start, duration) == due


def test_no_working_hours_means_the_clock_never_pauses() -> None:
    assert WorkingHours.from_settings({}) is None
    assert WorkingHours.from_settings(None) is None


@pytest.mark.parametrize(
    "raw",
    [
        {"hours": ["9-17"]},
        {"hours": ["17:00-09:00"]},
        {"days": [0, 8]},
        {"timezone": "Mars/Olympus"},
        {"hours": ["08:00-12:00", "11:00-13:00"]},
        {"holidays": ["next tuesday"]},
    ],
)
def test_bad_working_hours_are_refused_with_a_clear_error(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        WorkingHours.from_settings({"working_hours": raw})


def test_is_open_follows_days_hours_and_holidays() -> None:
    assert OFFICE is not None
    assert OFFICE.is_open(local(2026, 11, 24, 9, 0))
    assert not OFFICE.is_open(local(2026, 11, 24, 12, 30))  # lunch
    assert not OFFICE.is_open(local(2026, 11, 22, 10, 0))  # Sunday
    assert not OFFICE.is_open(local(2026, 11, 23, 10, 0))  # holiday


# --- plans ------------------------------------------------------------------------------------

POLICY = SlaPolicy()


def kinds(clock_plan: object) -> list[tuple[str, int]]:
    return [(c.kind.value, c.level) for c in clock_plan.start]  # type: ignore[attr-defined]


def test_assignment_starts_the_accept_clock_and_its_reminder_at_eighty_percent() -> None:
    ticket = SlaTicket("elevator", "urgent", "assigned", handler_level=0)
    result = plan(Move.ASSIGN, ticket, T0, POLICY, None)
    assert result.cancel >= {ClockKind.ACCEPT, ClockKind.ACCEPT_REMIND}
    remind, accept = result.start
    assert (remind.kind, accept.kind, accept.level) == (
        ClockKind.ACCEPT_REMIND,
        ClockKind.ACCEPT,
        1,
    )
    assert accept.due_at == T0 + timedelta(minutes=10)
    assert remind.due_at == T0 + timedelta(minutes=8)
    assert remind.deadline_at == accept.due_at


def test_urgent_tickets_ignore_office_hours_and_normal_ones_respect_them() -> None:
    urgent = plan(Move.ASSIGN, SlaTicket("safety", "urgent", "assigned"), T0, POLICY, OFFICE)
    normal = plan(Move.ASSIGN, SlaTicket("parking", "normal", "assigned"), T0, POLICY, OFFICE)
    assert urgent.start[-1].due_at == T0 + timedelta(minutes=10)
    assert normal.start[-1].due_at == local(2026, 11, 24, 10, 0)


def test_a_leader_assignee_escalates_straight_to_community_staff() -> None:
    result = plan(Move.ASSIGN, SlaTicket("noise", "normal", "assigned", 1), T0, POLICY, None)
    assert kinds(result)[-1] == ("accept", 2)


def test_escalation_starts_the_next_level_and_stops_at_the_top() -> None:
    first = plan(Move.ESCALATE, SlaTicket("x", "urgent", "escalated"), T0, POLICY, None, level=1)
    assert kinds(first) == [("accept", 2)]
    assert first.start[0].due_at == T0 + timedelta(minutes=10)
    staff = plan(Move.ESCALATE, SlaTicket("x", "urgent", "escalated"), T0, POLICY, None, level=2)
    assert kinds(staff) == [("accept", 3)]  # community staff next, then the street
    top = plan(Move.ESCALATE, SlaTicket("x", "urgent", "escalated"), T0, POLICY, None, level=3)
    assert top.start == () and ClockKind.ACCEPT in top.cancel


@pytest.mark.parametrize(
    ("move", "cancelled", "started"),
    [
        (Move.ACCEPT, {"accept", "accept_remind"}, []),
        (Move.HANDOFF, {"accept", "accept_remind"}, []),
        (
            Move.RESOLVE,
            {"accept", "accept_remind", "resolve", "resolve_remind", "callback"},
            [("rating", 0)],
        ),
        (Move.REOPEN, {"rating"}, [("resolve_remind", 1), ("resolve", 1)]),
        (Move.RATE, {k.value for k in ClockKind}, []),
        (Move.CLOSE, {k.value for k in ClockKind}, []),
        (Move.MERGE, {k.value for k in ClockKind}, []),
        (Move.CANCEL, {k.value for k in ClockKind}, []),
        (Move.WITHDRAW, {k.value for k in ClockKind}, []),
        (Move.CALLBACK, {"callback"}, []),
        (Move.CALLBACK_ESCALATE, set(), [("callback", 2)]),
        (Move.PROGRESS, set(), []),
    ],
)
def test_each_move_stops_and_starts_its_clocks(
    move: Move, cancelled: set[str], started: list[tuple[str, int]]
) -> None:
    result = plan(move, SlaTicket("noise", "normal", "accepted"), T0, POLICY, None)
    assert {k.value for k in result.cancel} == cancelled
    assert kinds(result) == started


def test_rating_waits_three_days_of_the_residents_time_not_office_time() -> None:
    result = plan(Move.RESOLVE, SlaTicket("noise", "normal", "resolved"), T0, POLICY, OFFICE)
    assert result.start[0].due_at == T0 + timedelta(days=3)


def test_a_new_ticket_runs_its_resolution_clock_from_the_report() -> None:
    result = plan_new(SlaTicket("parking", "normal", "assigned"), T0, POLICY, None)
    assert kinds(result) == [("resolve_remind", 1), ("resolve", 1)]
    assert result.start[1].due_at == T0 + timedelta(days=3)
    unassigned = plan_new(SlaTicket("parking", "normal", "submitted"), T0, POLICY, None)
    assert ("accept", 2) in kinds(unassigned)


def test_overdue_tells_the_next_level_a_step_later() -> None:
    result = plan(Move.OVERDUE, SlaTicket("x", "normal", "accepted"), T0, POLICY, None, level=1)
    assert kinds(result) == [("resolve", 2)]
    assert result.start[0].due_at == T0 + timedelta(hours=24)
    street = plan(Move.OVERDUE, SlaTicket("x", "normal", "accepted"), T0, POLICY, None, level=2)
    assert kinds(street) == [("resolve", 3)]
    assert (
        plan(Move.OVERDUE, SlaTicket("x", "normal", "accepted"), T0, POLICY, None, level=3).start
        == ()
    )


# --- decisions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "deadline", "expected"),
    [
        ("accept", "assigned", None, Escalate(1)),
        ("accept", "escalated", None, Escalate(1)),
        ("accept", "accepted", None, Skip("already accepted")),
        ("accept_remind", "assigned", T0 + timedelta(minutes=1), Remind("accept")),
        ("accept_remind", "assigned", T0, Skip("deadline passed before the reminder went out")),
        ("accept_remind", "in_progress", None, Skip("already in_progress")),
        ("resolve", "in_progress", None, Overdue(1)),
        ("resolve", "assigned", None, Overdue(1)),
        ("resolve", "resolved", None, Skip("already resolved")),
        ("resolve_remind", "accepted", T0 + timedelta(hours=1), Remind("resolve")),
        ("rating", "resolved", None, CloseUnrated()),
        ("rating", "closed", None, Skip("already closed")),
    ],
)
def test_a_due_clock_decides_from_the_tickets_status(
    kind: str, status: str, deadline: datetime | None, expected: object
) -> None:
    assert decide(kind, level=1, status=status, now=T0, deadline_at=deadline) == expected


# --- escalation targets -----------------------------------------------------------------------

GRIDS = {
    1: GridRef(1, "第一网格", 1),
    2: GridRef(2, "第一网格A微网格", 1, parent_id=1, level="micro_grid"),
}


def worker(wid: int, role: str, grid: int | None, on_duty: bool = True) -> WorkerRef:
    return WorkerRef(wid, f"w{wid}", role, 1, grid, on_duty=on_duty)


def test_level_one_reaches_the_nearest_grid_leader_up_the_chain() -> None:
    workers = [
        worker(1, "grid_worker", 2),
        worker(2, "grid_leader", 1),
        worker(3, "grid_leader", None),
        worker(4, "community_staff", None),
    ]
    level, targets = escalation_targets(1, grid_id=2, community_id=1, grids=GRIDS, workers=workers)
    assert (level, [w.id for w in targets]) == (1, [2])


def test_level_one_without_leaders_goes_to_community_staff() -> None:
    workers = [worker(1, "grid_worker", 2), worker(4, "community_staff", None)]
    assert escalation_targets(1, grid_id=2, community_id=1, grids=GRIDS, workers=workers) == (
        2,
        [workers[1]],
    )


def test_off_duty_staff_still_hear_when_nobody_is_on_duty() -> None:
    workers = [worker(4, "community_staff", None, on_duty=False)]
    _, targets = escalation_targets(2, grid_id=None, community_id=1, grids=GRIDS, workers=workers)
    assert [w.id for w in targets] == [4]


def test_the_assignee_is_never_their_own_supervisor() -> None:
    workers = [worker(3, "grid_leader", None), worker(4, "community_staff", None)]
    level, targets = escalation_targets(
        1, grid_id=1, community_id=1, grids=GRIDS, workers=workers, exclude=frozenset({3})
    )
    assert (level, [w.id for w in targets]) == (2, [4])


def test_level_three_reaches_the_street_staff_of_the_communitys_street() -> None:
    zhou = replace(worker(9, "street_staff", None), street_id=7)
    other = replace(worker(10, "street_staff", None), street_id=8)
    workers = [worker(4, "community_staff", None), zhou, other]
    assert escalation_targets(
        3, grid_id=2, community_id=1, grids=GRIDS, workers=workers, street_of={1: 7}
    ) == (3, [zhou])
    # a community without staff goes straight to its street; without a street, nobody
    assert escalation_targets(
        2, grid_id=2, community_id=1, grids=GRIDS, workers=[zhou], street_of={1: 7}
    ) == (3, [zhou])
    assert escalation_targets(3, grid_id=2, community_id=1, grids=GRIDS, workers=workers) == (
        3,
        [],
    )


def test_send_back_restarts_the_communitys_clocks_and_12345_stops_ours() -> None:
    back = plan(Move.SEND_BACK, SlaTicket("x", "normal", "escalated"), T0, POLICY, None)
    assert back.cancel == {"accept", "accept_remind", "resolve", "resolve_remind"}
    assert sorted(kinds(back)) == [
        ("accept", 1),
        ("accept_remind", 1),
        ("resolve", 1),
        ("resolve_remind", 1),
    ]
    working = plan(Move.SEND_BACK, SlaTicket("x", "normal", "accepted"), T0, POLICY, None)
    assert sorted(kinds(working)) == [("resolve", 1), ("resolve_remind", 1)]
    city = plan(Move.FORWARD_CITY, SlaTicket("x", "normal", "accepted"), T0, POLICY, None)
    assert city.start == () and ClockKind.RESOLVE in city.cancel


@pytest.mark.parametrize(
    ("seconds", "zh", "en"),
    [
        (600, "10分钟", "10 min"),
        (7200, "2小时", "2 h"),
        (5400, "1小时30分钟", "1 h 30 min"),
        (259200, "3天", "3 days"),
    ],
)
def test_durations_read_naturally(seconds: int, zh: str, en: str) -> None:
    assert duration_text(seconds) == zh
    assert duration_text(seconds, "en") == en


def test_a_normal_report_gets_a_ten_minute_call_back_clock_from_the_report() -> None:
    ticket = SlaTicket("noise", "normal", "submitted")
    [clock] = plan_callback(ticket, T0, POLICY, None, phone=True).start
    assert (clock.kind, clock.level, clock.due_at) == (
        ClockKind.CALLBACK,
        1,
        T0 + timedelta(minutes=10),
    )


def test_no_call_back_clock_when_the_accept_clock_already_rings_as_early_or_it_is_off() -> None:
    urgent = SlaTicket("x", "urgent", "submitted")
    assert plan_callback(urgent, T0, POLICY, None, phone=True).start == ()
    off = replace(POLICY, callback=timedelta(0))
    normal = SlaTicket("x", "normal", "submitted")
    assert plan_callback(normal, T0, off, None, phone=True).start == ()


def test_no_call_back_clock_without_a_phone_to_call() -> None:
    ticket = SlaTicket("noise", "normal", "submitted")
    assert plan_callback(ticket, T0, POLICY, None, phone=False).start == ()


def test_the_call_back_clock_stops_at_the_top_of_the_ladder() -> None:
    top = plan(
        Move.CALLBACK_ESCALATE, SlaTicket("x", "normal", "assigned"), T0, POLICY, None, level=2
    )
    assert top.start == ()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("assigned", CallbackMissed(1)),
        ("in_progress", CallbackMissed(1)),
        ("resolved", Skip("already resolved")),
        ("cancelled", Skip("already cancelled")),
    ],
)
def test_a_due_call_back_clock_escalates_only_open_tickets(status: str, expected: object) -> None:
    decision = decide("callback", level=1, status=status, now=T0, deadline_at=None)
    assert decision == expected
