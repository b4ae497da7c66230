"""The dead-letter view ``/admin/deliveries`` (and its API); ``GET /metrics`` is bot/metrics.py.

An outbox item is ``dead`` only after the delivery horizon (``MINHU_RELIABILITY__
DELIVERY_HORIZON_HOURS``, default 24 h) of retries; the view lists them with the last error,
and "重新发送" queues one again with a fresh horizon.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot.admin.web import ApiUser, Dep, FormUser, PageUser, redirect, render
from handlers.delivery_service import dead_letters, delivery_counts, send_again

router = APIRouter()


@router.get("/api/v1/admin/deliveries", tags=["admin"])
async def api_dead_letters(c: Dep, p: ApiUser) -> dict[str, Any]:
    """Messages not delivered within the horizon, newest first, and the outbox's counts."""
    items = await dead_letters(c.store, p)
    return {
        "counts": await delivery_counts(c.store),
        "dead": [
            {**asdict(d), "reason_label": d.reason_label, "created_at": d.created_at.isoformat()}
            for d in items
        ],
    }


@router.post("/api/v1/admin/deliveries/{item_id}/retry", tags=["admin"])
async def api_send_again(c: Dep, p: ApiUser, item_id: int) -> dict[str, bool]:
    """Queue a dead letter again (a fresh horizon); ``queued`` is false when it was not dead."""
    queued = await send_again(c.store, p, item_id, now=c.clock.now())
    if queued:
        c.dispatcher.kick()
    return {"queued": queued}


@router.get("/admin/deliveries", include_in_schema=False)
async def deliveries_page(request: Request, c: Dep, p: PageUser) -> HTMLResponse:
    items = await dead_letters(c.store, p)
    counts = await delivery_counts(c.store)
    horizon = c.settings.reliability.delivery_horizon_hours
    return render(request, "deliveries.html", p, items=items, counts=counts, horizon=horizon)


@router.post("/admin/deliveries/{item_id}", include_in_schema=False)
async def deliveries_form(c: Dep, p: FormUser, item_id: int) -> Response:
    if await send_again(c.store, p, item_id, now=c.clock.now()):
        c.dispatcher.kick()
        return redirect("/admin/deliveries", f"第 {item_id} 条已重新排队发送")
    return redirect("/admin/deliveries", f"第 {item_id} 条不是未送达状态", error=True)
