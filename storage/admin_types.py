"""Plain value types of the admin repositories (no SQL here, so handlers may import them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from storage.models import Ticket

TableKind = Literal["synonym", "lookup", "regex"]


@dataclass(frozen=True, slots=True)
class ExampleRow:
    """An example with its intent's name (for exports and duplicate checks)."""

    id: int
    intent: str
    text: str
    entities: list[dict[str, Any]]
    source: str
    community_id: int | None = None
    meta: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Overdue:
    """When tickets count as overdue, per priority (computed by the caller from its targets).

    A ticket is overdue when it still waits for acceptance and was assigned (or, never
    assigned, created) before ``accept_before[priority]``, or is still open and was created
    before ``resolve_before[priority]``. A category in ``by_category`` uses its own pair of
    cut-off maps (accept, resolve) instead.
    """

    waiting: tuple[str, ...]
    open: tuple[str, ...]
    accept_before: Mapping[str, datetime]
    resolve_before: Mapping[str, datetime]
    by_category: Mapping[str, tuple[Mapping[str, datetime], Mapping[str, datetime]]] = field(
        default_factory=dict
    )


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """Filters of the ticket list; empty fields do not filter. ``community_ids`` and
    ``assignee_id`` are the caller's access scope."""

    statuses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    grid_ids: tuple[int, ...] = ()
    community_ids: tuple[int, ...] | None = None
    assignee_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    query: str = ""
    overdue: Overdue | None = None
    numbers: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class TicketPage:
    """A page of tickets and how many match: exactly ``total``, or when ``more`` is true at
    least ``total`` (counting stopped there: a city-wide search matches a hundred thousand)."""

    rows: Sequence[Ticket]
    total: int
    more: bool = False


@dataclass(frozen=True, slots=True)
class TicketTiming:
    """What the dashboard needs of one ticket."""

    id: int
    category: str
    priority: str
    status: str
    grid_id: int | None
    rating: int | None
    created_at: datetime
    accepted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    community_id: int | None = None  # the per-street table groups by it


@dataclass(frozen=True, slots=True)
class ResolveTargets:
    """Resolve targets in seconds (computed by the caller from its SLA policy): a category's
    own per priority, else the priority's, else ``fallback``."""

    by_priority: Mapping[str, float]
    fallback: float
    by_category: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def seconds(self, category: str, priority: str) -> float:
        own = self.by_category.get(category, {}).get(priority)
        if own is not None:
            return own
        return self.by_priority.get(priority, self.fallback)


@dataclass(frozen=True, slots=True)
class DashboardCounts:
    """The dashboard's figures over the tickets a filter selects, aggregated by the database.

    Grouped counts are listed in the order their first ticket (by id) appeared, so ties sort
    the same way as counting ticket by ticket would.
    """

    total: int
    open: int
    by_category: list[tuple[str, int]]
    by_grid: list[tuple[int | None, int]]
    by_status: list[tuple[str, int]]
    created_per_day: dict[date, int]
    resolved_per_day: dict[date, int]
    ratings: dict[int, int]  # rating (non-zero) → how many
    median_accept_minutes: float | None
    median_resolve_minutes: float | None
    resolved: int
    resolved_in_time: int
    by_community: list[CommunityCounts] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CommunityCounts:
    """One community's share of the dashboard's tickets (the per-street table adds them up)."""

    community_id: int | None
    total: int
    open: int
    resolved: int
    resolved_in_time: int
    rated: int
    rating_sum: int
