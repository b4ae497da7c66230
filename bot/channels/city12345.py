"""The city's 12345 hotline as a channel: work orders go out through the outbox (its
notifier, ``bot/notify/city12345.py``) and replies / closures come back to
``POST /api/v1/city12345/callback``, signed with the shared secret (HMAC-SHA256 over
``<timestamp>.<body>``, compared in constant time, timestamp within a window). On iff
``MINHU_CITY12345__URL`` is set."""

from __future__ import annotations

import json
import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from bot.config import Settings
from bot.container import Container
from bot.notify.city12345 import NAME, verify
from bot.street import city_notifier, street_desk
from handlers.errors import NotFound
from handlers.ports import Notifier
from handlers.street_service import CityCallbackIn

log = logging.getLogger("minhu.city12345")
MAX_BODY = 64 * 1024


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def build_router() -> APIRouter:
    router = APIRouter()

    @router.post("/api/v1/city12345/callback", tags=["12345"])
    async def callback(request: Request) -> JSONResponse:
        """12345 answers a work order (``reply``) or closes it (``close``): the ticket's
        timeline records it and the resident is told; a closure resolves the ticket and asks
        the resident to rate. Signed: ``X-12345-Timestamp``, ``X-12345-Signature``."""
        container: Container = request.app.state.container
        settings = container.settings.city12345
        if settings is None:  # pragma: no cover - the route exists only when configured
            return _problem(404, "12345 is not configured")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _problem(413, "body too large")
        ok = verify(
            settings.secret.get_secret_value(),
            request.headers.get("X-12345-Timestamp", ""),
            body,
            request.headers.get("X-12345-Signature", ""),
            now=time.time(),
            window=settings.callback_window_seconds,
        )
        if not ok:
            log.warning("12345 callback with a bad or stale signature refused")
            return _problem(401, "bad signature")
        try:
            parsed = CityCallbackIn.model_validate(json.loads(body))
        except (ValueError, ValidationError) as e:
            return _problem(422, f"invalid callback: {str(e)[:300]}")
        try:
            done = await street_desk(container).callback(parsed)
        except NotFound as e:
            return _problem(404, e.message)
        return JSONResponse({"ok": True, **done})

    return router


class City12345Target:
    """Plugs 12345 into the app: the work-order notifier and the callback route."""

    name = NAME

    def enabled(self, settings: Settings) -> bool:
        return settings.city12345 is not None

    def notifier(self, container: Container) -> Notifier | None:
        return city_notifier(container)

    def router(self, settings: Settings) -> APIRouter | None:
        return build_router()

    async def start(self, container: Container) -> None:
        log.info("12345 hand-offs go to the configured webhook")


CHANNEL = City12345Target()
