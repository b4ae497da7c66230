"""Building heads and volunteers, and reports taken by phone or at the counter (issue 14):
the JSON API and the console pages ``/admin/helpers`` and ``/admin/desk``. The rules live in
``handlers/people_service.py`` and ``handlers/desk_report_service.py``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from bot.admin.errors import BadInput
from bot.admin.routes_registry import LimitedBody, read_limited
from bot.admin.web import ApiUser, Dep, FormUser, PageUser, redirect, render
from bot.config import Settings
from bot.container import Container
from bot.jobqueue import queued_answer, subject_payload, submit_and_wait
from handlers.accounts import Principal
from handlers.desk_report_service import DeskReportIn, DuplicateFound
from handlers.flows import FLOWS
from handlers.guards import require_some
from handlers.people import CSV_HEADER, ROLE_LABELS, role_label
from handlers.permissions import Action, communities_for
from handlers.tickets.staff import staff_actor

router = APIRouter()


class HelperIn(BaseModel):
    name: str = Field(min_length=1, max_length=50, examples=["张桂兰"])
    role: str = Field(
        description="building_head (楼栋长) | unit_head (单元长) | party_volunteer (党员志愿者)",
        examples=["building_head"],
    )
    buildings: list[int] = Field(min_length=1, max_length=50, description="building ids")
    unit: str = Field(default="", max_length=20, description="a unit head's unit, e.g. 1单元")
    phone: str = Field(default="", max_length=30)


class AskIn(BaseModel):
    purpose: str = Field(
        pattern="^(assist|verify)$",
        description="assist: respond first now; verify: confirm the fix once resolved",
    )
    helper_ids: list[int] = Field(
        default_factory=list, max_length=10, description="empty: the building's head"
    )
    note: str = Field(default="", max_length=300)


class LinkCodeOut(BaseModel):
    code: str = Field(description='the helper sends "绑定 <code>" in their own chat')
    expires_at: str
    telegram_link: str = Field(
        default="", description="t.me deep link that sends the code by a tap (bot username set)"
    )


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadInput("文件不是 UTF-8 或 GB18030 编码的 CSV")


# --- building heads and volunteers -------------------------------------------------------


@router.get("/api/v1/helpers", tags=["people"])
async def api_helpers(
    c: Dep,
    p: ApiUser,
    building: Annotated[int | None, Query(gt=0, description="only those of a building")] = None,
) -> list[dict[str, Any]]:
    """Building heads, unit heads and party-member volunteers (staff: their community), with
    their buildings, full phone and whether they linked a chat account."""
    return await c.service.helpers.listed(p.subject, building_id=building)


@router.post("/api/v1/helpers", status_code=201, tags=["people"])
async def api_add_helper(c: Dep, p: ApiUser, body: HelperIn) -> dict[str, Any]:
    """Register a helper for one or more buildings of a community."""
    return await c.service.helpers.register(
        p.subject,
        name=body.name,
        role=body.role,
        building_ids=body.buildings,
        unit=body.unit,
        phone=body.phone,
    )


@router.delete("/api/v1/helpers/{helper_id}", status_code=204, tags=["people"])
async def api_remove_helper(c: Dep, p: ApiUser, helper_id: int) -> Response:
    """Retire a helper (kept on the tickets they answered)."""
    await c.service.helpers.remove(p.subject, helper_id)
    return Response(status_code=204)


@router.post("/api/v1/helpers/import", response_model=dict[str, int], tags=["people"])
async def api_import_helpers(
    _: LimitedBody,
    c: Dep,
    p: ApiUser,
    file: Annotated[UploadFile, File(description="CSV: 姓名,角色,社区,楼栋,单元,电话")],
) -> dict[str, int] | JSONResponse:
    """Import helpers from CSV (楼栋 may list several: ``3幢;5幢``). All or nothing: 422 with
    every bad line. The import is a job of the queue: when it has not finished within
    ``MINHU_JOBS__WAIT_SECONDS`` the answer is 202 with its id (``{"job": …}``)."""
    text = _decode(await read_limited(c, file))
    job_id, result = await _import(c, p, text)
    if result is None:
        return JSONResponse(queued_answer(job_id), status_code=202)
    return {"created": int(result["created"])}


async def _import(c: Container, p: Principal, text: str) -> tuple[int, dict[str, Any] | None]:
    """The import runs as a job (``bot/jobqueue.py``), off the web process's event loop."""
    return await submit_and_wait(
        c.store,
        c.clock,
        "import",
        {"subject": subject_payload(p.subject), "text": text},
        by=p.username,
        wait=c.settings.jobs.wait_seconds,
    )


@router.post("/api/v1/helpers/{helper_id}/link-code", response_model=LinkCodeOut, tags=["people"])
async def api_link_code(c: Dep, p: ApiUser, helper_id: int) -> LinkCodeOut:
    """A one-time code (14 days) that links the helper's WeChat / Telegram / web chat."""
    code, expires = await c.service.helpers.link_code(p.subject, helper_id)
    return LinkCodeOut(
        code=code, expires_at=expires.isoformat(), telegram_link=telegram_link(c.settings, code)
    )


@router.get("/api/v1/tickets/{number}/helpers", tags=["people"])
async def api_ticket_helpers(c: Dep, p: ApiUser, number: str) -> list[dict[str, Any]]:
    """Helpers asked on a ticket and their answers."""
    return await _ticket_helpers(c, p, number)


async def ticket_people(c: Container, p: Principal, number: str) -> dict[str, Any]:
    """The ticket page's block: helpers asked and those of its building who could be."""
    from handlers.guards import ticket_for
    from handlers.tickets.access import grid_tree

    async with c.store.unit() as uow:
        ticket = ticket_for(p.subject, await uow.tickets.by_number(number), await grid_tree(uow))
        asked = await c.service.people.on_ticket(uow, ticket.id or 0)
        candidates = (
            await uow.people.helpers(building_id=ticket.building_id) if ticket.building_id else []
        )
    return {
        "asked": asked,
        "candidates": [
            {"id": h.id, "label": f"{h.unit}{role_label(h.role)} {h.name}"} for h in candidates
        ],
    }


async def _ticket_helpers(c: Container, p: Principal, number: str) -> list[dict[str, Any]]:
    from handlers.guards import ticket_for
    from handlers.tickets.access import grid_tree

    async with c.store.unit() as uow:
        ticket = ticket_for(p.subject, await uow.tickets.by_number(number), await grid_tree(uow))
        return await c.service.people.on_ticket(uow, ticket.id or 0)


@router.post("/api/v1/tickets/{number}/helpers", tags=["people"])
async def api_ask_helpers(c: Dep, p: ApiUser, number: str, body: AskIn) -> dict[str, Any]:
    """Add building heads / volunteers to a ticket: ``assist`` asks them now to respond
    first; ``verify`` asks them to confirm the fix ("请帮忙确认 3幢 电梯已恢复" with
    已恢复 / 未恢复) once the ticket is resolved (at once if it is)."""
    return await c.service.people.desk_ask(
        p.subject,
        p.label,
        staff_actor(f"user:{p.user_id}", p.label),
        number,
        body.purpose,
        body.helper_ids or None,
        body.note,
    )


# --- reports taken by phone or at the counter -------------------------------------------


@router.post("/api/v1/tickets", status_code=201, tags=["tickets"])
async def api_desk_report(c: Dep, p: ApiUser, body: DeskReportIn) -> Response:
    """File a report taken by phone (电话) or at the counter (窗口) for the resident with that
    phone. Routed, timed and checked for duplicates like a chat report; the resident gets
    updates in their linked chat, else by text message. 409 with ``duplicate_of`` when the
    same problem is open and ``duplicate`` (follow | new) was not chosen."""
    try:
        out = await c.service.desk_reports.create(
            p.subject, staff_actor(f"user:{p.user_id}", p.label), body
        )
    except DuplicateFound as e:
        return JSONResponse(
            status_code=409,
            content={"error": str(e), "duplicate_of": e.number, "status": e.status},
        )
    return JSONResponse(status_code=201, content=out)


# --- console pages ---------------------------------------------------------------------------


async def _places(c: Container, p: Principal) -> dict[str, Any]:
    ids = communities_for(p.subject, Action.VIEW)
    async with c.store.unit() as uow:
        communities = [x for x in await uow.registry.communities() if ids is None or x.id in ids]
        wanted = {x.id for x in communities}
        buildings = [b for b in await uow.registry.buildings() if b.community_id in wanted]
    return {"communities": communities, "buildings": buildings}


@router.get("/admin/helpers", include_in_schema=False)
async def helpers_page(request: Request, c: Dep, p: PageUser) -> HTMLResponse:
    require_some(p.subject, Action.MANAGE_REGISTRY)
    return render(
        request,
        "helpers.html",
        p,
        helpers=await c.service.helpers.listed(p.subject),
        roles=[(r.value, labels["zh"]) for r, labels in ROLE_LABELS.items()],
        csv_header=",".join(CSV_HEADER),
        **await _places(c, p),
    )


@router.post("/admin/helpers", include_in_schema=False)
async def helpers_add(
    c: Dep,
    p: FormUser,
    name: Annotated[str, Form(max_length=50)],
    role: Annotated[str, Form(max_length=30)],
    buildings: Annotated[list[int], Form()],
    unit: Annotated[str, Form(max_length=20)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    helper = await c.service.helpers.register(
        p.subject, name=name, role=role, building_ids=buildings, unit=unit, phone=phone
    )
    return redirect("/admin/helpers", f"已添加{helper['role_label']}{helper['name']}")


@router.post("/admin/helpers/import", include_in_schema=False)
async def helpers_import(
    _: LimitedBody, c: Dep, p: FormUser, file: Annotated[UploadFile, File()]
) -> Response:
    job_id, result = await _import(c, p, _decode(await read_limited(c, file)))
    if result is None:
        return redirect("/admin/helpers", queued_answer(job_id)["message"])
    return redirect("/admin/helpers", f"已导入 {result['created']} 位楼栋长或志愿者")


@router.post("/admin/helpers/{helper_id}/link-code", include_in_schema=False)
async def helpers_code(c: Dep, p: FormUser, helper_id: int) -> Response:
    code, expires = await c.service.helpers.link_code(p.subject, helper_id)
    day = expires.astimezone().strftime("%Y-%m-%d")
    telegram = telegram_link(c.settings, code)
    also = f"，或在 Telegram 打开 {telegram}" if telegram else ""
    return redirect(
        "/admin/helpers",
        f"绑定码 {code}：请本人在“民呼”公众号或网页对话发送“绑定 {code}”{also}"
        f"（{day} 前有效，仅一次）",
    )


def telegram_link(settings: Settings, code: str) -> str:
    """The bot's deep link that sends the code by a tap (needs MINHU_TELEGRAM__BOT_USERNAME)."""
    username = (settings.telegram.bot_username if settings.telegram else "").lstrip("@")
    if not username:
        return ""
    return f"https://t.me/{username}?start=link-{code.replace(' ', '')}"


@router.post("/admin/helpers/{helper_id}/remove", include_in_schema=False)
async def helpers_remove(c: Dep, p: FormUser, helper_id: int) -> Response:
    await c.service.helpers.remove(p.subject, helper_id)
    return redirect("/admin/helpers", "已移除")


@router.post("/admin/helpers/ask/{number}", include_in_schema=False)
async def ticket_ask_form(
    c: Dep,
    p: FormUser,
    number: str,
    purpose: Annotated[str, Form(pattern="^(assist|verify)$")],
    helper_id: Annotated[str, Form(max_length=12)] = "",
    note: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    ids = [int(helper_id)] if helper_id.isdigit() else None
    done = await c.service.people.desk_ask(
        p.subject, p.label, staff_actor(f"user:{p.user_id}", p.label), number, purpose, ids, note
    )
    said = "、".join(done["asked"] + done["waiting_for_resolution"] + done["unreachable"])
    extra = (
        f"（未绑定聊天，请电话联系：{'、'.join(done['unreachable'])}）"
        if done["unreachable"]
        else ""
    )
    return redirect(f"/admin/tickets/{number}", f"已请 {said} 协助{extra}")


@router.get("/admin/desk", include_in_schema=False)
async def desk_page(request: Request, c: Dep, p: PageUser) -> HTMLResponse:
    require_some(p.subject, Action.ANSWER)
    categories = sorted({(f.category, f.label["zh"]) for f in FLOWS.values()})
    return render(request, "desk.html", p, categories=categories, **await _places(c, p))


@router.post("/admin/desk", include_in_schema=False)
async def desk_form(
    request: Request,
    c: Dep,
    p: FormUser,
    phone: Annotated[str, Form(max_length=30)],
    category: Annotated[str, Form(max_length=40)],
    description: Annotated[str, Form(max_length=2000)],
    source: Annotated[str, Form(max_length=10)] = "phone",
    building: Annotated[str, Form(max_length=12)] = "",
    name: Annotated[str, Form(max_length=50)] = "",
    unit: Annotated[str, Form(max_length=20)] = "",
    room: Annotated[str, Form(max_length=20)] = "",
    priority: Annotated[str, Form(max_length=10)] = "normal",
    duplicate: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    try:
        body = DeskReportIn(
            source=source,
            phone=phone,
            name=name,
            building=int(building) if building.isdigit() else None,
            unit=unit,
            room=room,
            category=category,
            description=description,
            priority=priority,
            duplicate=duplicate,
        )
    except ValueError as e:
        raise BadInput(f"填写有误：{e}") from e
    try:
        out = await c.service.desk_reports.create(
            p.subject, staff_actor(f"user:{p.user_id}", p.label), body
        )
    except DuplicateFound as e:
        categories = sorted({(f.category, f.label["zh"]) for f in FLOWS.values()})
        return render(
            request,
            "desk.html",
            p,
            status=409,
            categories=categories,
            duplicate=e,
            form=body,
            **await _places(c, p),
        )
    return render(
        request,
        "desk.html",
        p,
        categories=sorted({(f.category, f.label["zh"]) for f in FLOWS.values()}),
        done=out,
        **await _places(c, p),
    )
