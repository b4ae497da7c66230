"""The HTTP JSON channel (a public contract) and the web chat page.

Contract:
    POST /api/v1/messages  {"user_id": "...", "text": "..."} or {"user_id": "...", "button": "..."}
        → {"replies": [{"text": "...", "buttons": [{"title": "...", "payload": "..."}]}]}
    GET  /api/v1/messages?user_id=...
        → {"messages": [ same shape as a reply ]}: pushed since the last call, each once.

``user_id`` is accepted only in demo mode; in production the caller is the anonymous resident
session (a signed cookie the server issues) or the worker behind a console login
(bot/channels/web_identity.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field, field_validator, model_validator

from bot.channels.base import image_mime, store_image
from bot.channels.web_identity import remember, resolve
from bot.config import Settings
from bot.container import Container
from bot.notify.mailbox import MailboxNotifier
from handlers.i18n import t
from handlers.messages import Inbound, Media, MediaKind, Outbound
from handlers.ports import Notifier
from storage.objects import ObjectMissingError

STATIC = Path(__file__).resolve().parent.parent / "static"
MAX_UPLOAD = 5 * 1024 * 1024
USER_ID = r"^[A-Za-z0-9_.:@+\-]{1,128}$"


class ButtonOut(BaseModel):
    title: str
    payload: str


class ReplyOut(BaseModel):
    text: str
    buttons: list[ButtonOut] = []
    image: str | None = None


class RepliesOut(BaseModel):
    replies: list[ReplyOut]


class MessagesOut(BaseModel):
    messages: list[ReplyOut]


class MessageIn(BaseModel):
    """A message from a web/script user. Exactly the public contract, plus optional extras."""

    user_id: str | None = Field(
        default=None,
        pattern=USER_ID,
        description="the user's id (demo mode only; production uses the session cookie)",
    )
    text: str | None = Field(default=None, max_length=20_000)
    button: str | None = Field(default=None, max_length=200)
    message_id: str | None = Field(
        default=None, max_length=128, description="set it to make retries idempotent"
    )
    media: list[str] = Field(default_factory=list, max_length=9)
    locale: str | None = Field(default=None, max_length=10)

    @field_validator("media")
    @classmethod
    def _media_refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            if not ref.startswith("attachment:") or not ref.removeprefix("attachment:").isdigit():
                raise ValueError("media items are refs returned by POST /api/v1/uploads")
        return value

    @model_validator(mode="after")
    def _something(self) -> MessageIn:
        if self.text is None and self.button is None and not self.media:
            raise ValueError("send 'text', 'button' or 'media'")
        return self


class UploadOut(BaseModel):
    media: str


class SessionOut(BaseModel):
    kind: str  # "resident" | "worker" | "client"
    demo: bool
    worker: str | None = None  # the worker's name when acting as one


def sign(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def render(message: Outbound, container: Container) -> ReplyOut:
    image = None
    if message.image and message.image.startswith("attachment:"):
        ident = message.image.removeprefix("attachment:")
        secret = container.settings.secret_key.get_secret_value()
        image = f"/api/v1/attachments/{ident}?sig={sign(secret, ident)}"
    return ReplyOut(
        text=message.text,
        buttons=[ButtonOut(title=b.title, payload=b.payload) for b in message.buttons],
        image=image,
    )


Dep = Annotated[Container, Depends(container_of)]


def _message_key(user_id: str, message_id: str | None) -> str:
    """Retries are de-duplicated per user: another user reusing an id is a new message (and
    never gets the first user's answer back)."""
    if not message_id:
        return uuid.uuid4().hex
    digest = hashlib.sha256(f"{user_id}\0{message_id}".encode()).hexdigest()
    return f"u-{digest[:40]}"


async def _own_uploads(c: Container, user_id: str, refs: list[str]) -> None:
    """Only photos this user uploaded (and not yet on a ticket) may go into their message."""
    if not refs:
        return
    async with c.store.unit() as uow:
        for ref in refs:
            item = await uow.attachments.get(int(ref.removeprefix("attachment:")))
            if item is None or item.uploaded_by != f"web:{user_id}"[:64] or item.ticket_id:
                raise HTTPException(403, "只能发送您自己刚上传的照片 (not your upload)")


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/api/v1/messages",
        response_model=RepliesOut,
        response_model_exclude_none=True,
        tags=["chat"],
    )
    async def post_message(
        body: MessageIn, c: Dep, request: Request, response: Response
    ) -> RepliesOut:
        """Send a message as a resident or a worker; the replies come back at once."""
        ident = await resolve(request, c, body.user_id)
        remember(response, request, ident, c)
        await _own_uploads(c, ident.user_id, body.media)
        media = tuple(Media(MediaKind.IMAGE, ref) for ref in body.media)
        inbound = Inbound(
            channel="web",
            user_id=ident.user_id,
            message_id=_message_key(ident.user_id, body.message_id),
            text=body.text or "",
            button=body.button,
            media=media,
            locale=body.locale or "zh",
            origin=request.client.host if request.client else "",
        )
        reliability = c.settings.reliability
        turns = c.extras.get("web-turns")
        if not isinstance(turns, asyncio.Semaphore):
            turns = c.extras["web-turns"] = asyncio.Semaphore(reliability.web_max_concurrent)
        replies = await c.service.handle_within(
            inbound, reliability.web_answer_seconds, turns, c.spawn
        )
        return RepliesOut(replies=[render(r, c) for r in replies])

    @router.get(
        "/api/v1/messages",
        response_model=MessagesOut,
        response_model_exclude_none=True,
        tags=["chat"],
    )
    async def get_messages(
        c: Dep,
        request: Request,
        response: Response,
        user_id: Annotated[str | None, Query(pattern=USER_ID)] = None,
    ) -> MessagesOut:
        """Messages pushed to a user since the last call (progress updates, tasks), each once."""
        from handlers.service import outbound_from_dict

        ident = await resolve(request, c, user_id)
        remember(response, request, ident, c)
        async with c.store.unit() as uow:
            items = await uow.mailbox.drain("web", ident.user_id)
        return MessagesOut(messages=[render(outbound_from_dict(i), c) for i in items])

    @router.post("/api/v1/uploads", response_model=UploadOut, tags=["chat"])
    async def upload(
        c: Dep,
        request: Request,
        response: Response,
        file: Annotated[UploadFile, File()],
        user_id: Annotated[str | None, Form(pattern=USER_ID)] = None,
    ) -> UploadOut:
        """Upload a photo (JPEG/PNG/GIF, ≤ 5 MB); send its ref in a message's ``media``."""
        ident = await resolve(request, c, user_id)
        remember(response, request, ident, c)
        rates = c.service.rates
        if rates is not None:
            ip = request.client.host if request.client else ""
            wait = await rates.allow("upload", f"web:{ident.user_id}", ip)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                raise HTTPException(
                    429,
                    t("rate.upload", "zh", seconds=seconds),
                    headers={"Retry-After": str(seconds)},
                )
        content = await file.read(MAX_UPLOAD + 1)
        if len(content) > MAX_UPLOAD:
            raise HTTPException(413, "photo larger than 5 MB")
        mime = image_mime(content)
        if mime is None:
            raise HTTPException(415, "only JPEG, PNG or GIF photos are accepted")
        stored = await store_image(
            c, content, mime, uploader=f"web:{ident.user_id}", filename=file.filename or ""
        )
        return UploadOut(media=f"attachment:{stored}")

    @router.get("/api/v1/attachments/{attachment_id}", tags=["chat"])
    async def attachment(
        attachment_id: int, c: Dep, sig: Annotated[str, Query(max_length=64)]
    ) -> Response:
        """A stored photo, reachable only through the signed link the chat API handed out."""
        secret = c.settings.secret_key.get_secret_value()
        if not hmac.compare_digest(sig.encode(), sign(secret, str(attachment_id)).encode()):
            raise HTTPException(403, "bad signature")
        async with c.store.unit() as uow:
            item = await uow.attachments.get(attachment_id)
            if item is None:
                raise HTTPException(404, "no such attachment")
            try:
                content = await uow.attachments.content(item)
            except ObjectMissingError:
                content = b""  # purged while the row's update failed: gone all the same
        if not content:
            raise HTTPException(410, "照片已按保留期限删除 (removed after the retention period)")
        return Response(
            content=content,
            media_type=item.mime,
            headers={"Cache-Control": "private, max-age=3600"},
        )

    @router.get("/api/v1/session", response_model=SessionOut, tags=["chat"])
    async def session(c: Dep, request: Request) -> JSONResponse:
        """Who the web chat talks as; issues the resident's session cookie on first use."""
        ident = await resolve(request, c, None)
        worker = None
        if ident.kind == "worker":
            async with c.store.unit() as uow:
                found = await uow.registry.identity("web", ident.user_id)
                if found is not None and found.worker_id is not None:
                    record = await uow.registry.worker(found.worker_id)
                    worker = record.name if record else None
        out = JSONResponse(
            SessionOut(kind=ident.kind, demo=settings.demo_enabled, worker=worker).model_dump()
        )
        remember(out, request, ident, c)
        return out

    if settings.demo_enabled:
        # the demo registry names every worker's web id: demo mode only, never in production

        @router.get("/api/v1/demo", tags=["chat"])
        async def demo(c: Dep) -> dict[str, Any]:
            """The registry (grids, buildings, workers with web ids) — used by the demo page."""
            from bot.demo import demo_registry

            return await demo_registry(c.store)

    page_file = "chat.html" if settings.demo_enabled else "resident.html"

    @router.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / page_file, media_type="text/html; charset=utf-8")

    return router


class WebChannel:
    name = "web"

    def enabled(self, settings: Settings) -> bool:
        return True

    def notifier(self, container: Container) -> Notifier | None:
        return MailboxNotifier("web", container.store, container.clock)

    def router(self, settings: Settings) -> APIRouter | None:
        return build_router(settings)

    async def start(self, container: Container) -> None:
        return None


CHANNEL = WebChannel()
