"""Service targets (pure): when a ticket is overdue, and whether it was resolved in time.

The one place that decides "overdue" for the console, its filters and the dashboard. The
targets are the SLA policy's (``MINHU_SLA__…``, per priority and per category, see
bot/sla.py), the same ones the SLA clocks run on. The console measures plain elapsed time
from assignment (accept) and from the report (resolve); the clocks additionally pause outside
a community's working hours, so a non-urgent ticket may show as overdue here a little before
its clock escalates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.lifecycle import OPEN_STATUSES, WAITING_FOR_ACCEPT, Status
from handlers.sla import DEFAULT_TARGETS, SlaPolicy
from storage.admin_types import Overdue, ResolveTargets

WAITING = tuple(sorted({Status.SUBMITTED.value, *(s.value for s in WAITING_FOR_ACCEPT)}))
PRIORITIES = ("urgent", "high", "normal", "low")


@dataclass(frozen=True, slots=True)
class Targets:
    policy: SlaPolicy

    def accept_for(self, category: str, priority: str) -> timedelta:
        return self.policy.target(category, priority).accept

    def resolve_for(self, category: str, priority: str) -> timedelta:
        return self.policy.target(category, priority).resolve


def overdue_kind(
    *,
    status: str,
    category: str,
    priority: str,
    created_at: datetime,
    assigned_at: datetime | None,
    now: datetime,
    targets: Targets,
) -> str | None:
    """``"accept"`` (nobody accepted in time), ``"resolve"`` (open past the resolve target)
    or None. Same rule as :func:`overdue_filter`."""
    if status in WAITING and now - (assigned_at or created_at) > targets.accept_for(
        category, priority
    ):
        return "accept"
    if status in OPEN_STATUSES and now - created_at > targets.resolve_for(category, priority):
        return "resolve"
    return None


def overdue_filter(now: datetime, targets: Targets) -> Overdue:
    """The SQL side of :func:`overdue_kind`: cut-off times per priority, and per priority for
    each category that has targets of its own."""
    priorities = sorted(set(PRIORITIES) | set(targets.policy.targets))

    def cutoffs(category: str) -> tuple[dict[str, datetime], dict[str, datetime]]:
        return (
            {p: now - targets.accept_for(category, p) for p in priorities},
            {p: now - targets.resolve_for(category, p) for p in priorities},
        )

    accept_before, resolve_before = cutoffs("")
    return Overdue(
        waiting=WAITING,
        open=OPEN_STATUSES,
        accept_before=accept_before,
        resolve_before=resolve_before,
        by_category={c: cutoffs(c) for c in sorted(targets.policy.categories)},
    )


def resolved_in_time(
    *,
    category: str,
    priority: str,
    created_at: datetime,
    resolved_at: datetime | None,
    targets: Targets,
) -> bool | None:
    """Whether a resolved ticket met its resolve target (None if not resolved)."""
    if resolved_at is None:
        return None
    return resolved_at - created_at <= targets.resolve_for(category, priority)


def resolve_targets(targets: Targets) -> ResolveTargets:
    """The SQL side of :func:`resolved_in_time`: resolve targets in seconds."""
    policy = targets.policy
    fallback = policy.targets.get("normal") or DEFAULT_TARGETS["normal"]
    return ResolveTargets(
        by_priority={p: t.resolve.total_seconds() for p, t in policy.targets.items()},
        fallback=fallback.resolve.total_seconds(),
        by_category={
            c: {p: t.resolve.total_seconds() for p, t in own.items()}
            for c, own in policy.categories.items()
        },
    )
