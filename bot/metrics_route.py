"""``GET /metrics``: who may read it (bot/metrics.py says what it holds)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from bot.container import Container
from bot.metrics import CONTENT_TYPE, exposition
from storage.observability import snapshot


def _allowed(request: Request, container: Container) -> bool:
    token = container.settings.metrics_token
    if token is None:
        return container.settings.env != "prod"
    given = request.headers.get("authorization", "")
    expected = f"Bearer {token.get_secret_value()}"
    return hmac.compare_digest(given.encode(), expected.encode())


def router() -> APIRouter:
    """``GET /metrics``."""
    api = APIRouter()

    @api.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        container: Container = request.app.state.container
        if not _allowed(request, container):
            if container.settings.metrics_token is None:
                raise HTTPException(404, "Not Found")  # prod without a token: no such page
            raise HTTPException(
                401, "metrics need a bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        numbers = await snapshot(container.database, container.clock.now())
        return Response(exposition(numbers), media_type=CONTENT_TYPE)

    return api
