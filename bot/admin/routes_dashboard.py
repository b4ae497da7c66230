"""The dashboard: ``GET /api/v1/admin/dashboard`` and the console home page ``/admin``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from bot.admin import dashboard as service
from bot.admin.web import ApiUser, Dep, PageUser, render

router = APIRouter()


@router.get("/api/v1/admin/dashboard", tags=["tickets"])
async def api_dashboard(
    c: Dep, p: ApiUser, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> dict[str, Any]:
    """Tickets reported in the last ``days`` days (caller's scope): counts by category, grid
    and status; median minutes to accept and to resolve; share resolved within target;
    ratings; a daily trend of new and resolved tickets."""
    return await service.stats(c, p, days=days)


@router.get("/api/v1/exports/dashboard.csv", tags=["dashboard"], response_class=Response)
async def api_dashboard_csv(
    c: Dep, p: ApiUser, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> Response:
    """The dashboard's figures as CSV (UTF-8 with BOM): one row per figure, category, grid,
    status and day."""
    return _csv(await service.stats(c, p, days=days))


@router.get("/admin/export.csv", include_in_schema=False)
async def dashboard_csv(
    c: Dep, p: PageUser, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> Response:
    return _csv(await service.stats(c, p, days=days))


def _csv(data: dict[str, Any]) -> Response:
    name = f"dashboard-{data['from']}-{data['to']}.csv"
    return Response(
        content=service.to_csv(data).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/admin", include_in_schema=False)
async def home(
    request: Request, c: Dep, p: PageUser, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> HTMLResponse:
    data = await service.stats(c, p, days=days)
    # the SVG is built by bot/admin/charts.py, which escapes every label
    svgs = {name: Markup(svg) for name, svg in service.charts(data).items()}  # noqa: S704
    return render(
        request,
        "dashboard.html",
        p,
        d=data,
        charts=svgs,
        accept=service.duration_text(data["median_accept_minutes"]),
        resolve=service.duration_text(data["median_resolve_minutes"]),
    )
