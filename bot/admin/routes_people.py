"""The map of buildings and the performance of workers and grids: JSON API and pages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from bot.admin.tickets import targets_of
from bot.admin.web import ApiUser, Dep, PageUser, render
from bot.container import Container
from handlers.performance_service import PerformanceDesk, departments_of, to_csv

router = APIRouter()
Days = Annotated[int, Query(ge=1, le=366, description="the window in days")]
By = Annotated[str, Query(pattern="^(worker|grid)$", description="worker | grid")]


def desk(c: Container) -> PerformanceDesk:
    return PerformanceDesk(c.store, c.clock, targets_of(c), c.settings.admin.map_tile_url)


@router.get("/api/v1/map", tags=["dashboard"])
async def api_map(c: Dep, p: ApiUser, days: Days = 30) -> dict[str, Any]:
    """Buildings with their open, overdue and recent tickets, placed for drawing."""
    return await desk(c).map(p, days=days)


@router.get("/api/v1/performance", tags=["dashboard"])
async def api_performance(c: Dep, p: ApiUser, days: Days = 30) -> dict[str, Any]:
    """Per worker and per grid: open load, median accept/resolve time, overdue share, rating."""
    return await desk(c).performance(p, days=days)


@router.get("/api/v1/exports/performance.csv", tags=["dashboard"], response_class=Response)
async def api_performance_csv(
    c: Dep,
    p: ApiUser,
    days: Days = 30,
    by: By = "worker",
) -> Response:
    """The performance table as CSV (UTF-8 with BOM)."""
    return await _csv(c, p, days, by)


async def _csv(c: Container, p: Any, days: int, by: str) -> Response:
    data = await desk(c).performance(p, days=days)
    rows = data["workers"] if by == "worker" else data["grids"]
    return Response(
        content=to_csv(rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="performance-{by}.csv"'},
    )


@router.get("/admin/map", include_in_schema=False)
async def map_page(request: Request, c: Dep, p: PageUser, days: Days = 30) -> HTMLResponse:
    return render(request, "map.html", p, m=await desk(c).map(p, days=days))


@router.get("/admin/people", include_in_schema=False)
async def people_page(request: Request, c: Dep, p: PageUser, days: Days = 30) -> HTMLResponse:
    return render(request, "people.html", p, perf=await desk(c).performance(p, days=days))


@router.get("/admin/people/export.csv", include_in_schema=False)
async def people_csv(
    c: Dep,
    p: PageUser,
    days: Days = 30,
    by: By = "worker",
) -> Response:
    return await _csv(c, p, days, by)


@router.get("/api/v1/departments", tags=["registry"])
async def api_departments(c: Dep, p: ApiUser) -> dict[str, Any]:
    """Departments tickets are handed to: contacts, aliases, tickets handed and finish time."""
    return {"departments": await departments_of(c.store, p)}


@router.get("/admin/departments", include_in_schema=False)
async def departments_page(request: Request, c: Dep, p: PageUser) -> HTMLResponse:
    return render(request, "departments.html", p, departments=await departments_of(c.store, p))
