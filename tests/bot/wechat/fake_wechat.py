"""A local WeChat API server on 127.0.0.1 speaking the official account's HTTP protocol.

It hands out access tokens like ``/cgi-bin/stable_token`` does (the same token until it
expires or a refresh is forced), rejects calls with a missing, invalid (40001) or expired
(42001) token, serves media, and records customer-service, template, upload, QR-code and menu
calls. ``fail_next(endpoint, errcode)`` makes the next call(s) of an endpoint answer an error.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

APP_ID = "wx5f3a9c2b7d1e4f60"
SECRET = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"


@dataclass
class FakeWeChat:
    app_id: str = APP_ID
    secret: str = SECRET
    token_delay: float = 0.0  # widen refresh races in tests
    token_fetches: int = 0
    forced_refreshes: int = 0
    current_token: str | None = None
    expired: set[str] = field(default_factory=set)
    custom: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    media_gets: list[str] = field(default_factory=list)
    qrcodes: list[dict[str, Any]] = field(default_factory=list)
    menus: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    failures: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))
    base_url: str = ""
    _runner: web.AppRunner | None = None

    # --- test controls -----------------------------------------------------------------------

    def fail_next(self, endpoint: str, *errcodes: int) -> None:
        """The next calls of ``endpoint`` ("custom", "template", "media", "qrcode", "menu")."""
        self.failures[endpoint].extend(errcodes)

    def expire_token(self) -> None:
        """The current token expires: calls with it get 42001, stable_token issues a new one."""
        if self.current_token:
            self.expired.add(self.current_token)
            self.current_token = None

    def texts_to(self, openid: str) -> list[str]:
        return [
            m["text"]["content"]
            for m in self.custom
            if m["touser"] == openid and m["msgtype"] == "text"
        ]

    def templates_to(self, openid: str) -> list[dict[str, Any]]:
        return [m for m in self.templates if m["touser"] == openid]

    # --- protocol ----------------------------------------------------------------------------

    def _error(self, errcode: int, errmsg: str) -> web.Response:
        return web.json_response({"errcode": errcode, "errmsg": errmsg})

    def _auth(self, request: web.Request, endpoint: str) -> web.Response | None:
        token = request.query.get("access_token", "")
        if token in self.expired:
            return self._error(42001, "access_token expired rid: 6543a1b2-4f1e2d3c-1a2b3c4d")
        if not token or token != self.current_token:
            return self._error(40001, "invalid credential, access_token is invalid or not latest")
        if self.failures[endpoint]:
            code = self.failures[endpoint].popleft()
            return self._error(code, f"fake error {code}")
        return None

    async def stable_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("grant_type") != "client_credential":
            return self._error(40002, "invalid grant_type")
        if body.get("appid") != self.app_id or body.get("secret") != self.secret:
            return self._error(40125, "invalid appsecret")
        self.token_fetches += 1
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        if body.get("force_refresh"):
            self.forced_refreshes += 1
            if self.current_token:
                self.expired.add(self.current_token)
            self.current_token = None
        if self.current_token is None:
            self.current_token = "ACCESS_" + secrets.token_hex(16)
        return web.json_response({"access_token": self.current_token, "expires_in": 7200})

    async def custom_send(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "custom")) is not None:
            return error
        self.custom.append(json.loads(await request.read()))
        return self._error(0, "ok")

    async def template_send(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "template")) is not None:
            return error
        self.templates.append(json.loads(await request.read()))
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "msgid": 200228332 + len(self.templates)}
        )

    async def media_get(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "media")) is not None:
            return error
        media_id = request.query.get("media_id", "")
        self.media_gets.append(media_id)
        if media_id not in self.media:
            return web.Response(
                text=json.dumps({"errcode": 40007, "errmsg": "invalid media_id"}),
                content_type="text/plain",
            )
        content, mime = self.media[media_id]
        return web.Response(
            body=content,
            content_type=mime,
            headers={"Content-disposition": f'attachment; filename="{media_id}.jpg"'},
        )

    async def media_upload(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "upload")) is not None:
            return error
        form = await request.post()
        item = form["media"]
        content = item.file.read() if hasattr(item, "file") else b""
        media_id = "UPLOADED_" + secrets.token_hex(8)
        self.uploads.append({"type": request.query.get("type"), "size": len(content)})
        return web.json_response({"type": "image", "media_id": media_id, "created_at": 1763800000})

    async def qrcode_create(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "qrcode")) is not None:
            return error
        body = json.loads(await request.read())
        self.qrcodes.append(body)
        scene = body["action_info"]["scene"]
        if body.get("action_name") in ("QR_LIMIT_STR_SCENE", "QR_STR_SCENE"):
            value = str(scene.get("scene_str", ""))
            if not 1 <= len(value) <= 64:
                return self._error(40097, "invalid args")
        else:
            value = str(scene["scene_id"])
        tag = secrets.token_hex(6)
        return web.json_response(
            {
                "ticket": f"gQFT8DwAAAAAAAAAAS5odHRwOi8vd2VpeGluLnFxLmNvbS9xLzAy{tag}",
                "url": f"http://weixin.qq.com/q/02fake{tag}",
            }
        )

    async def menu_create(self, request: web.Request) -> web.Response:
        if (error := self._auth(request, "menu")) is not None:
            return error
        self.menus.append(json.loads(await request.read()))
        return self._error(0, "ok")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/cgi-bin/stable_token", self.stable_token)
        app.router.add_post("/cgi-bin/message/custom/send", self.custom_send)
        app.router.add_post("/cgi-bin/message/template/send", self.template_send)
        app.router.add_get("/cgi-bin/media/get", self.media_get)
        app.router.add_post("/cgi-bin/media/upload", self.media_upload)
        app.router.add_post("/cgi-bin/qrcode/create", self.qrcode_create)
        app.router.add_post("/cgi-bin/menu/create", self.menu_create)
        return app

    # --- running -----------------------------------------------------------------------------

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[FakeWeChat]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    @contextmanager
    def in_thread(self) -> Iterator[FakeWeChat]:
        """Serve from a thread with its own loop (for the synchronous CLI tests)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        ready.wait(10)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
