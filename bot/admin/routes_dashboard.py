"""The dashboard: ``GET /api/v1/admin/dashboard`` and the console home page ``/admin``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from bot.admin import dashboard as service
from bot.admin.web import ApiUser, Dep, PageUser, render
from bot.street import street_desk

router = APIRouter()


@router.get("/api/v1/admin/dashboard", tags=["tickets"])
async def api_dashboard(
    c: Dep,
    p: ApiUser,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    street: Annotated[int | None, Query(description="one street's communities only")] = None,
) -> dict[str, Any]:
    """Tickets reported in the last ``days`` days (caller's scope, or one ``street`` of it:
    403 for a street outside it): counts by category, grid and status; median minutes to
    accept and to resolve; share resolved within target; ratings; a daily trend of new and
    resolved tickets; ``by_street``: one row per street."""
    return await service.stats(c, p, days=days, street_id=street)


@router.get("/api/v1/exports/dashboard.csv", tags=["dashboard"], response_class=Response)
async def api_dashboard_csv(
    c: Dep,
    p: ApiUser,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    street: Annotated[int | None, Query(description="one street's communities only")] = None,
) -> Response:
    """The dashboard's figures as CSV (UTF-8 with BOM): one row per figure, category, grid,
    street, status and day."""
    return _csv(await service.stats(c, p, days=days, street_id=street))


@router.get("/admin/export.csv", include_in_schema=False)
async def dashboard_csv(
    c: Dep,
    p: PageUser,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    street: Annotated[int | None, Query()] = None,
) -> Response:
    return _csv(await service.stats(c, p, days=days, street_id=street))


def _csv(data: dict[str, Any]) -> Response:
    name = f"dashboard-{data['from']}-{data['to']}.csv"
    return Response(
        content=service.to_csv(data).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/admin", include_in_schema=False)
async def home(
    request: Request,
    c: Dep,
    p: PageUser,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    street: Annotated[int | None, Query()] = None,
) -> HTMLResponse:
    data = await service.stats(c, p, days=days, street_id=street)
    streets = await street_desk(c).streets(p)
    # the SVG is built by bot/admin/charts.py, which escapes every label
    svgs = {name: Markup(svg) for name, svg in service.charts(data).items()}  # noqa: S704
    return render(
        request,
        "dashboard.html",
        p,
        d=data,
        streets=streets,
        charts=svgs,
        accept=service.duration_text(data["median_accept_minutes"]),
        resolve=service.duration_text(data["median_resolve_minutes"]),
    )
