"""Who handles a ticket: building → grid → on-duty grid worker → grid leader → community staff."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    GRID_WORKER = "grid_worker"
    GRID_LEADER = "grid_leader"
    COMMUNITY_STAFF = "community_staff"
    STREET_STAFF = "street_staff"  # 街道: the rung above the community (issue 14)


@dataclass(frozen=True, slots=True)
class GridRef:
    id: int
    name: str
    community_id: int
    parent_id: int | None = None
    level: str = "grid"


@dataclass(frozen=True, slots=True)
class WorkerRef:
    id: int
    name: str
    role: str
    community_id: int
    grid_id: int | None = None
    on_duty: bool = True
    active: bool = True
    open_tickets: int = 0
    street_id: int | None = None  # street staff: their street


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The chosen assignee (None when nobody can take it) and why, for the audit trail."""

    worker: WorkerRef | None
    grid_id: int | None
    reason: str


def grid_chain(grid_id: int | None, grids: Mapping[int, GridRef]) -> list[GridRef]:
    """The grid and its ancestors, nearest first (micro-grid → grid)."""
    chain: list[GridRef] = []
    seen: set[int] = set()
    current = grids.get(grid_id) if grid_id is not None else None
    while current is not None and current.id not in seen:
        chain.append(current)
        seen.add(current.id)
        current = grids.get(current.parent_id) if current.parent_id is not None else None
    return chain


def _least_loaded(candidates: Sequence[WorkerRef]) -> WorkerRef | None:
    if not candidates:
        return None
    return min(candidates, key=lambda w: (w.open_tickets, w.id))


def route(
    *,
    grid_id: int | None,
    community_id: int | None,
    grids: Mapping[int, GridRef],
    workers: Sequence[WorkerRef],
    exclude: frozenset[int] = frozenset(),
) -> RouteDecision:
    """Pick the assignee for a ticket in a grid.

    Order: an on-duty grid worker of the grid (then of each parent grid), least loaded first;
    then the nearest on-duty grid leader up the chain, then a community-wide grid leader;
    then on-duty community staff; then any
    active community staff (someone must own it). ``exclude`` skips workers (e.g. the one
    transferring the ticket away).
    """
    active = [w for w in workers if w.active and w.id not in exclude]
    chain = grid_chain(grid_id, grids)
    for grid in chain:
        chosen = _least_loaded(
            [w for w in active if w.grid_id == grid.id and w.role == Role.GRID_WORKER and w.on_duty]
        )
        if chosen:
            return RouteDecision(chosen, grid_id, f"{grid.name}在岗网格员")
    for grid in chain:
        chosen = _least_loaded(
            [w for w in active if w.grid_id == grid.id and w.role == Role.GRID_LEADER and w.on_duty]
        )
        if chosen:
            return RouteDecision(chosen, grid_id, f"{grid.name}网格员不在岗，转网格长")
    if community_id is None and chain:
        community_id = chain[0].community_id
    chosen = _least_loaded(
        [
            w
            for w in active
            if w.community_id == community_id
            and w.grid_id is None
            and w.role == Role.GRID_LEADER
            and w.on_duty
        ]
    )
    if chosen:
        return RouteDecision(chosen, grid_id, "网格无人在岗，转社区网格长")
    staff = [w for w in active if w.community_id == community_id and w.role == Role.COMMUNITY_STAFF]
    chosen = _least_loaded([w for w in staff if w.on_duty]) or _least_loaded(staff)
    if chosen:
        return RouteDecision(chosen, grid_id, "网格无人在岗，转社区工作人员")
    return RouteDecision(None, grid_id, "没有可派单的人员")


def route_to_target(
    target: str,
    *,
    community_id: int | None,
    grids: Mapping[int, GridRef],
    workers: Sequence[WorkerRef],
    exclude: frozenset[int] = frozenset(),
) -> RouteDecision | None:
    """Resolve a transfer target named by a worker: a worker's name or a grid's name.

    Returns None when nothing is called that; a decision with ``worker=None`` when the named
    grid has nobody who can take it.
    """
    name = target.strip()
    if not name:
        return None
    for worker in workers:
        if worker.name == name and worker.active and worker.id not in exclude:
            return RouteDecision(worker, worker.grid_id, f"转派给{worker.name}")
    for grid in grids.values():
        if (community_id is None or grid.community_id == community_id) and (
            grid.name == name or grid.name.removesuffix("网格") == name.removesuffix("网格")
        ):
            decision = route(
                grid_id=grid.id,
                community_id=grid.community_id,
                grids=grids,
                workers=workers,
                exclude=exclude,
            )
            return RouteDecision(decision.worker, grid.id, f"转派到{grid.name}")
    return None
