"""The review inbox: JSON API (``/api/v1/admin/review``) and ``/admin/review``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bot.admin.intents import desk as intent_desk
from bot.admin.review import desk
from bot.admin.web import ApiUser, Dep, FormUser, PageUser, client_ip, redirect, render
from handlers.review_service import LabelIn

router = APIRouter()


@router.get("/api/v1/admin/review", tags=["nlu"])
async def api_inbox(c: Dep, p: ApiUser) -> dict[str, Any]:
    """Messages to label: unsure ones, categories residents picked in a clarification that
    differ from the NLU's guess, and categories staff or workers corrected (last 30 days)."""
    return {"items": [i.to_json() for i in await desk(c).inbox(p)]}


@router.post("/api/v1/admin/review/{source}/{item_id}/label", tags=["nlu"])
async def api_label(
    request: Request, c: Dep, p: ApiUser, source: str, item_id: int, body: LabelIn
) -> dict[str, Any]:
    """Add the item's text (phones masked) to an intent's examples."""
    return await desk(c).label(p, source, item_id, body.intent, ip=client_ip(request))


@router.post("/api/v1/admin/review/{source}/{item_id}/dismiss", status_code=204, tags=["nlu"])
async def api_dismiss(request: Request, c: Dep, p: ApiUser, source: str, item_id: int) -> Response:
    """Take an item out of the inbox without labelling it."""
    await desk(c).dismiss(p, source, item_id, ip=client_ip(request))
    return Response(status_code=204)


@router.get("/admin/review", include_in_schema=False)
async def review_page(request: Request, c: Dep, p: PageUser) -> HTMLResponse:
    items = await desk(c).inbox(p)
    intents, _ = await intent_desk(c).list_intents(p)
    return render(
        request,
        "review.html",
        p,
        items=[i.to_json() for i in items],
        intents=[i.name for i in intents],
    )


@router.post("/admin/review/{source}/{item_id}", include_in_schema=False)
async def review_form(
    request: Request,
    c: Dep,
    p: FormUser,
    source: str,
    item_id: int,
    op: Annotated[str, Form(max_length=10)],
    intent: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    if op == "dismiss":
        await desk(c).dismiss(p, source, item_id, ip=client_ip(request))
        return redirect("/admin/review", "已忽略")
    result = await desk(c).label(p, source, item_id, intent, ip=client_ip(request))
    message = (
        f"已加入 {intent} 的例句" if result["added"] else f"{intent} 已有这条例句，已标记为已审核"
    )
    if result["warnings"]:
        message += "。注意：" + "；".join(result["warnings"])
    return redirect("/admin/review", message + "。训练后生效。")
