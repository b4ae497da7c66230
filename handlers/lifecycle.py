"""The ticket state machine: every allowed move, in one place.

Every change to a ticket is a ``Move`` (the kind of its ``TicketEvent``). ``TRANSITIONS`` maps
(status, move) to the status after it; a move missing from the table is refused with
``InvalidTransition`` and nothing changes. Some moves keep the status (a progress note, a
reminder, a department's reply): they are in the table too, so "may this happen now?" has
one answer for the chat, the SLA sweeper and the admin console alike.

```mermaid
stateDiagram-v2
    [*] --> submitted
    submitted --> assigned: assign
    assigned --> accepted: accept
    transferred --> accepted: accept
    escalated --> accepted: accept
    reopened --> accepted: accept
    accepted --> in_progress: progress / handoff
    in_progress --> in_progress: progress / handoff
    assigned --> in_progress: handoff (to a department)
    accepted --> resolved: resolve
    in_progress --> resolved: resolve
    resolved --> closed: rate (satisfied) / close (no rating in time)
    resolved --> reopened: reopen (unsatisfied)
    submitted --> transferred: transfer
    assigned --> transferred: transfer
    accepted --> transferred: transfer
    in_progress --> transferred: transfer
    reopened --> transferred: transfer
    escalated --> transferred: transfer
    submitted --> escalated: escalate
    assigned --> escalated: escalate
    transferred --> escalated: escalate
    reopened --> escalated: escalate
    escalated --> escalated: escalate (next level)
    submitted --> cancelled: cancel
    assigned --> cancelled: cancel
    accepted --> cancelled: withdraw (by the resident, any open status)
    submitted --> merged: merge
    assigned --> merged: merge
    accepted --> merged: merge
    in_progress --> merged: merge
    closed --> [*]
    cancelled --> [*]
    merged --> [*]
```
(``merge`` and ``handoff`` also leave submitted, transferred, escalated and reopened tickets;
moves that keep the status are listed in ``SAME_STATUS``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers.errors import InvalidTransition
from handlers.routing import Role


class Status(StrEnum):
    SUBMITTED = "submitted"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    TRANSFERRED = "transferred"
    ESCALATED = "escalated"
    REOPENED = "reopened"
    CANCELLED = "cancelled"
    MERGED = "merged"


class Move(StrEnum):
    """What happens to a ticket (the kind of its TicketEvent)."""

    ASSIGN = "assign"
    ACCEPT = "accept"
    PROGRESS = "progress"
    RESOLVE = "resolve"
    RATE = "rate"
    CLOSE = "close"
    REOPEN = "reopen"
    TRANSFER = "transfer"
    ESCALATE = "escalate"
    CANCEL = "cancel"
    MERGE = "merge"
    # moves that keep the status (or only nudge it: handoff starts the work)
    HANDOFF = "handoff"  # handed to a department; the assignee stays accountable
    COHANDLE = "cohandle"  # a department added as co-handler
    DEPARTMENT_REPLY = "department_reply"
    SUPPLEMENT = "supplement"  # the resident added information or photos
    FOLLOW = "follow"  # another resident follows the ticket (same problem)
    ABSORB = "merge_in"  # another ticket was merged into this one
    NOTE = "note"  # a staff note
    REMIND = "remind"  # SLA: a deadline is near
    OVERDUE = "overdue"  # SLA: the resolution deadline passed, supervisors told
    CALLBACK = "callback"  # the worker called the resident back (or could not reach them)
    CALLBACK_ESCALATE = "callback_overdue"  # SLA: no call-back in time, supervisors told
    WITHDRAW = "withdraw"  # the resident withdrew their own report before it was resolved
    # the street level (issue 14)
    REFER_STREET = "refer_street"  # the community refers the ticket up to the street
    SEND_BACK = "send_back"  # the street returns it to the community with an instruction
    FORWARD_CITY = "forward_city"  # the street hands it to the city's 12345 hotline
    CITY_REPLY = "city_reply"  # 12345 answered (the work order stays open there)
    CITY_RESOLVE = "city_resolve"  # 12345 closed its work order: resolved, the resident rates


S, M = Status, Move
WAITING_FOR_ACCEPT = frozenset({S.ASSIGNED, S.TRANSFERRED, S.ESCALATED, S.REOPENED})
WORKING = frozenset({S.ACCEPTED, S.IN_PROGRESS})
OPEN = frozenset({S.SUBMITTED, *WAITING_FOR_ACCEPT, *WORKING})
FINAL = frozenset({S.CLOSED, S.CANCELLED, S.MERGED})
ALL = frozenset(Status)
# the open statuses as stored (for SQL "status IN (...)" filters)
OPEN_STATUSES = tuple(sorted(s.value for s in OPEN))

TRANSITIONS: dict[tuple[Status, Move], Status] = {
    (S.SUBMITTED, M.ASSIGN): S.ASSIGNED,
    **{(s, M.ACCEPT): S.ACCEPTED for s in WAITING_FOR_ACCEPT},
    **{(s, M.PROGRESS): S.IN_PROGRESS for s in WORKING},
    **{(s, M.RESOLVE): S.RESOLVED for s in WORKING},
    (S.RESOLVED, M.RATE): S.CLOSED,
    (S.RESOLVED, M.CLOSE): S.CLOSED,
    (S.RESOLVED, M.REOPEN): S.REOPENED,
    **{(s, M.TRANSFER): S.TRANSFERRED for s in OPEN},
    **{(s, M.ESCALATE): S.ESCALATED for s in (S.SUBMITTED, *WAITING_FOR_ACCEPT)},
    **{(s, M.CANCEL): S.CANCELLED for s in (S.SUBMITTED, S.ASSIGNED)},
    # staff spot duplicates late: a ticket being worked on can still be merged away
    **{(s, M.MERGE): S.MERGED for s in OPEN},
    # a department can take over before anyone accepted (staff hand it over from the console)
    **{(s, M.HANDOFF): S.IN_PROGRESS for s in OPEN},
    **{(s, M.COHANDLE): s for s in OPEN},
    **{(s, M.DEPARTMENT_REPLY): s for s in (*OPEN, S.RESOLVED)},
    **{(s, M.SUPPLEMENT): s for s in OPEN},
    **{(s, M.FOLLOW): s for s in OPEN},
    **{(s, M.ABSORB): s for s in OPEN},
    **{(s, M.NOTE): s for s in ALL},
    **{(s, M.REMIND): s for s in OPEN},
    **{(s, M.OVERDUE): s for s in OPEN},
    **{(s, M.CALLBACK): s for s in OPEN},
    **{(s, M.CALLBACK_ESCALATE): s for s in OPEN},
    **{(s, M.WITHDRAW): S.CANCELLED for s in OPEN},
    **{(s, M.REFER_STREET): s for s in OPEN},
    **{(s, M.SEND_BACK): s for s in OPEN},
    **{(s, M.FORWARD_CITY): s for s in OPEN},
    **{(s, M.CITY_REPLY): s for s in OPEN},
    **{(s, M.CITY_RESOLVE): S.RESOLVED for s in OPEN},
}

# moves after which the status is what it was (shown in the README's table)
SAME_STATUS = frozenset(
    {
        M.COHANDLE,
        M.DEPARTMENT_REPLY,
        M.SUPPLEMENT,
        M.FOLLOW,
        M.ABSORB,
        M.NOTE,
        M.REMIND,
        M.OVERDUE,
        M.CALLBACK,
        M.CALLBACK_ESCALATE,
        M.REFER_STREET,
        M.SEND_BACK,
        M.FORWARD_CITY,
        M.CITY_REPLY,
    }
)


def next_status(current: str, move: Move) -> Status:
    """The status after a move, or InvalidTransition (state unchanged) if not allowed."""
    try:
        status = Status(current)
    except ValueError as e:
        raise InvalidTransition(f"unknown status {current!r}") from e
    target = TRANSITIONS.get((status, move))
    if target is None:
        raise InvalidTransition(f"cannot {move.value} a ticket that is {status.value}")
    return target


def allowed(current: str, move: Move) -> bool:
    try:
        return (Status(current), move) in TRANSITIONS
    except ValueError:
        return False


def is_open(status: str) -> bool:
    return status in {s.value for s in OPEN}


def is_waiting(status: str) -> bool:
    """Nobody has accepted it yet (the first-response clock runs)."""
    return status == S.SUBMITTED or status in {s.value for s in WAITING_FOR_ACCEPT}


# --- who acts -------------------------------------------------------------------------------


# the escalation ladder: grid worker → grid leader → community staff → street staff; beyond
# the street a ticket leaves the ladder for the city's 12345 hotline (by hand, FORWARD_CITY)
LEVELS: dict[str, int] = {
    Role.GRID_WORKER: 0,
    Role.GRID_LEADER: 1,
    Role.COMMUNITY_STAFF: 2,
    Role.STREET_STAFF: 3,
}
COMMUNITY_LEVEL = 2
STREET_LEVEL = 3
TOP_LEVEL = STREET_LEVEL


def role_level(role: str | None) -> int:
    """A role's rung on the escalation ladder (unknown roles count as grid workers)."""
    return LEVELS.get(role or "", 0)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a move: recorded on every TicketEvent.

    Attributes:
        kind: ``resident`` | ``worker`` | ``department`` | ``admin`` | ``system``.
        id: their id in that world (worker id, resident id, department id, console user).
        name: a display name for timelines and messages.
    """

    kind: str
    id: str = ""
    name: str = ""

    @classmethod
    def system(cls, name: str = "系统") -> Actor:
        return cls("system", "", name)

    @classmethod
    def admin(cls, user: str, name: str = "") -> Actor:
        """A staff member acting in the admin console (authenticated there)."""
        return cls("admin", user, name or user)

    @classmethod
    def worker(cls, worker_id: int | None, name: str) -> Actor:
        return cls("worker", str(worker_id or ""), name)

    @classmethod
    def resident(cls, resident_id: int | None, name: str = "居民") -> Actor:
        return cls("resident", str(resident_id or ""), name)

    @classmethod
    def department(cls, department_id: int | None, name: str) -> Actor:
        return cls("department", str(department_id or ""), name)

    @property
    def worker_id(self) -> int | None:
        return int(self.id) if self.kind == "worker" and self.id.isdigit() else None
