"""The FastAPI application: ``create_app(settings)`` wires everything once."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot import admin, docs
from bot.channels import CHANNELS
from bot.channels.web import STATIC
from bot.config import Settings
from bot.container import Container, build, start_background
from bot.demo import load_demo
from bot.logs import REQUEST_ID, request_id_from
from bot.metrics_route import router as metrics_router
from handlers.ports import Clock
from storage.errors import StorageError
from storage.objects import S3ObjectStore
from storage.session_sql import ResilientSessionStore
from storage.state import RedisSessionStore

log = logging.getLogger("minhu.app")

# Our pages load only our own scripts (no inline script); the console's few inline style
# attributes need 'unsafe-inline' for styles. Nobody may frame a page (clickjacking).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# /docs and /redoc (local assets, bot/docs.py) start Swagger UI / ReDoc with an inline script
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


class ArrivalStamp:
    """Outermost middleware: stamps ``scope["state"]["arrived"]`` (event-loop time).

    Deadlines (WeChat's 5 s) count from here, not from when a handler finally runs.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["arrived"] = asyncio.get_running_loop().time()
        await self.app(scope, receive, send)


class RequestId:
    """Outermost middleware: the request id of the logs (bot/logs.py), from ``X-Request-ID``
    or fresh, and returned in the response's ``X-Request-ID``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        rid = request_id_from(given.decode("latin-1"))
        token = REQUEST_ID.set(rid)

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


class SecurityHeaders:
    """Headers every response carries; HTML pages also get the CSP and may not be framed.

    Plain ASGI: Starlette's ``@app.middleware("http")`` runs every request through an extra
    task and a response stream, a measurable share of a webhook message's time.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in ("/docs", "/redoc", "/docs/oauth2-redirect")

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def readiness(container: Container, wait: float = 2.0) -> dict[str, str]:
    """Each dependency's state: ``ok``, ``not configured`` or ``error: <kind>``."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(wait):
            await container.database.ping()
        checks["database"] = "ok"
    except (StorageError, TimeoutError) as e:
        checks["database"] = f"error: {type(e).__name__}"
    sessions = container.sessions
    redis = sessions.primary if isinstance(sessions, ResilientSessionStore) else sessions
    if isinstance(redis, RedisSessionStore):
        try:
            async with asyncio.timeout(wait):
                await redis.ping()
            checks["redis"] = "ok"
        except (StorageError, TimeoutError) as e:
            checks["redis"] = f"error: {type(e).__name__}"
    else:
        checks["redis"] = "not configured"
    checks["model"] = "ok" if container.interpreter.version else "error: no model"
    objects = container.objects
    if isinstance(objects, S3ObjectStore):
        try:
            async with asyncio.timeout(wait):
                await asyncio.to_thread(objects.ping)
            checks["objects"] = "ok"
        except (StorageError, TimeoutError) as e:
            checks["objects"] = f"error: {type(e).__name__}"
    else:
        checks["objects"] = "ok"  # a local directory
    return checks


def app_from_env() -> FastAPI:
    """The app of one `minhu serve --workers N` process: settings and logging from the env."""
    from bot.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    return create_app(settings, freeze_heap=True)


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, freeze_heap: bool = False
) -> FastAPI:
    """Build the app. Nothing connects until startup (the lifespan).

    ``freeze_heap`` (a served process, not tests that build many apps in one process): once
    started, everything alive (the NLU model, the registry, the imported modules) moves to
    the garbage collector's permanent generation. Under a burst the full collections walked
    all of it again and again — 10 of them, 0.27 s each and up to 0.47 s, during one burst of
    300 messages on one process (py-spy and ``gc.callbacks``), time in which nobody was
    answered. Frozen objects are still freed by reference counting; only reference cycles
    among them (a model replaced by a new version) stay until the process restarts.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = await build(settings, channels=CHANNELS, clock=clock)
        app.state.container = container
        try:
            if settings.loads_demo and await load_demo(container.store):
                log.info("demo community loaded")
                container.service.invalidate_registry()
            await admin.start(container)
            for channel in CHANNELS:
                if channel.enabled(settings):
                    await channel.start(container)
            await start_background(container)
            if freeze_heap:
                gc.collect()
                gc.freeze()
            log.info(
                "Minhu ready: database=%s state=%s nlu=%s channels=%s",
                "postgresql" if not container.database.is_sqlite else "sqlite",
                "redis" if settings.redis_url else "memory",
                container.interpreter.version,
                ",".join(sorted(container.notifiers)),
            )
            yield
        finally:
            await container.close()

    app = FastAPI(
        title="Minhu 民呼",
        version="0.1.0",
        description="Community reporting: residents' messages in, routed tickets out.",
        lifespan=lifespan,
        docs_url=None,  # served offline by bot.docs
        redoc_url=None,
    )
    app.state.settings = settings
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestId)  # every log line of a request carries its id
    app.add_middleware(ArrivalStamp)  # added last: outermost

    for channel in CHANNELS:
        if channel.enabled(settings):
            router = channel.router(settings)
            if router is not None:
                app.include_router(router)
    if settings.open311.enabled:
        from bot.open311 import build_router as open311_router

        app.include_router(open311_router())
    admin.install(app)  # the console (/admin) and its JSON API
    app.include_router(metrics_router())  # GET /metrics (bot/metrics.py)

    docs.install(app)  # /docs, /redoc and /favicon.ico from local assets
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", tags=["ops"])
    async def healthz(request: Request) -> dict[str, Any]:
        """Liveness: the process serves requests (a database outage is /readyz's business)."""
        container: Container = request.app.state.container
        return {"status": "ok", "nlu_model": container.interpreter.version}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> JSONResponse:
        """Readiness for the load balancer: database, Redis (when configured), a model and the
        object store (the S3 bucket when configured)."""
        container: Container = request.app.state.container
        checks = await readiness(container)
        ready = all(v in ("ok", "not configured") for v in checks.values())
        return JSONResponse(
            status_code=200 if ready else 503,
            content={"status": "ready" if ready else "not ready", "checks": checks},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"error": "invalid request", "detail": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": str(exc.detail)},
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(StorageError)
    async def storage_down(request: Request, exc: StorageError) -> JSONResponse:
        log.error("storage error on %s: %s", request.url.path, exc)
        return JSONResponse(
            status_code=503,
            content={"error": "服务暂时不可用，请稍后再试 (storage unavailable)"},
        )

    return app
