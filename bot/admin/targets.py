"""Service targets: when a ticket is overdue, and whether it was resolved in time.

The one place that decides "overdue" for the console, its filters and the dashboard. The
targets come from ``MINHU_ADMIN__ACCEPT_MINUTES`` / ``MINHU_ADMIN__RESOLVE_HOURS`` (per
priority); point :func:`targets_of` at the SLA rules once they exist and everything follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings
from handlers.lifecycle import OPEN, WAITING_FOR_ACCEPT, Status
from storage.admin_types import Overdue

WAITING = tuple(sorted({Status.SUBMITTED.value, *(s.value for s in WAITING_FOR_ACCEPT)}))
OPEN_STATUSES = tuple(sorted(s.value for s in OPEN))
PRIORITIES = ("urgent", "high", "normal", "low")


@dataclass(frozen=True, slots=True)
class Targets:
    accept: dict[str, timedelta]
    resolve: dict[str, timedelta]

    def accept_for(self, priority: str) -> timedelta:
        return self.accept.get(priority) or self.accept.get("normal") or timedelta(hours=2)

    def resolve_for(self, priority: str) -> timedelta:
        return self.resolve.get(priority) or self.resolve.get("normal") or timedelta(days=3)


def targets_of(settings: Settings) -> Targets:
    admin = settings.admin
    return Targets(
        accept={p: timedelta(minutes=m) for p, m in admin.accept_minutes.items()},
        resolve={p: timedelta(hours=h) for p, h in admin.resolve_hours.items()},
    )


def overdue_kind(
    *,
    status: str,
    priority: str,
    created_at: datetime,
    assigned_at: datetime | None,
    now: datetime,
    targets: Targets,
) -> str | None:
    """``"accept"`` (nobody accepted in time), ``"resolve"`` (open past the resolve target)
    or None. Same rule as :func:`overdue_filter`."""
    if status in WAITING and now - (assigned_at or created_at) > targets.accept_for(priority):
        return "accept"
    if status in OPEN_STATUSES and now - created_at > targets.resolve_for(priority):
        return "resolve"
    return None


def overdue_filter(now: datetime, targets: Targets) -> Overdue:
    """The SQL side of :func:`overdue_kind`: cut-off times per priority."""
    priorities = set(PRIORITIES) | set(targets.accept) | set(targets.resolve)
    return Overdue(
        waiting=WAITING,
        open=OPEN_STATUSES,
        accept_before={p: now - targets.accept_for(p) for p in sorted(priorities)},
        resolve_before={p: now - targets.resolve_for(p) for p in sorted(priorities)},
    )


def resolved_in_time(
    *, priority: str, created_at: datetime, resolved_at: datetime | None, targets: Targets
) -> bool | None:
    """Whether a resolved ticket met its resolve target (None if not resolved)."""
    if resolved_at is None:
        return None
    return resolved_at - created_at <= targets.resolve_for(priority)
