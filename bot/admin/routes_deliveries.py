"""The dead-letter view ``/admin/deliveries`` (and its API) and ``GET /metrics``.

An outbox item is ``dead`` only after the delivery horizon (``MINHU_RELIABILITY__
DELIVERY_HORIZON_HOURS``, default 24 h) of retries; the view lists them with the last error,
and "重新发送" queues one again with a fresh horizon.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from bot.admin.web import ApiUser, Dep, FormUser, PageUser, redirect, render
from handlers.delivery_service import dead_letters, delivery_counts, send_again

router = APIRouter()


@router.get("/api/v1/admin/deliveries", tags=["admin"])
async def api_dead_letters(c: Dep, p: ApiUser) -> dict[str, Any]:
    """Messages not delivered within the horizon, newest first, and the outbox's counts."""
    items = await dead_letters(c.store, p)
    return {
        "counts": await delivery_counts(c.store),
        "dead": [{**asdict(d), "created_at": d.created_at.isoformat()} for d in items],
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


@router.get("/metrics", include_in_schema=False)
async def metrics(c: Dep) -> PlainTextResponse:
    """Prometheus text format: outbox items by status, Redis fallbacks, NLU fallbacks."""
    lines = [
        "# HELP minhu_outbox_items Outbox items by status (dead: not delivered in the horizon).",
        "# TYPE minhu_outbox_items gauge",
    ]
    counts = await delivery_counts(c.store)
    for status in sorted({"pending", "sent", "dead", "rerouted", *counts}):
        lines.append(f'minhu_outbox_items{{status="{status}"}} {counts.get(status, 0)}')
    health = getattr(c.sessions, "health", None)
    if health is not None:
        lines += [
            "# HELP minhu_redis_outages_total Times Redis became unreachable.",
            "# TYPE minhu_redis_outages_total counter",
            f"minhu_redis_outages_total {health.outages}",
            "# HELP minhu_redis_fallback_calls_total State calls served by the database.",
            "# TYPE minhu_redis_fallback_calls_total counter",
            f"minhu_redis_fallback_calls_total {health.fallback_calls}",
        ]
    fallbacks = getattr(c.interpreter, "fallbacks", None)
    if isinstance(fallbacks, int):
        lines += [
            "# HELP minhu_nlu_fallback_total Messages the local model answered for Rasa.",
            "# TYPE minhu_nlu_fallback_total counter",
            f"minhu_nlu_fallback_total {fallbacks}",
        ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
