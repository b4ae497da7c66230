"""Tickets: the JSON API (``/api/v1/tickets``) and the console pages (``/admin/tickets``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from bot.admin.routes_helpers import ticket_people
from bot.admin.tickets import console, desk
from bot.admin.web import ApiUser, Dep, FormUser, PageUser, build_model, client_ip, redirect, render
from bot.container import Container
from handlers.accounts import Principal
from handlers.lifecycle import Status
from handlers.permissions import Action, visible_tickets
from handlers.staff_ticket_service import (
    PRIORITY_LABELS,
    CategoryIn,
    CloseIn,
    NoteIn,
    ReassignIn,
    TicketQuery,
    categories,
)
from handlers.staff_words import staff_status
from handlers.ticket_console_service import CancelIn, DepartmentIn, EscalateIn, MergeIn, MoreIn

router = APIRouter()


class Ref(BaseModel):
    id: int | None
    name: str


class TicketOut(BaseModel):
    number: str = Field(examples=["MH-20261122-0001"])
    category: str = Field(examples=["elevator"])
    category_label: str = Field(examples=["电梯故障"])
    priority: str = Field(examples=["urgent"], description="urgent | high | normal | low")
    status: str = Field(examples=["assigned"])
    status_label: str
    community: Ref | None
    building: str = Field(examples=["3幢"])
    building_id: int | None
    unit: str
    room: str
    location_note: str
    place: str = Field(examples=["2幢3单元502室"], description="building, unit and room as written")
    grid: Ref | None
    assignee: Ref | None
    overdue: str | None = Field(description="accept | resolve when past its target")
    rating: int | None
    tier: str = Field(
        default="",
        description="above the community: '' (the community), street (上报街道), city (12345)",
    )
    channel: str
    channel_label: str = Field(examples=["微信公众号"])
    created_at: str | None
    updated_at: str | None
    assigned_at: str | None
    accepted_at: str | None
    resolved_at: str | None
    closed_at: str | None


class EventOut(BaseModel):
    at: str | None
    kind: str
    kind_label: str
    actor_type: str = Field(description="resident | worker | system | admin | department")
    actor_label: str
    actor_name: str
    from_status: str
    to_status: str
    from_label: str
    to_label: str
    note: str
    data: dict[str, Any]


class PhotoOut(BaseModel):
    id: int | None
    mime: str
    size: int
    url: str = Field(description="a signed link to the photo")


class ConversationOut(BaseModel):
    at: str | None
    text: str = Field(description="the resident's message, phone numbers masked")
    button: str | None
    button_title: str = Field(default="", description="the button's title as the resident saw it")
    intent: str
    confidence: float | None
    replies: list[str]


class NluOut(BaseModel):
    intent: str
    confidence: float | None


class TicketDetailOut(TicketOut):
    description: str
    contact_phone: str
    rating_comment: str
    reopen_count: int
    nlu: NluOut
    extra: dict[str, Any]
    events: list[EventOut]
    photos: list[PhotoOut]
    conversation: list[ConversationOut]


class TicketPage(BaseModel):
    tickets: list[TicketOut]
    total: int
    # true when counting stopped at ``total`` (1,000, or the end of the page asked for)
    total_is_lower_bound: bool = False
    page: int
    per_page: int


# --- JSON API ----------------------------------------------------------------------------------


@router.get("/api/v1/tickets", response_model=TicketPage, tags=["tickets"])
async def api_list(c: Dep, p: ApiUser, query: Annotated[TicketQuery, Query()]) -> TicketPage:
    """Tickets the caller may see, newest first, filtered and paginated.

    Requires ``Authorization: Bearer <token>`` (``minhu admin token --user NAME``). Community
    staff see their community, grid workers their own tickets.
    """
    rows, total, _ = await desk(c).list(p, query)
    return TicketPage(
        tickets=[TicketOut.model_validate(r) for r in rows],
        total=total.count,
        total_is_lower_bound=total.more,
        page=query.page,
        per_page=query.per_page,
    )


@router.get("/api/v1/exports/tickets.csv", tags=["tickets"], response_class=Response)
async def api_export(c: Dep, p: ApiUser, query: Annotated[TicketQuery, Query()]) -> Response:
    """The filtered list as CSV (UTF-8 with BOM, up to 20,000 rows)."""
    return _csv(await desk(c).export_csv(p, query))


@router.get("/api/v1/tickets/{number}", response_model=TicketDetailOut, tags=["tickets"])
async def api_detail(c: Dep, p: ApiUser, number: str) -> TicketDetailOut:
    """One ticket with its timeline, photos and the conversation around it (phones masked)."""
    return TicketDetailOut.model_validate(await desk(c).detail(p, number))


@router.post("/api/v1/tickets/{number}/reassign", response_model=TicketDetailOut, tags=["tickets"])
async def api_reassign(
    request: Request, c: Dep, p: ApiUser, number: str, body: ReassignIn
) -> TicketDetailOut:
    """Give the ticket to another grid worker of its community (staff and admins)."""
    data = await desk(c).act(p, number, Action.REASSIGN, body, ip=client_ip(request))
    return TicketDetailOut.model_validate(data)


@router.post("/api/v1/tickets/{number}/category", response_model=TicketDetailOut, tags=["tickets"])
async def api_category(
    request: Request, c: Dep, p: ApiUser, number: str, body: CategoryIn
) -> TicketDetailOut:
    """Correct the category; the ticket then shows up in the review inbox for training."""
    data = await desk(c).act(p, number, Action.RECATEGORIZE, body, ip=client_ip(request))
    return TicketDetailOut.model_validate(data)


@router.post("/api/v1/tickets/{number}/notes", response_model=TicketDetailOut, tags=["tickets"])
async def api_note(
    request: Request, c: Dep, p: ApiUser, number: str, body: NoteIn
) -> TicketDetailOut:
    """Add a note to the timeline (told to the assigned worker; to the resident on request)."""
    data = await desk(c).act(p, number, Action.NOTE, body, ip=client_ip(request))
    return TicketDetailOut.model_validate(data)


@router.post("/api/v1/tickets/{number}/close", response_model=TicketDetailOut, tags=["tickets"])
async def api_close(
    request: Request, c: Dep, p: ApiUser, number: str, body: CloseIn
) -> TicketDetailOut:
    """Close with a reason: resolved → closed, in work → resolved and closed, not yet accepted
    → cancelled (staff and admins)."""
    data = await desk(c).act(p, number, Action.CLOSE, body, ip=client_ip(request))
    return TicketDetailOut.model_validate(data)


class BoardOut(BaseModel):
    clocks: list[dict[str, Any]] = Field(description="running deadlines with seconds_left")
    holder: dict[str, Any] | None = Field(description="who holds it, at which escalation level")
    escalation: dict[str, Any] | None = Field(description="the escalation in force, if any")
    departments: list[dict[str, Any]] = Field(description="departments with their own status")
    department_choices: list[dict[str, Any]]
    open: bool


class DoneOut(BaseModel):
    done: str = Field(description="what was done, in words")


@router.get("/api/v1/tickets/{number}/clocks", response_model=BoardOut, tags=["tickets"])
async def api_board(c: Dep, p: ApiUser, number: str) -> BoardOut:
    """Deadlines with time left, the holder and escalation level, departments and status."""
    return BoardOut.model_validate(await console(c).board(p, number))


async def _more(request: Request, c: Container, p: Principal, number: str, body: MoreIn) -> DoneOut:
    return DoneOut(done=await console(c).act(p, number, body, ip=client_ip(request)))


@router.post("/api/v1/tickets/{number}/cancel", response_model=DoneOut, tags=["tickets"])
async def api_cancel(request: Request, c: Dep, p: ApiUser, number: str, body: CancelIn) -> DoneOut:
    """Withdraw a ticket nobody has accepted yet (mistaken, test or duplicate report)."""
    return await _more(request, c, p, number, body)


@router.post("/api/v1/tickets/{number}/merge", response_model=DoneOut, tags=["tickets"])
async def api_merge(request: Request, c: Dep, p: ApiUser, number: str, body: MergeIn) -> DoneOut:
    """Merge this ticket into ``into``: its residents follow that one."""
    return await _more(request, c, p, number, body)


@router.post("/api/v1/tickets/{number}/department", response_model=DoneOut, tags=["tickets"])
async def api_department(
    request: Request, c: Dep, p: ApiUser, number: str, body: DepartmentIn
) -> DoneOut:
    """Hand the ticket to a department (lead) or add one as co-handler."""
    return await _more(request, c, p, number, body)


@router.post("/api/v1/tickets/{number}/escalate", response_model=DoneOut, tags=["tickets"])
async def api_escalate(
    request: Request, c: Dep, p: ApiUser, number: str, body: EscalateIn
) -> DoneOut:
    """Escalate one rung up: grid worker → grid leader → community staff → street staff."""
    return await _more(request, c, p, number, body)


def _csv(text: str) -> Response:
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tickets.csv"'},
    )


# --- console pages -----------------------------------------------------------------------------


async def _choices(c: Container, p: Principal) -> dict[str, Any]:
    # the filters offer the grids and workers of what they may see (the communities a
    # principal sees do not depend on the grid tree)
    scope = visible_tickets(p.subject, {}).community_ids
    async with c.store.unit() as uow:
        if scope is None:
            grids = list(await uow.registry.grids())
            workers = list(await uow.registry.workers())
        else:
            grids = [g for cid in scope for g in await uow.registry.grids(cid)]
            workers = [w for cid in scope for w in await uow.registry.workers(cid)]
    return {
        "grids": grids,
        "workers": [w for w in workers if w.active],
        "categories": categories(),
        "statuses": [(s.value, staff_status(s.value)) for s in Status],
        "priorities": list(PRIORITY_LABELS.items()),
    }


@router.get("/admin/tickets", include_in_schema=False)
async def list_page(
    request: Request, c: Dep, p: PageUser, query: Annotated[TicketQuery, Query()]
) -> HTMLResponse:
    rows, total, _ = await desk(c).list(p, query)
    return render(
        request,
        "tickets.html",
        p,
        tickets=rows,
        total=str(total),
        query=query,
        params=query.params(),
        pages=total.pages(query.per_page),
        more_pages=total.more,
        **await _choices(c, p),
    )


@router.get("/admin/tickets/export.csv", include_in_schema=False)
async def export_page(c: Dep, p: PageUser, query: Annotated[TicketQuery, Query()]) -> Response:
    return _csv(await desk(c).export_csv(p, query))


@router.get("/admin/tickets/{number}", include_in_schema=False)
async def detail_page(request: Request, c: Dep, p: PageUser, number: str) -> HTMLResponse:
    ticket = await desk(c).detail(p, number)
    board = await console(c).board(p, number)
    return render(
        request,
        "ticket.html",
        p,
        t=ticket,
        board=board,
        people=await ticket_people(c, p, number),
        now=c.clock.now().isoformat(),
        **await _choices(c, p),
    )


@router.post("/admin/tickets/{number}/{op}", include_in_schema=False)
async def action_form(
    request: Request,
    c: Dep,
    p: FormUser,
    number: str,
    op: str,
    worker_id: Annotated[str, Form(max_length=12)] = "",
    category: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    tell_resident: Annotated[str, Form(max_length=5)] = "",
    into: Annotated[str, Form(max_length=40)] = "",
    department_id: Annotated[str, Form(max_length=12)] = "",
    cohandler: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    back = f"/admin/tickets/{number}"
    more: MoreIn | None = None
    if op == "cancel":
        more = build_model(CancelIn, reason=reason)
    elif op == "merge":
        more = build_model(MergeIn, into=into.strip().upper(), reason=reason)
    elif op == "department":
        dept = int(department_id) if department_id.isdigit() else -1
        more = build_model(DepartmentIn, department_id=dept, note=note, cohandler=bool(cohandler))
    elif op == "escalate":
        more = build_model(EscalateIn, reason=reason)
    if more is not None:
        done = await console(c).act(p, number, more, ip=client_ip(request))
        return redirect(back, f"已完成：{done}")
    body: ReassignIn | CategoryIn | NoteIn | CloseIn
    if op == "reassign":
        action = Action.REASSIGN
        body = build_model(
            ReassignIn, worker_id=worker_id if worker_id.isdigit() else -1, reason=reason
        )
        message = "已转派"
    elif op == "category":
        action, body, message = (
            Action.RECATEGORIZE,
            build_model(CategoryIn, category=category, note=note),
            "类别已更改",
        )
    elif op == "note":
        action, body, message = (
            Action.NOTE,
            build_model(NoteIn, note=note, tell_resident=bool(tell_resident)),
            "备注已添加",
        )
    elif op == "close":
        action, body, message = Action.CLOSE, build_model(CloseIn, reason=reason), "工单已关闭"
    else:
        return redirect(back, "未知操作", error=True)
    await desk(c).act(p, number, action, body, ip=client_ip(request))
    return redirect(back, message)
