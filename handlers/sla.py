"""SLA rules (pure): targets, working hours, which clocks a move starts or stops, what a due
clock does, and whom an escalation reaches.

The clocks themselves are rows in the database (``TicketClock``), written in the same
transaction as the move that starts them; ``handlers/sla_service.py`` sweeps them.

```mermaid
sequenceDiagram
    participant W as grid worker
    participant C as clocks
    participant L as grid leader
    participant S as community staff
    participant T as street staff
    Note over C: assign → accept clock (level 1) + reminder at 80 %
    C-->>W: reminder: the accept deadline is near
    C->>L: accept deadline missed → escalate (level 1); next accept clock (level 2)
    C-->>W: "escalated to the grid leader"
    C->>S: still not accepted → escalate (level 2)
    C->>T: still not accepted → escalate to the street (level 3); T sends it back or to 12345
    W->>C: accept → accept clocks cancelled
    Note over C: resolve clock runs from the report; missed → overdue to leader, then staff
    Note over C: resolve → rating clock (3 days) → closed as unrated
```
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.lifecycle import COMMUNITY_LEVEL, STREET_LEVEL, TOP_LEVEL, Move, is_open, is_waiting
from handlers.routing import GridRef, Role, WorkerRef, grid_chain


class ClockKind(StrEnum):
    ACCEPT = "accept"  # first response: escalate when nobody accepted in time
    ACCEPT_REMIND = "accept_remind"
    RESOLVE = "resolve"  # resolution: supervisors told when it is not resolved in time
    RESOLVE_REMIND = "resolve_remind"
    RATING = "rating"  # no rating in time: closed as unrated
    CALLBACK = "callback"  # the promised call-back to the resident did not happen in time


ACCEPT_CLOCKS = frozenset({ClockKind.ACCEPT, ClockKind.ACCEPT_REMIND})
RESOLVE_CLOCKS = frozenset({ClockKind.RESOLVE, ClockKind.RESOLVE_REMIND})
CALLBACK_CLOCKS = frozenset({ClockKind.CALLBACK})
ALL_CLOCKS = frozenset(ClockKind)


# --- targets --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaTarget:
    """How long first response (accept) and resolution may take."""

    accept: timedelta
    resolve: timedelta


DEFAULT_TARGETS: Mapping[str, SlaTarget] = {
    "urgent": SlaTarget(timedelta(minutes=10), timedelta(hours=24)),
    "high": SlaTarget(timedelta(minutes=30), timedelta(hours=48)),
    "normal": SlaTarget(timedelta(hours=2), timedelta(days=3)),
    "low": SlaTarget(timedelta(hours=4), timedelta(days=5)),
}


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """The configured SLA (built from settings in bot/; defaults are the street office's).

    Attributes:
        targets: per priority.
        categories: per category, per priority overrides (``{"elevator": {"high": …}}``).
        remind_at: reminders go out at this fraction of a window (0 disables them).
        rating_timeout: a resolved ticket without a rating closes after this.
        overdue_step: after a missed resolution deadline, the next level is told this later.
        always_on: priorities whose clocks ignore working hours.
        callback: the grid worker calls the resident back within this (the seeds' 10-minute
            promise; zero turns the call-back clock off). Measured like the accept target:
            outside working hours it waits for the office to open, except for urgent reports.
    """

    targets: Mapping[str, SlaTarget] = field(default_factory=lambda: dict(DEFAULT_TARGETS))
    categories: Mapping[str, Mapping[str, SlaTarget]] = field(default_factory=dict)
    remind_at: float = 0.8
    rating_timeout: timedelta = timedelta(days=3)
    overdue_step: timedelta = timedelta(hours=24)
    always_on: frozenset[str] = frozenset({"urgent"})
    callback: timedelta = timedelta(minutes=10)

    def target(self, category: str, priority: str) -> SlaTarget:
        override = self.categories.get(category, {}).get(priority)
        if override is not None:
            return override
        return self.targets.get(priority) or self.targets.get("normal") or DEFAULT_TARGETS["normal"]

    def uses_working_hours(self, priority: str) -> bool:
        return priority not in self.always_on


# --- working hours --------------------------------------------------------------------------

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
MAX_DAYS = 800  # a calendar with no working time within two years is treated as an error


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """A community's office hours: clocks of non-urgent tickets run only inside them.

    Configured in ``Community.settings["working_hours"]``::

        {"timezone": "Asia/Shanghai", "days": [1, 2, 3, 4, 5],
         "hours": ["08:30-12:00", "13:30-17:30"],
         "holidays": ["2026-10-01"], "workdays": ["2026-10-10"]}

    ``days`` are ISO weekdays (1 = Monday); ``holidays`` close a working day, ``workdays``
    open a weekend day (调休).
    """

    tz: ZoneInfo
    days: frozenset[int]
    intervals: tuple[tuple[time, time], ...]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> WorkingHours | None:
        """Parse a community's settings; None when it has no working hours (clocks run 24/7).

        Raises:
            ValueError: the configuration is malformed (the message says what is wrong).
        """
        raw = (settings or {}).get("working_hours")
        if not raw:
            return None
        if not isinstance(raw, Mapping):
            raise ValueError("working_hours must be an object")
        try:
            tz = ZoneInfo(str(raw.get("timezone") or "Asia/Shanghai"))
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown timezone {raw.get('timezone')!r}") from e
        days = frozenset(int(d) for d in raw.get("days") or (1, 2, 3, 4, 5))
        if not days or not days <= set(range(1, 8)):
            raise ValueError("days must be ISO weekdays 1..7")
        intervals: list[tuple[time, time]] = []
        for text in raw.get("hours") or ("08:30-17:30",):
            match = _HOURS.match(str(text))
            if match is None:
                raise ValueError(f"hours must look like 08:30-17:30, not {text!r}")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if not (0 <= h1 < 24 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60):
                raise ValueError(f"bad time in {text!r}")
            start = time(h1, m1)
            end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
            if end <= start:
                raise ValueError(f"{text!r} ends before it starts")
            intervals.append((start, end))
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            if start < end:
                raise ValueError("working hours overlap")
        try:
            holidays = frozenset(date.fromisoformat(str(d)) for d in raw.get("holidays") or ())
            workdays = frozenset(date.fromisoformat(str(d)) for d in raw.get("workdays") or ())
        except ValueError as e:
            raise ValueError(f"holidays/workdays must be YYYY-MM-DD dates: {e}") from e
        return cls(tz, days, tuple(intervals), holidays, workdays)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.isoweekday() in self.days and day not in self.holidays

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        if not self.is_working_day(local.date()):
            return False
        return any(start <= local.time() < end for start, end in self.intervals)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """``start`` plus ``duration`` of working time (the clock pauses outside the hours)."""
        remaining = duration
        if remaining <= timedelta(0):
            return start
        cursor = start.astimezone(self.tz)
        for _ in range(MAX_DAYS):
            day = cursor.date()
            if self.is_working_day(day):
                for opens, closes in self.intervals:
                    seg_end = datetime.combine(day, closes, self.tz)
                    if seg_end <= cursor:
                        continue
                    seg_start = max(datetime.combine(day, opens, self.tz), cursor)
                    # through UTC: differences of aware datetimes in one zone ignore DST
                    available = seg_end.astimezone(UTC) - seg_start.astimezone(UTC)
                    if remaining <= available:
                        return (seg_start.astimezone(UTC) + remaining).astimezone(UTC)
                    remaining -= available
            cursor = datetime.combine(day + timedelta(days=1), time(0), self.tz)
        raise ValueError("no working time within two years: check the working hours")


def add_time(start: datetime, duration: timedelta, hours: WorkingHours | None) -> datetime:
    """Wall-clock time, or working time when the community keeps office hours."""
    if hours is None:
        return start + duration
    return hours.add(start, duration)


# --- which clocks a move starts and stops -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockSpec:
    """A clock to start."""

    kind: ClockKind
    due_at: datetime
    level: int = 0
    target_seconds: int = 0
    deadline_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClockPlan:
    """What a move does to a ticket's clocks: cancel pending ones of some kinds, start others."""

    cancel: frozenset[ClockKind] = frozenset()
    start: tuple[ClockSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class SlaTicket:
    """The facts of a ticket the clocks depend on (after the move)."""

    category: str
    priority: str
    status: str
    handler_level: int = 0  # the assignee's rung: 0 grid worker, 1 grid leader, 2 staff


def _window(
    kind: ClockKind,
    remind: ClockKind | None,
    *,
    start: datetime,
    duration: timedelta,
    level: int,
    policy: SlaPolicy,
    hours: WorkingHours | None,
) -> tuple[ClockSpec, ...]:
    deadline = add_time(start, duration, hours)
    clocks = [ClockSpec(kind, deadline, level, int(duration.total_seconds()))]
    if remind is not None and 0 < policy.remind_at < 1:
        at = add_time(start, duration * policy.remind_at, hours)
        clocks.insert(0, ClockSpec(remind, at, level, int(duration.total_seconds()), deadline))
    return tuple(clocks)


def plan_new(
    ticket: SlaTicket, now: datetime, policy: SlaPolicy, hours: WorkingHours | None
) -> ClockPlan:
    """Clocks of a ticket just filed: resolution runs from the report."""
    hours = hours if policy.uses_working_hours(ticket.priority) else None
    target = policy.target(ticket.category, ticket.priority)
    start = _window(
        ClockKind.RESOLVE,
        ClockKind.RESOLVE_REMIND,
        start=now,
        duration=target.resolve,
        level=1,
        policy=policy,
        hours=hours,
    )
    if ticket.status == "submitted":
        # nobody could be routed: the first response is the community's to give
        start += _window(
            ClockKind.ACCEPT,
            None,
            start=now,
            duration=target.accept,
            level=COMMUNITY_LEVEL,
            policy=policy,
            hours=hours,
        )
    return ClockPlan(start=start)


def plan_callback(
    ticket: SlaTicket,
    now: datetime,
    policy: SlaPolicy,
    hours: WorkingHours | None,
    *,
    phone: bool,
) -> ClockPlan:
    """The call-back clock of a ticket just filed (before it is routed, so the task card can
    show the deadline), or of one whose resident has just left a phone (it runs from then).

    None when the promise is off, when there is no phone to call (the worker answers in the
    chat, under the accept clock), or when the accept target is no longer than the call-back
    target (urgent: 10 minutes): the accept clock already escalates at that minute, and a
    second alarm to the same leader at the same minute would only be noise.
    """
    hours = hours if policy.uses_working_hours(ticket.priority) else None
    if policy.callback <= timedelta(0) or not phone:
        return ClockPlan()
    if policy.target(ticket.category, ticket.priority).accept <= policy.callback:
        return ClockPlan()
    due = add_time(now, policy.callback, hours)
    return ClockPlan(
        start=(ClockSpec(ClockKind.CALLBACK, due, 1, int(policy.callback.total_seconds())),)
    )


def plan(
    move: Move,
    ticket: SlaTicket,
    now: datetime,
    policy: SlaPolicy,
    hours: WorkingHours | None,
    *,
    level: int | None = None,
) -> ClockPlan:
    """The clocks a move starts and stops.

    Args:
        move: the move just made.
        ticket: the ticket after the move.
        now: when it was made.
        policy: the SLA.
        hours: the community's working hours (None: 24/7).
        level: for ESCALATE and OVERDUE, the level just reached.
    """
    hours = hours if policy.uses_working_hours(ticket.priority) else None
    target = policy.target(ticket.category, ticket.priority)
    next_level = min(TOP_LEVEL, ticket.handler_level + 1)
    if move in (Move.ASSIGN, Move.TRANSFER):
        return ClockPlan(
            cancel=ACCEPT_CLOCKS,
            start=_window(
                ClockKind.ACCEPT,
                ClockKind.ACCEPT_REMIND,
                start=now,
                duration=target.accept,
                level=next_level,
                policy=policy,
                hours=hours,
            ),
        )
    if move in (Move.ACCEPT, Move.HANDOFF):
        # a hand-off to a department is a first response too: someone is on it
        return ClockPlan(cancel=ACCEPT_CLOCKS)
    if move == Move.ESCALATE:
        reached = level if level is not None else next_level
        start: tuple[ClockSpec, ...] = ()
        if reached < TOP_LEVEL and is_waiting(ticket.status):
            start = _window(
                ClockKind.ACCEPT,
                None,
                start=now,
                duration=target.accept,
                level=reached + 1,
                policy=policy,
                hours=hours,
            )
        return ClockPlan(cancel=ACCEPT_CLOCKS, start=start)
    if move == Move.OVERDUE:
        reached = level if level is not None else 1
        if reached >= TOP_LEVEL:
            return ClockPlan()
        return ClockPlan(
            start=(
                ClockSpec(
                    ClockKind.RESOLVE,
                    add_time(now, policy.overdue_step, hours),
                    reached + 1,
                    int(policy.overdue_step.total_seconds()),
                ),
            )
        )
    if move == Move.CALLBACK:
        # called back (or tried to): the promise is kept, the clock stops
        return ClockPlan(cancel=CALLBACK_CLOCKS)
    if move == Move.CALLBACK_ESCALATE:
        reached = level if level is not None else 1
        # a missed call-back is the community's to chase: it stops at community staff
        if reached >= COMMUNITY_LEVEL:
            return ClockPlan()
        return ClockPlan(
            start=(
                ClockSpec(
                    ClockKind.CALLBACK,
                    add_time(now, policy.callback, hours),
                    reached + 1,
                    int(policy.callback.total_seconds()),
                ),
            )
        )
    if move == Move.SEND_BACK:
        # back in the community with an instruction: its clocks start again from now
        restart = _window(
            ClockKind.RESOLVE,
            ClockKind.RESOLVE_REMIND,
            start=now,
            duration=target.resolve,
            level=1,
            policy=policy,
            hours=hours,
        )
        if is_waiting(ticket.status):
            restart += _window(
                ClockKind.ACCEPT,
                ClockKind.ACCEPT_REMIND,
                start=now,
                duration=target.accept,
                level=next_level,
                policy=policy,
                hours=hours,
            )
        return ClockPlan(cancel=ACCEPT_CLOCKS | RESOLVE_CLOCKS, start=restart)
    if move == Move.FORWARD_CITY:
        # the city's hotline runs its own clock; ours would only chase the street about it
        return ClockPlan(cancel=ACCEPT_CLOCKS | RESOLVE_CLOCKS | CALLBACK_CLOCKS)
    if move in (Move.RESOLVE, Move.CITY_RESOLVE):
        due = now + policy.rating_timeout  # the resident's time, not office hours
        return ClockPlan(
            cancel=ACCEPT_CLOCKS | RESOLVE_CLOCKS | CALLBACK_CLOCKS,
            start=(
                ClockSpec(ClockKind.RATING, due, 0, int(policy.rating_timeout.total_seconds())),
            ),
        )
    if move == Move.REOPEN:
        return ClockPlan(
            cancel=frozenset({ClockKind.RATING}),
            start=_window(
                ClockKind.RESOLVE,
                ClockKind.RESOLVE_REMIND,
                start=now,
                duration=target.resolve,
                level=1,
                policy=policy,
                hours=hours,
            ),
        )
    if move in (Move.RATE, Move.CLOSE, Move.CANCEL, Move.MERGE, Move.WITHDRAW):
        return ClockPlan(cancel=ALL_CLOCKS)
    return ClockPlan()


# --- what a due clock does ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Escalate:
    level: int


@dataclass(frozen=True, slots=True)
class Remind:
    what: str  # accept | resolve


@dataclass(frozen=True, slots=True)
class Overdue:
    level: int


@dataclass(frozen=True, slots=True)
class CloseUnrated:
    pass


@dataclass(frozen=True, slots=True)
class CallbackMissed:
    level: int


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str


Decision = Escalate | Remind | Overdue | CloseUnrated | CallbackMissed | Skip


def decide(
    kind: str, *, level: int, status: str, now: datetime, deadline_at: datetime | None
) -> Decision:
    """What a due clock does to a ticket in ``status``.

    Moves cancel the clocks they stop, so a skip is the exception: it covers a ticket changed
    by a path that stops no clock, and reminders whose deadline passed while nobody swept
    (after downtime the deadline fires, not a stale "deadline is near").
    """
    if kind == ClockKind.ACCEPT:
        return Escalate(level) if is_waiting(status) else Skip(f"already {status}")
    if kind == ClockKind.ACCEPT_REMIND:
        if not is_waiting(status):
            return Skip(f"already {status}")
        if deadline_at is not None and now >= deadline_at:
            return Skip("deadline passed before the reminder went out")
        return Remind("accept")
    if kind == ClockKind.RESOLVE:
        return Overdue(level) if is_open(status) else Skip(f"already {status}")
    if kind == ClockKind.RESOLVE_REMIND:
        if not is_open(status):
            return Skip(f"already {status}")
        if deadline_at is not None and now >= deadline_at:
            return Skip("deadline passed before the reminder went out")
        return Remind("resolve")
    if kind == ClockKind.CALLBACK:
        return CallbackMissed(level) if is_open(status) else Skip(f"already {status}")
    if kind == ClockKind.RATING:
        return CloseUnrated() if status == "resolved" else Skip(f"already {status}")
    return Skip(f"unknown clock kind {kind!r}")


# --- whom an escalation reaches -------------------------------------------------------------


def escalation_targets(
    level: int,
    *,
    grid_id: int | None,
    community_id: int | None,
    grids: Mapping[int, GridRef],
    workers: Sequence[WorkerRef],
    exclude: frozenset[int] = frozenset(),
    street_of: Mapping[int, int] | None = None,
) -> tuple[int, list[WorkerRef]]:
    """The people an escalation to ``level`` notifies, and the level actually reached.

    Level 1: the on-duty grid leaders of the nearest grid up the chain that has any, else the
    community-wide grid leaders. Level 2 (or level 1 with no leader): on-duty community staff,
    else every active staff member (someone must hear of it). Level 3 (or a community with no
    staff): the street staff of the community's street (``street_of``: community → street),
    on duty first. An empty list means nobody.
    """
    active = [w for w in workers if w.active and w.id not in exclude]
    street_of = street_of or {}
    if community_id is None:
        chain = grid_chain(grid_id, grids)
        community_id = chain[0].community_id if chain else None
    if level <= 1:
        for grid in grid_chain(grid_id, grids):
            leaders = [
                w
                for w in active
                if w.grid_id == grid.id and w.role == Role.GRID_LEADER and w.on_duty
            ]
            if leaders:
                return 1, sorted(leaders, key=lambda w: (w.open_tickets, w.id))
        leaders = [
            w
            for w in active
            if w.community_id == community_id
            and w.grid_id is None
            and w.role == Role.GRID_LEADER
            and w.on_duty
        ]
        if leaders:
            return 1, sorted(leaders, key=lambda w: (w.open_tickets, w.id))
    if level <= COMMUNITY_LEVEL:
        staff = [
            w for w in active if w.community_id == community_id and w.role == Role.COMMUNITY_STAFF
        ]
        on_duty = [w for w in staff if w.on_duty]
        if staff:
            return COMMUNITY_LEVEL, sorted(on_duty or staff, key=lambda w: w.id)
    street_id = street_of.get(community_id) if community_id is not None else None
    street = [
        w
        for w in active
        if street_id is not None and w.street_id == street_id and w.role == Role.STREET_STAFF
    ]
    on_duty = [w for w in street if w.on_duty]
    if street:
        return STREET_LEVEL, sorted(on_duty or street, key=lambda w: w.id)
    return (STREET_LEVEL if level >= STREET_LEVEL else COMMUNITY_LEVEL), []


# --- words ----------------------------------------------------------------------------------


def duration_text(seconds: float, locale: str = "zh") -> str:
    """10分钟, 2小时, 1小时30分钟, 3天 (or 10 min, 2 h, 1 h 30 min, 3 days)."""
    minutes = max(1, round(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    zh = locale != "en"
    parts: list[str] = []
    if days:
        parts.append(f"{days}天" if zh else f"{days} day{'s' if days > 1 else ''}")
    if hours:
        parts.append(f"{hours}小时" if zh else f"{hours} h")
    if mins and not days:
        parts.append(f"{mins}分钟" if zh else f"{mins} min")
    return ("" if zh else " ").join(parts)
