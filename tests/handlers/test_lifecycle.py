"""The ticket state machine: allowed moves and refused ones."""

from __future__ import annotations

import pytest

from handlers.errors import InvalidTransition
from handlers.lifecycle import TRANSITIONS, Move, Status, allowed, next_status


@pytest.mark.parametrize(
    ("status", "move", "after"),
    [
        ("submitted", Move.ASSIGN, "assigned"),
        ("assigned", Move.ACCEPT, "accepted"),
        ("accepted", Move.PROGRESS, "in_progress"),
        ("in_progress", Move.PROGRESS, "in_progress"),
        ("in_progress", Move.RESOLVE, "resolved"),
        ("accepted", Move.RESOLVE, "resolved"),
        ("resolved", Move.RATE, "closed"),
        ("resolved", Move.REOPEN, "reopened"),
        ("reopened", Move.ACCEPT, "accepted"),
        ("accepted", Move.TRANSFER, "transferred"),
        ("transferred", Move.ACCEPT, "accepted"),
        ("assigned", Move.ESCALATE, "escalated"),
        ("submitted", Move.CANCEL, "cancelled"),
        ("assigned", Move.MERGE, "merged"),
        ("resolved", Move.CLOSE, "closed"),
    ],
)
def test_allowed_moves_reach_the_expected_status(status: str, move: Move, after: str) -> None:
    assert next_status(status, move) == after


@pytest.mark.parametrize(
    ("status", "move"),
    [
        ("assigned", Move.RESOLVE),  # must be accepted first
        ("closed", Move.REOPEN),
        ("closed", Move.PROGRESS),
        ("cancelled", Move.ACCEPT),
        ("resolved", Move.TRANSFER),
        ("accepted", Move.CANCEL),
        ("merged", Move.ASSIGN),
        ("in_progress", Move.RATE),
    ],
)
def test_refused_moves_raise_when_not_allowed(status: str, move: Move) -> None:
    with pytest.raises(InvalidTransition):
        next_status(status, move)
    assert not allowed(status, move)


def test_unknown_status_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        next_status("lost", Move.ACCEPT)


def test_final_states_have_no_way_out() -> None:
    finals = {Status.CLOSED, Status.CANCELLED, Status.MERGED}
    # a staff note may still be added to a closed ticket, but nothing leaves a final status
    leaving = [key for key, after in TRANSITIONS.items() if key[0] in finals and after != key[0]]
    assert not leaving
    assert {move for (status, move) in TRANSITIONS if status in finals} == {Move.NOTE}


@pytest.mark.parametrize(
    ("status", "move", "after"),
    [
        ("accepted", Move.HANDOFF, "in_progress"),
        ("assigned", Move.HANDOFF, "in_progress"),  # staff hand it on before anyone accepted
        ("in_progress", Move.COHANDLE, "in_progress"),
        ("in_progress", Move.DEPARTMENT_REPLY, "in_progress"),
        ("resolved", Move.DEPARTMENT_REPLY, "resolved"),  # a late reply still reaches the timeline
        ("assigned", Move.SUPPLEMENT, "assigned"),
        ("escalated", Move.FOLLOW, "escalated"),
        ("in_progress", Move.MERGE, "merged"),  # duplicates spotted late
        ("accepted", Move.ABSORB, "accepted"),
        ("escalated", Move.ESCALATE, "escalated"),  # the next level
        ("closed", Move.NOTE, "closed"),
        ("assigned", Move.REMIND, "assigned"),
        ("accepted", Move.OVERDUE, "accepted"),
    ],
)
def test_lifecycle_moves_are_in_the_same_table(status: str, move: Move, after: str) -> None:
    assert next_status(status, move) == after


@pytest.mark.parametrize(
    ("status", "move"),
    [
        ("closed", Move.SUPPLEMENT),  # add to a closed ticket: report again instead
        ("resolved", Move.FOLLOW),
        ("merged", Move.ABSORB),
        ("closed", Move.HANDOFF),
        ("accepted", Move.ESCALATE),  # someone is on it: overdue, not escalate
        ("resolved", Move.REMIND),
        ("cancelled", Move.DEPARTMENT_REPLY),
        ("closed", Move.MERGE),
    ],
)
def test_lifecycle_moves_are_refused_with_a_clear_error(status: str, move: Move) -> None:
    with pytest.raises(InvalidTransition, match=f"cannot {move.value} a ticket that is {status}"):
        next_status(status, move)


def test_every_status_means_something_in_plain_words() -> None:
    from handlers.i18n import STATUS_TEXT

    for status in Status:
        assert STATUS_TEXT[status.value]["zh"] and STATUS_TEXT[status.value]["en"]


def test_the_actor_names_who_made_a_move() -> None:
    from handlers.lifecycle import Actor

    assert Actor.worker(7, "张伟").worker_id == 7
    assert Actor.admin("liu").kind == "admin" and Actor.admin("liu").worker_id is None
    assert Actor.system().name == "系统"
