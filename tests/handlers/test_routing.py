"""Routing along the grid: building → grid → on-duty worker → leader → community staff."""

from __future__ import annotations

import pytest

from handlers.routing import GridRef, WorkerRef, route, route_to_target

GRIDS = {
    1: GridRef(1, "第一网格", community_id=1),
    2: GridRef(2, "第一网格A微网格", community_id=1, parent_id=1, level="micro_grid"),
    3: GridRef(3, "第二网格", community_id=1),
}


def worker(
    id: int,
    role: str = "grid_worker",
    grid: int | None = 1,
    *,
    duty: bool = True,
    load: int = 0,
    active: bool = True,
    name: str = "",
) -> WorkerRef:
    return WorkerRef(id, name or f"w{id}", role, 1, grid, duty, active, load)


@pytest.mark.parametrize(
    ("grid_id", "workers", "expected", "reason_has"),
    [
        # the grid's own worker
        (1, [worker(1), worker(2, grid=3)], 1, "第一网格在岗网格员"),
        # micro-grid without a worker → the parent grid's worker
        (2, [worker(1), worker(2, grid=3)], 1, "第一网格在岗网格员"),
        # least loaded of two on duty
        (1, [worker(1, load=3), worker(2, load=1)], 2, "在岗网格员"),
        # off duty → the grid leader
        (1, [worker(1, duty=False), worker(5, "grid_leader", 1)], 5, "转网格长"),
        # no leader in the grid → community-wide leader
        (1, [worker(1, duty=False), worker(5, "grid_leader", None)], 5, "社区网格长"),
        # nobody in the grid → community staff
        (1, [worker(6, "community_staff", None)], 6, "社区工作人员"),
        # staff off duty still owns it rather than nobody
        (1, [worker(6, "community_staff", None, duty=False)], 6, "社区工作人员"),
        # inactive workers are never chosen
        (1, [worker(1, active=False), worker(6, "community_staff", None)], 6, "社区工作人员"),
    ],
)
def test_route_picks_the_responsible_person_when_the_grid_is_staffed_as_given(
    grid_id: int, workers: list[WorkerRef], expected: int, reason_has: str
) -> None:
    decision = route(grid_id=grid_id, community_id=1, grids=GRIDS, workers=workers)
    assert decision.worker is not None and decision.worker.id == expected
    assert reason_has in decision.reason


def test_route_returns_nobody_when_no_one_can_take_it() -> None:
    decision = route(grid_id=1, community_id=1, grids=GRIDS, workers=[])
    assert decision.worker is None


def test_transfer_target_by_worker_name_or_grid_name() -> None:
    workers = [worker(1, name="张伟"), worker(2, grid=3, name="李娜")]
    by_name = route_to_target("李娜", community_id=1, grids=GRIDS, workers=workers)
    assert by_name is not None and by_name.worker is not None and by_name.worker.id == 2
    by_grid = route_to_target("第二网格", community_id=1, grids=GRIDS, workers=workers)
    assert by_grid is not None and by_grid.worker is not None and by_grid.worker.id == 2
    assert by_grid.grid_id == 3
    assert route_to_target("火星网格", community_id=1, grids=GRIDS, workers=workers) is None


def test_transfer_never_goes_back_to_the_worker_handing_it_over() -> None:
    workers = [worker(1, name="张伟")]
    decision = route_to_target(
        "第一网格", community_id=1, grids=GRIDS, workers=workers, exclude=frozenset({1})
    )
    assert decision is not None and decision.worker is None
