"""Open311 GeoReport v2, read only: ``/open311/v2/services.json``, ``/requests.json`` and
``/requests/{service_request_id}.json`` over our categories and tickets.

JSON only (the ``.xml`` forms are not served). Errors use the spec's shape:
``[{"code": 400, "description": "…"}]``. What is published, and what never is, is decided in
``handlers/open311.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.container import Container
from handlers.open311 import QUERY_PARAMS, Open311Error

HEADERS = {"Cache-Control": "public, max-age=60"}


def _params(request: Request) -> dict[str, str]:
    # "can be declared multiple times, comma delimited": ?status=open&status=closed works too
    return {
        name: ",".join(request.query_params.getlist(name))
        for name in QUERY_PARAMS
        if name in request.query_params
    }


def _error(e: Open311Error) -> JSONResponse:
    return JSONResponse(
        status_code=e.code, content=[{"code": e.code, "description": e.description}]
    )


def _ok(content: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(content=content, headers=HEADERS)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/open311/v2", tags=["open311"])

    @router.get("/services.json")
    async def services(request: Request) -> JSONResponse:
        """Our report categories as Open311 services."""
        container: Container = request.app.state.container
        try:
            return _ok(container.service.tickets.open311_services(_params(request)))
        except Open311Error as e:
            return _error(e)

    @router.get("/requests.json")
    async def requests(request: Request) -> JSONResponse:
        """Tickets as service requests (last 90 days and at most 1000 unless filtered)."""
        container: Container = request.app.state.container
        try:
            return _ok(await container.service.tickets.open311_requests(_params(request)))
        except Open311Error as e:
            return _error(e)

    @router.get("/requests/{service_request_id}.json")
    async def one_request(service_request_id: str, request: Request) -> JSONResponse:
        """One ticket, as a one-element list (the spec's shape)."""
        container: Container = request.app.state.container
        try:
            return _ok(
                await container.service.tickets.open311_request(
                    service_request_id, _params(request)
                )
            )
        except Open311Error as e:
            return _error(e)

    return router
