"""The street level: referring tickets up, sending them back, handing them to 12345 (JSON API
and console), the 12345 hand-offs (JSON/CSV export), and streets in the registry.

The rules live in ``handlers/street_service.py`` and ``handlers/street_registry.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bot.admin.registry import import_job
from bot.admin.routes_registry import read_limited
from bot.admin.web import ApiUser, Dep, FormUser, PageUser, build_model, client_ip, redirect, render
from bot.jobqueue import queued_answer
from bot.street import street_desk, street_registry
from handlers.permissions import Action, communities_for
from handlers.street_registry import StreetIn, StreetStaffIn
from handlers.street_service import ForwardIn, ReferIn, SendBackIn

router = APIRouter()


def _csv(text: str, name: str) -> Response:
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- JSON API: tickets -------------------------------------------------------------------------


@router.post("/api/v1/tickets/{number}/street", tags=["street"])
async def api_refer(
    request: Request, c: Dep, p: ApiUser, number: str, body: ReferIn
) -> dict[str, str]:
    """Refer the ticket to the community's street (上报街道), whatever its status: the
    street staff get it as a task, the resident is told. 409 with no street staff."""
    return {"done": await street_desk(c).refer(p, number, body, ip=client_ip(request))}


@router.post("/api/v1/tickets/{number}/send-back", tags=["street"])
async def api_send_back(
    request: Request, c: Dep, p: ApiUser, number: str, body: SendBackIn
) -> dict[str, str]:
    """The street returns a referred ticket to the community (退回社区) with an instruction:
    the assignee and community staff get it, its clocks start again."""
    return {"done": await street_desk(c).send_back(p, number, body, ip=client_ip(request))}


@router.post("/api/v1/tickets/{number}/12345", status_code=201, tags=["street"])
async def api_forward(
    request: Request, c: Dep, p: ApiUser, number: str, body: ForwardIn
) -> dict[str, Any]:
    """Hand a ticket the street holds to the city's 12345 hotline: the hand-off record (the
    work order as sent), queued to the 12345 webhook when one is configured."""
    return await street_desk(c).forward(p, number, body, ip=client_ip(request))


@router.get("/api/v1/city12345/orders", tags=["street"])
async def api_orders(
    c: Dep,
    p: ApiUser,
    street: Annotated[int | None, Query()] = None,
    ticket: Annotated[str, Query(max_length=40)] = "",
) -> list[dict[str, Any]]:
    """The 12345 hand-offs in the caller's area (of one street or ticket), newest first."""
    return await street_desk(c).orders(p, street_id=street, number=ticket)


@router.get("/api/v1/exports/city12345.csv", tags=["street"], response_class=Response)
async def api_orders_csv(
    c: Dep, p: ApiUser, street: Annotated[int | None, Query()] = None
) -> Response:
    """The 12345 hand-offs as CSV (for entry into 12345's own system)."""
    return _csv(await street_desk(c).orders_csv(p, street_id=street), "city12345.csv")


# --- JSON API: streets -------------------------------------------------------------------------


@router.get("/api/v1/streets", tags=["street"])
async def api_streets(c: Dep, p: ApiUser) -> list[dict[str, Any]]:
    """Streets with their communities and staff (those of the caller's area)."""
    return await street_registry(c).listing(communities_for(p.subject, Action.VIEW))


@router.post("/api/v1/streets", status_code=201, tags=["street"])
async def api_create_street(request: Request, c: Dep, p: ApiUser, body: StreetIn) -> dict[str, int]:
    """Create a street (admins). Communities join it by their ``street`` name."""
    return {"id": await street_registry(c).save(p, body, ip=client_ip(request))}


@router.post("/api/v1/streets/{street_id}/staff", status_code=201, tags=["street"])
async def api_add_staff(
    request: Request, c: Dep, p: ApiUser, street_id: int, body: StreetStaffIn
) -> dict[str, int]:
    """Register a street staff member (admins): escalations and referrals reach them."""
    return {"id": await street_registry(c).add_staff(p, street_id, body, ip=client_ip(request))}


# --- console -----------------------------------------------------------------------------------


@router.get("/admin/streets", include_in_schema=False)
async def streets_page(
    request: Request, c: Dep, p: PageUser, street: Annotated[int | None, Query()] = None
) -> HTMLResponse:
    visible = communities_for(p.subject, Action.VIEW)
    return render(
        request,
        "streets.html",
        p,
        streets=await street_registry(c).listing(visible),
        orders=await street_desk(c).orders(p, street_id=street),
        street=street,
        may_edit=visible is None,
    )


@router.post("/admin/streets", include_in_schema=False)
async def streets_create(
    request: Request,
    c: Dep,
    p: FormUser,
    name: Annotated[str, Form(max_length=100)],
    district: Annotated[str, Form(max_length=100)] = "",
    hotline: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    body = build_model(StreetIn, name=name, district=district, hotline=hotline)
    await street_registry(c).save(p, body, ip=client_ip(request))
    return redirect("/admin/streets", f"已添加街道 {name}")


@router.post("/admin/streets/{street_id}/staff", include_in_schema=False)
async def streets_staff(
    request: Request,
    c: Dep,
    p: FormUser,
    street_id: int,
    name: Annotated[str, Form(max_length=50)],
    community_id: Annotated[str, Form(max_length=12)],
    phone: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    body = build_model(
        StreetStaffIn,
        name=name,
        phone=phone,
        community_id=int(community_id) if community_id.isdigit() else -1,
    )
    await street_registry(c).add_staff(p, street_id, body, ip=client_ip(request))
    return redirect("/admin/streets", f"已添加街道工作人员 {name}")


@router.post("/admin/streets/import", include_in_schema=False)
async def streets_import(
    request: Request, c: Dep, p: FormUser, file: Annotated[UploadFile, File()]
) -> Response:
    data = await read_limited(c, file)
    job_id, result = await import_job(
        c, p, "streets", data, community_id=None, ip=client_ip(request)
    )
    if result is None:
        return redirect("/admin/streets", queued_answer(job_id)["message"])
    return redirect("/admin/streets", f"已导入：新建{result.created}，更新{result.updated}")


@router.get("/admin/streets/export.csv", include_in_schema=False)
async def streets_export(c: Dep, p: PageUser) -> Response:
    return _csv(await street_registry(c).export_csv(p), "streets.csv")


@router.get("/admin/city12345/export.csv", include_in_schema=False)
async def orders_export(
    c: Dep, p: PageUser, street: Annotated[int | None, Query()] = None
) -> Response:
    return _csv(await street_desk(c).orders_csv(p, street_id=street), "city12345.csv")


@router.get("/admin/city12345/orders.json", include_in_schema=False)
async def orders_json(
    c: Dep, p: PageUser, street: Annotated[int | None, Query()] = None
) -> JSONResponse:
    return JSONResponse(
        await street_desk(c).orders(p, street_id=street),
        headers={"Content-Disposition": 'attachment; filename="city12345.json"'},
    )


@router.post("/admin/tickets/{number}/street/{op}", include_in_schema=False)
async def ticket_street(
    request: Request,
    c: Dep,
    p: FormUser,
    number: str,
    op: str,
    text: Annotated[str, Form(max_length=2000)] = "",
    share_contact: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    back = f"/admin/tickets/{number}"
    desk = street_desk(c)
    ip = client_ip(request)
    if op == "refer":
        done = await desk.refer(p, number, build_model(ReferIn, reason=text), ip=ip)
    elif op == "send_back":
        done = await desk.send_back(p, number, build_model(SendBackIn, instruction=text), ip=ip)
    elif op == "forward":
        body = build_model(ForwardIn, note=text, share_contact=bool(share_contact))
        order = await desk.forward(p, number, body, ip=ip)
        done = f"已转12345（{order['status_label']}）"
    else:
        return redirect(back, "未知操作", error=True)
    return redirect(back, done)
