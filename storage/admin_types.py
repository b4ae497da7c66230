"""Plain value types of the admin repositories (no SQL here, so handlers may import them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

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
