"""Notices to residents: the JSON API (``/api/v1/notices``) and the console page
(``/admin/notices``). The rules live in ``handlers/notice_service.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from bot.admin.errors import BadInput
from bot.admin.web import ApiUser, Dep, FormUser, PageUser, redirect, render
from bot.container import Container
from bot.jobqueue import queued_answer, subject_payload, submit_and_wait
from handlers.accounts import Principal
from handlers.grid_notices import LABELS, Category, category_label, scope_from_json
from handlers.notice_service import NoticeRow
from handlers.permissions import Action, communities_for

router = APIRouter()


class NoticeIn(BaseModel):
    scope: dict[str, int | str] = Field(
        examples=[{"building": 5}],
        description='exactly one of {"building": id}, {"grid": id}, {"community": id}, '
        '{"street": "西溪街道"}',
    )
    text: str = Field(min_length=1, max_length=500, examples=["因管道维修停水，请提前储水"])
    category: str = Field(
        default="",
        max_length=20,
        description="water | power | gas | elevator | construction | safety | activity | "
        "other, or its Chinese name (停水 …); empty: read from the text",
    )
    starts_at: datetime | None = Field(default=None, examples=["2026-12-08T09:00:00+08:00"])
    ends_at: datetime | None = Field(default=None, examples=["2026-12-08T17:00:00+08:00"])


class PublishedOut(BaseModel):
    id: int
    recipients: int = Field(description="residents a message was queued for")
    unreachable: int = Field(description="residents of the place with no reachable chat")
    opted_out: int = Field(description="residents who turned notices off")
    helpers: int = Field(default=0, description="building heads and volunteers asked to pass it on")
    scope_name: str


class NoticeOut(BaseModel):
    id: int
    scope: str
    scope_id: int | None
    scope_name: str
    category: str
    category_label: str
    text: str
    starts_at: str | None
    ends_at: str | None
    active: bool
    recipients: int
    sent: int
    failed: int
    pending: int
    unreachable: int
    opted_out: int
    created_by: str
    created_at: str | None


def _category(value: str, text: str) -> str:
    value = value.strip()
    if not value:
        from handlers.grid_notices import category_of

        return category_of(text).value
    for code, label in LABELS.items():
        if value in (code, label["zh"], label["en"]):
            return str(code)
    choices = "、".join(f"{c.value}（{category_label(c)}）" for c in Category)
    raise BadInput(f"未知的通知类别“{value}”，可选：{choices}")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _out(row: NoticeRow) -> NoticeOut:
    n = row.notice
    return NoticeOut(
        id=n.id or 0,
        scope=n.scope,
        scope_id=n.scope_id,
        scope_name=n.scope_name,
        category=n.category,
        category_label=category_label(n.category),
        text=n.text,
        starts_at=_iso(n.starts_at),
        ends_at=_iso(n.ends_at),
        active=row.active,
        recipients=n.recipients,
        sent=row.sent,
        failed=row.failed,
        pending=row.pending,
        unreachable=n.unreachable,
        opted_out=n.opted_out,
        created_by=n.created_by,
        created_at=_iso(n.created_at),
    )


async def _visible(c: Container, p: Principal) -> tuple[list[int] | None, list[str] | None]:
    """The communities (and their streets) whose notices the account may read."""
    ids = communities_for(p.subject, Action.VIEW)
    if ids is None:
        return None, None
    async with c.store.unit() as uow:
        streets = [
            community.street
            for community_id in ids
            if (community := await uow.registry.community(community_id)) and community.street
        ]
    return list(ids), streets


async def _publish(c: Container, p: Principal, body: NoticeIn) -> PublishedOut | int:
    """The broadcast runs as a job (``bot/jobqueue.py``): the notice, its recipients and
    their outbox items are written by a worker, not on the web process's event loop. The
    published counts, or the job's id when it has not finished within the wait."""
    try:
        scope_from_json(body.scope)
    except ValueError as e:
        raise BadInput(f"scope 有误：{e}") from e
    job_id, result = await submit_and_wait(
        c.store,
        c.clock,
        "broadcast",
        {
            "subject": subject_payload(p.subject),
            "scope": dict(body.scope),
            "text": body.text,
            "category": _category(body.category, body.text),
            "starts_at": body.starts_at.isoformat() if body.starts_at else "",
            "ends_at": body.ends_at.isoformat() if body.ends_at else "",
            "by": p.label,
        },
        by=p.username,
        wait=c.settings.jobs.wait_seconds,
    )
    if result is None:
        return job_id
    return PublishedOut.model_validate(result)


@router.post("/api/v1/notices", response_model=PublishedOut, status_code=201, tags=["notices"])
async def api_publish(c: Dep, p: ApiUser, body: NoticeIn) -> PublishedOut | JSONResponse:
    """Publish a notice to the residents of a building, grid, community or street; each gets
    it in their own chat through the outbox (WeChat: a template message after 48 hours).
    Publishing is a job of the queue: when it has not finished within
    ``MINHU_JOBS__WAIT_SECONDS`` the answer is 202 with its id (``{"job": …}``)."""
    published = await _publish(c, p, body)
    if isinstance(published, int):
        return JSONResponse(queued_answer(published), status_code=202)
    return published


@router.get("/api/v1/notices", response_model=list[NoticeOut], tags=["notices"])
async def api_list(
    c: Dep,
    p: ApiUser,
    building: Annotated[int | None, Query(gt=0, description="active notices reaching it")] = None,
    active: Annotated[bool, Query(description="only notices not yet ended")] = True,
) -> list[NoticeOut]:
    """Notices with their delivery counts; ``?building=`` lists the active ones that reach
    the building (its own, its grid's, its community's and its street's)."""
    communities, streets = await _visible(c, p)
    rows = await c.service.notices.listed(
        community_ids=communities,
        streets=streets,
        building_id=building,
        active_only=active or building is not None,
    )
    return [_out(row) for row in rows]


# --- console page -------------------------------------------------------------------------------


async def _places(c: Container, p: Principal) -> dict[str, Any]:
    ids = communities_for(p.subject, Action.VIEW)
    async with c.store.unit() as uow:
        communities = [x for x in await uow.registry.communities() if ids is None or x.id in ids]
        wanted = {x.id for x in communities}
        grids = [g for g in await uow.registry.grids() if g.community_id in wanted]
        buildings = [b for b in await uow.registry.buildings() if b.community_id in wanted]
    streets = sorted({x.street for x in communities if x.street})
    return {
        "communities": communities,
        "grids": grids,
        "buildings": buildings,
        "streets": streets,
        "categories": [(c.value, category_label(c)) for c in Category],
    }


@router.get("/admin/notices", include_in_schema=False)
async def notices_page(request: Request, c: Dep, p: PageUser) -> HTMLResponse:
    communities, streets = await _visible(c, p)
    rows = await c.service.notices.listed(community_ids=communities, streets=streets)
    return render(
        request, "notices.html", p, notices=[_out(r) for r in rows], **await _places(c, p)
    )


@router.post("/admin/notices", include_in_schema=False)
async def publish_form(
    c: Dep,
    p: FormUser,
    place: Annotated[str, Form(max_length=120)],
    text: Annotated[str, Form(max_length=500)] = "",
    category: Annotated[str, Form(max_length=20)] = "",
    starts_at: Annotated[str, Form(max_length=20)] = "",
    ends_at: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    kind, _, value = place.partition(":")
    scope: dict[str, int | str] = {kind: int(value) if value.isdigit() else value}
    body = NoticeIn(
        scope=scope,
        text=text or " ",
        category=category,
        starts_at=_local(starts_at),
        ends_at=_local(ends_at),
    )
    published = await _publish(c, p, body)
    if isinstance(published, int):
        return redirect("/admin/notices", queued_answer(published)["message"])
    return redirect(
        "/admin/notices",
        f"已发布通知 #{published.id}：发送给 {published.recipients} 位居民，"
        f"{published.unreachable} 位无法送达，{published.opted_out} 位已关闭通知",
    )


def _local(value: str) -> datetime | None:
    """A ``datetime-local`` form value (Beijing time)."""
    from zoneinfo import ZoneInfo

    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    except ValueError as e:
        raise BadInput(f"时间格式有误：{value}") from e
