"""Hotspots: the JSON API (``/api/v1/hotspots``) and the console page (``/admin/hotspots``).

Hotspots are found as reports arrive (``handlers/tickets/hotspots.py``); here staff read them,
see recurring problems per building, and answer every open ticket of a hotspot at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from bot.admin.errors import Missing
from bot.admin.tickets import desk
from bot.admin.web import ApiUser, Dep, FormUser, PageUser, client_ip, redirect, render
from bot.container import Container
from handlers.accounts import Principal
from handlers.errors import Refused
from handlers.flows import category_label
from handlers.hotspots import recurring
from handlers.lifecycle import is_open
from handlers.permissions import Action, communities_for
from handlers.staff_ticket_service import NoteIn
from handlers.tickets.hotspots import report_of
from storage.models import Hotspot

router = APIRouter()


class HotspotOut(BaseModel):
    id: int
    rule: str = Field(description="building | grid")
    place: str
    community_id: int | None
    grid_id: int | None
    building_id: int | None
    category: str
    category_label: str
    count: int = Field(description="reports (tickets and repeated reports) in the window")
    numbers: list[str]
    first_at: str
    last_at: str
    alerted: list[str] = Field(description="who was alerted in chat")


class RecurringOut(BaseModel):
    building_id: int | None
    building: str
    category: str
    category_label: str
    count: int


class TogetherIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


class TogetherOut(BaseModel):
    told: list[str] = Field(description="open tickets that got the note (residents told)")
    skipped: list[str] = Field(description="closed tickets, or ones the account may not touch")


def _out(h: Hotspot) -> HotspotOut:
    return HotspotOut(
        id=h.id or 0,
        rule=h.rule,
        place=h.place,
        community_id=h.community_id,
        grid_id=h.grid_id,
        building_id=h.building_id,
        category=h.category,
        category_label=category_label(h.category),
        count=h.count,
        numbers=list(h.numbers),
        first_at=h.first_at.isoformat(),
        last_at=h.last_at.isoformat(),
        alerted=list(h.alerted),
    )


async def _hotspots(c: Container, p: Principal, days: int) -> list[HotspotOut]:
    ids = communities_for(p.subject, Action.VIEW)
    since = c.clock.now() - timedelta(days=days)
    async with c.store.unit() as uow:
        rows = await uow.hotspots.listed(
            community_ids=list(ids) if ids is not None else None, since=since
        )
    return [_out(h) for h in rows]


async def _recurring(c: Container, p: Principal, days: int) -> list[RecurringOut]:
    ids = communities_for(p.subject, Action.VIEW)
    since = c.clock.now() - timedelta(days=days)
    async with c.store.unit() as uow:
        if ids is None:
            tickets = list(await uow.hotspots.recent_tickets(None, since))
        else:
            tickets = [tk for cid in ids for tk in await uow.hotspots.recent_tickets(cid, since)]
        names = {b.id: b.name for b in await uow.registry.buildings()}
    return [
        RecurringOut(
            building_id=building,
            building=names.get(building, "-"),
            category=category,
            category_label=category_label(category),
            count=count,
        )
        for building, category, count in recurring(report_of(tk) for tk in tickets)
    ]


@router.get("/api/v1/hotspots", response_model=list[HotspotOut], tags=["hotspots"])
async def api_list(
    c: Dep, p: ApiUser, days: Annotated[int, Query(ge=1, le=365)] = 7
) -> list[HotspotOut]:
    """Hotspots (clusters of reports that crossed a threshold) seen in the last ``days``."""
    return await _hotspots(c, p, days)


@router.get("/api/v1/hotspots/recurring", response_model=list[RecurringOut], tags=["hotspots"])
async def api_recurring(
    c: Dep, p: ApiUser, days: Annotated[int, Query(ge=1, le=365)] = 90
) -> list[RecurringOut]:
    """Problems reported at least twice in one building over ``days`` (default 90)."""
    return await _recurring(c, p, days)


async def _together(c: Container, p: Principal, hotspot_id: int, note: str, ip: str) -> TogetherOut:
    async with c.store.unit() as uow:
        hotspot = await uow.hotspots.get(hotspot_id)
        if hotspot is None or not _visible(p, hotspot):
            raise Missing(f"没有编号为 {hotspot_id} 的热点")
        numbers = list(hotspot.numbers)
        states = {n: (await uow.tickets.by_number(n)) for n in numbers}
    told: list[str] = []
    skipped: list[str] = []
    for number in numbers:
        ticket = states.get(number)
        if ticket is None or not is_open(ticket.status):
            skipped.append(number)
            continue
        try:
            await desk(c).act(p, number, Action.NOTE, NoteIn(note=note, tell_resident=True), ip=ip)
        except Refused:
            skipped.append(number)
            continue
        told.append(number)
    return TogetherOut(told=told, skipped=skipped)


def _visible(p: Principal, hotspot: Hotspot) -> bool:
    ids = communities_for(p.subject, Action.VIEW)
    return ids is None or hotspot.community_id in ids


@router.post("/api/v1/hotspots/{hotspot_id}/notes", response_model=TogetherOut, tags=["hotspots"])
async def api_together(
    request: Request, c: Dep, p: ApiUser, hotspot_id: int, body: TogetherIn
) -> TogetherOut:
    """One progress note to every open ticket of the hotspot (their residents are told)."""
    return await _together(c, p, hotspot_id, body.note, client_ip(request))


@router.get("/admin/hotspots", include_in_schema=False)
async def hotspots_page(request: Request, c: Dep, p: PageUser) -> HTMLResponse:
    context: dict[str, Any] = {
        "hotspots": await _hotspots(c, p, 7),
        "recurring": await _recurring(c, p, 90),
    }
    return render(request, "hotspots.html", p, **context)


@router.post("/admin/hotspots/{hotspot_id}/notes", include_in_schema=False)
async def together_form(
    request: Request,
    c: Dep,
    p: FormUser,
    hotspot_id: int,
    note: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    done = await _together(c, p, hotspot_id, note, client_ip(request))
    return redirect("/admin/hotspots", f"已回复 {len(done.told)} 个工单：{'、'.join(done.told)}")
