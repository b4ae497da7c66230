"""What every ticket concern shares: the policies, the registry snapshot, small look-ups."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from handlers.departments import DepartmentRef
from handlers.duplicates import DuplicatePolicy
from handlers.errors import DialogueError, TicketNotFound
from handlers.hotspots import HotspotPolicy
from handlers.lifecycle import OPEN, role_level
from handlers.notices import TicketFacts, ticket_facts
from handlers.open311 import Open311Policy
from handlers.routing import GridRef, WorkerRef
from handlers.sla import SlaPolicy, WorkingHours
from storage.interfaces import UnitOfWork
from storage.models import Department, Grid, GridWorker, Ticket

log = logging.getLogger("minhu.tickets")

OPEN_STATUSES = tuple(s.value for s in OPEN)
# events whose note the resident (and Open311) may read as "what is happening"
PUBLIC_NOTE_KINDS = ("progress", "resolve", "department_reply")


class UnknownDepartment(DialogueError):  # noqa: N818 -- reads as a domain fact
    """No department by that name or id serves the ticket's community."""


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    """The lifecycle policies, built from settings in bot/ (defaults: the street office's)."""

    sla: SlaPolicy = field(default_factory=SlaPolicy)
    duplicates: DuplicatePolicy = field(default_factory=DuplicatePolicy)
    open311: Open311Policy = field(default_factory=Open311Policy)
    hotspots: HotspotPolicy = field(default_factory=HotspotPolicy)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The grids and workers routing and escalation choose from (with open-ticket loads)."""

    grids: dict[int, GridRef]
    workers: list[WorkerRef]
    street_of: dict[int, int] = field(default_factory=dict)  # community id → street id


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An open ticket a new report repeats."""

    ticket: Ticket
    own: bool  # the resident reported it themselves


def facts_of(ticket: Ticket, photos: int = 0) -> TicketFacts:
    return ticket_facts(ticket, photos=photos)


def department_ref(department: Department) -> DepartmentRef:
    return DepartmentRef(
        id=department.id or 0,
        name=department.name,
        kind=department.kind,
        aliases=tuple(department.aliases or ()),
        community_id=department.community_id,
    )


async def load_snapshot(uow: UnitOfWork) -> Snapshot:
    """The registry as routing sees it, with every worker's open-ticket count."""
    street_of = {
        c.id: c.street_id
        for c in await uow.registry.communities()
        if c.id is not None and c.street_id is not None
    }
    grids, workers = await uow.registry.grids(), await uow.registry.workers()
    return await _snapshot(uow, grids, workers, None, street_of)


async def scoped_snapshot(
    uow: UnitOfWork, *, community_id: int | None, grid_id: int | None
) -> Snapshot:
    """The part of the registry routing a ticket of this community and grid can reach: their
    communities' grids and workers and their streets' staff (a city has thousands; routing and
    escalation stay within a community), in two statements. The whole registry when the
    community is known neither by itself nor by the grid."""
    if community_id is None and grid_id is not None:
        grid = await uow.registry.grid(grid_id)
        community_id = grid.community_id if grid is not None else None
    if community_id is None:
        return await load_snapshot(uow)
    found = await uow.registry.routing_scope(community_id, grid_id)
    return _refs(found.grids, found.workers, found.open_counts, found.street_of)


async def _snapshot(
    uow: UnitOfWork,
    grids: Sequence[Grid],
    workers: Sequence[GridWorker],
    worker_ids: list[int] | None,
    street_of: dict[int, int],
) -> Snapshot:
    counts = await uow.tickets.open_counts_by_worker(worker_ids)
    return _refs(grids, workers, counts, street_of)


def _refs(
    grids: Sequence[Grid],
    workers: Sequence[GridWorker],
    counts: dict[int, int],
    street_of: dict[int, int],
) -> Snapshot:
    return Snapshot(
        {
            g.id: GridRef(g.id, g.name, g.community_id, g.parent_id, g.level)
            for g in grids
            if g.id is not None
        },
        [
            WorkerRef(
                id=w.id,
                name=w.name,
                role=w.role,
                community_id=w.community_id,
                grid_id=w.grid_id,
                on_duty=w.on_duty,
                active=w.active,
                open_tickets=counts.get(w.id, 0),
                street_id=w.street_id,
            )
            for w in workers
            if w.id is not None
        ],
        street_of,
    )


async def handler_level(uow: UnitOfWork, ticket: Ticket) -> int:
    """The rung of the ticket's assignee on the escalation ladder (0 when unassigned)."""
    if ticket.assignee_id is None:
        return 0
    worker = await uow.registry.worker(ticket.assignee_id)
    return role_level(worker.role if worker else None)


async def working_hours(uow: UnitOfWork, community_id: int | None) -> WorkingHours | None:
    """The community's office hours; a broken configuration is logged and ignored (24/7)
    rather than stopping every clock of the community."""
    if community_id is None:
        return None
    community = await uow.registry.community(community_id)
    if community is None:
        return None
    try:
        return WorkingHours.from_settings(community.settings)
    except ValueError as e:
        log.warning("community %s: invalid working_hours, clocks run 24/7: %s", community_id, e)
        return None


async def reporter_locale(uow: UnitOfWork, ticket: Ticket) -> str:
    """The language the reporting resident chose (Chinese when unknown)."""
    if ticket.resident_id is None:
        return "zh"
    resident = await uow.registry.resident(ticket.resident_id)
    return resident.locale if resident else "zh"


async def locked_ticket(uow: UnitOfWork, number: str) -> Ticket:
    """The ticket by number, locked for the rest of the transaction.

    Raises:
        TicketNotFound: no ticket has that number.
    """
    ticket = await uow.tickets.by_number(number, for_update=True)
    if ticket is None:
        raise TicketNotFound(f"no ticket {number}")
    return ticket


async def read_ticket(uow: UnitOfWork, number: str) -> Ticket:
    """The ticket by number, unlocked (for reading). Raises TicketNotFound."""
    ticket = await uow.tickets.by_number(number)
    if ticket is None:
        raise TicketNotFound(f"no ticket {number}")
    return ticket
