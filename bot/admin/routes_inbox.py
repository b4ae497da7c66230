"""The live handoff inbox (转人工): JSON API (``/api/v1/handoffs``) and ``/admin/inbox``.

The conversation page polls ``GET /api/v1/handoffs/{id}/messages?after=N`` (every two
seconds) so staff see the resident's words without reloading; replies go out through the
outbox to the resident's own channel.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from bot.admin.web import ApiUser, Dep, FormUser, PageUser, build_model, client_ip, redirect, render
from bot.container import Container
from handlers.handoff_service import HandoffDesk, HandoffTicketIn, ReplyIn
from handlers.staff_ticket_service import PRIORITY_LABELS, categories

router = APIRouter()


def desk(c: Container) -> HandoffDesk:
    return HandoffDesk(c.store, c.clock, c.service.tickets)


# --- JSON API ----------------------------------------------------------------------------------


@router.get("/api/v1/handoffs", tags=["handoff"])
async def api_inbox(c: Dep, p: ApiUser, closed: bool = False) -> dict[str, Any]:
    """Residents waiting for or talking with staff (``closed=true``: ended ones)."""
    return {"handoffs": await desk(c).inbox(p, closed=closed)}


@router.get("/api/v1/handoffs/{handoff_id}", tags=["handoff"])
async def api_detail(c: Dep, p: ApiUser, handoff_id: int) -> dict[str, Any]:
    """One handoff: the chat with the bot before it and everything said since (masked)."""
    return await desk(c).detail(p, handoff_id)


@router.get("/api/v1/handoffs/{handoff_id}/messages", tags=["handoff"])
async def api_messages(
    c: Dep, p: ApiUser, handoff_id: int, after: Annotated[int, Query(ge=0)] = 0
) -> dict[str, Any]:
    """Messages after id ``after`` and the handoff's status (polled by the console)."""
    return await desk(c).messages(p, handoff_id, after=after)


@router.post("/api/v1/handoffs/{handoff_id}/take", tags=["handoff"])
async def api_take(request: Request, c: Dep, p: ApiUser, handoff_id: int) -> dict[str, Any]:
    """Take the conversation; the resident is told who answers."""
    return await desk(c).take(p, handoff_id, ip=client_ip(request))


@router.post("/api/v1/handoffs/{handoff_id}/messages", tags=["handoff"])
async def api_reply(
    request: Request, c: Dep, p: ApiUser, handoff_id: int, body: ReplyIn
) -> dict[str, Any]:
    """Write to the resident; it reaches them in their own channel (web, WeChat, Telegram)."""
    return await desk(c).reply(p, handoff_id, body, ip=client_ip(request))


@router.post("/api/v1/handoffs/{handoff_id}/ticket", tags=["handoff"])
async def api_ticket(
    request: Request, c: Dep, p: ApiUser, handoff_id: int, body: HandoffTicketIn
) -> dict[str, str]:
    """File a ticket for the resident from the conversation."""
    return {"number": await desk(c).to_ticket(p, handoff_id, body, ip=client_ip(request))}


@router.post("/api/v1/handoffs/{handoff_id}/release", status_code=204, tags=["handoff"])
async def api_release(request: Request, c: Dep, p: ApiUser, handoff_id: int) -> Response:
    """End the conversation: the resident talks with the bot again."""
    await desk(c).release(p, handoff_id, ip=client_ip(request))
    return Response(status_code=204)


# --- console pages -----------------------------------------------------------------------------


@router.get("/admin/inbox", include_in_schema=False)
async def inbox_page(request: Request, c: Dep, p: PageUser) -> HTMLResponse:
    d = desk(c)
    return render(
        request,
        "inbox.html",
        p,
        handoffs=await d.inbox(p),
        closed=(await d.inbox(p, closed=True))[:20],
        now=c.clock.now().isoformat(),
    )


@router.get("/admin/inbox/{handoff_id}", include_in_schema=False)
async def handoff_page(request: Request, c: Dep, p: PageUser, handoff_id: int) -> HTMLResponse:
    return render(
        request,
        "handoff.html",
        p,
        h=await desk(c).detail(p, handoff_id),
        categories=categories(),
        priorities=list(PRIORITY_LABELS.items()),
        now=c.clock.now().isoformat(),
    )


@router.post("/admin/inbox/{handoff_id}/{op}", include_in_schema=False)
async def handoff_form(
    request: Request,
    c: Dep,
    p: FormUser,
    handoff_id: int,
    op: str,
    category: Annotated[str, Form(max_length=40)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    priority: Annotated[str, Form(max_length=10)] = "normal",
    text: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    back = f"/admin/inbox/{handoff_id}"
    d, ip = desk(c), client_ip(request)
    if op == "take":
        await d.take(p, handoff_id, ip=ip)
        return redirect(back, "已接入，居民已收到通知")
    if op == "reply":  # the page without JavaScript (with it, the reply goes through the API)
        await d.reply(p, handoff_id, build_model(ReplyIn, text=text), ip=ip)
        return redirect(back, "已发送")
    if op == "ticket":
        body = build_model(
            HandoffTicketIn, category=category, description=description, priority=priority
        )
        number = await d.to_ticket(p, handoff_id, body, ip=ip)
        return redirect(back, f"已转为工单 {number}，居民已收到工单号")
    if op == "release":
        await d.release(p, handoff_id, ip=ip)
        return redirect("/admin/inbox", "会话已结束，居民已回到智能助手")
    return redirect(back, "未知操作", error=True)
