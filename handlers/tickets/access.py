"""Permission checks on tickets (I/O only to load the grid tree and the actor's record).

The rules are ``handlers.permissions`` (pure); this module feeds them what the registry
says: the worker behind an actor, the grid tree, the departments a ticket was handed to.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.errors import PermissionDenied
from handlers.lifecycle import Actor
from handlers.permissions import Action, GridTree, Subject, TicketTarget, may, supervises
from storage.interfaces import UnitOfWork
from storage.models import GridWorker, Ticket


async def grid_tree(uow: UnitOfWork) -> GridTree:
    """Every grid with its parent (what ``handlers.permissions`` walks)."""
    return {g.id: g.parent_id for g in await uow.registry.grids() if g.id is not None}


async def grid_tree_of(uow: UnitOfWork, *grid_ids: int | None) -> GridTree:
    """The grid tree of the communities these grids are in (a grid's subtree stays in its
    community): what ``handlers.permissions`` walks for a leader's grid or a grid filter,
    without the city's thousands of grids. Empty when no grid is given."""
    tree: dict[int, int | None] = {}
    for grid_id in dict.fromkeys(g for g in grid_ids if g is not None):
        if grid_id in tree:
            continue
        grid = await uow.registry.grid(grid_id)
        if grid is not None:
            for g in await uow.registry.grids(grid.community_id):
                if g.id is not None:
                    tree[g.id] = g.parent_id
    return tree


async def subject_of(uow: UnitOfWork, worker: GridWorker) -> Subject:
    """The worker to the permission model; street staff with the communities of their street."""
    if worker.street_id is None or worker.role != "street_staff":
        return Subject.of_worker(worker)
    communities = await uow.streets.communities(worker.street_id)
    return Subject.of_worker(worker, (c.id for c in communities if c.id is not None))


async def may_act(uow: UnitOfWork, worker: GridWorker, ticket: Ticket) -> bool:
    """May a worker work on the ticket in the chat (accept, progress, resolve, transfer,
    contact the resident, hand it to a department)? The assignee; community staff of its
    community; a grid leader above its grid (a community-wide leader for the community)."""
    return may(
        await subject_of(uow, worker), Action.HANDLE, TicketTarget.of(ticket), await grid_tree(uow)
    )


async def supervised(
    uow: UnitOfWork, supervisor: GridWorker, tickets: Sequence[Ticket]
) -> list[Ticket]:
    """The tickets a grid leader or staff member supervises (one registry look)."""
    subject = await subject_of(uow, supervisor)
    grids = await grid_tree(uow)
    return [t for t in tickets if supervises(subject, TicketTarget.of(t), grids)]


async def check(uow: UnitOfWork, actor: Actor, ticket: Ticket, action: Action) -> None:
    """Refuse a worker or department actor the model does not allow.

    Admin and system actors are authorised by their caller: the console checks its account
    against the same model before it acts, and the SLA sweeper is the system.

    Raises:
        PermissionDenied: with the reason, in English (for logs and the console's mapping).
    """
    if actor.kind in ("admin", "system"):
        return
    if actor.kind == "department":
        department_id = int(actor.id) if actor.id.isdigit() else None
        parties = [p.department_id for p in await uow.departments.parties(ticket.id or 0)]
        target = TicketTarget.of(ticket, parties)
        if not may(Subject.department(department_id), action, target, {}):
            raise PermissionDenied(f"{ticket.number} was not handed to {actor.name}")
        return
    if actor.kind != "worker" or actor.worker_id is None:
        raise PermissionDenied(f"{actor.kind} may not do this")
    worker = await uow.registry.worker(actor.worker_id)
    if worker is None or not worker.active:
        raise PermissionDenied("unknown or inactive worker")
    subject = await subject_of(uow, worker)
    if not may(subject, action, TicketTarget.of(ticket), await grid_tree(uow)):
        raise PermissionDenied(f"{worker.name} may not {action.value} {ticket.number}")
