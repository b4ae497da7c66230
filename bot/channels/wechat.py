"""The WeChat official-account channel: ``GET/POST /webhooks/wechat``.

```mermaid
sequenceDiagram
    participant W as WeChat
    participant H as webhook
    participant T as owner task
    participant S as MinhuService
    W->>H: POST (signed; AES in safe mode)
    H->>H: size, signature, timestamp, safe XML, decrypt, AppID
    H->>H: dedupe: stored row? claim (SET NX)?
    H->>T: start (fetch photo → receive → process)
    T->>S: receive (persist first), process
    alt passive and done within the budget
        H-->>W: reply XML (the replies, numbered buttons)
    else over budget (passive) / push mode
        H-->>W: holding reply / "success"
        T->>T: replies → outbox → customer-service API
    end
```

No duplicates, across processes: the database row (unique channel + MsgId) decides who
processes; a Redis claim keeps concurrent retries from fetching a photo twice. A retry of a
message still being processed waits for it (within its own budget) instead of processing it
again; a retry after it finished gets the stored replies as the same passive reply — unless
they were (or will be) pushed because someone answered with a holding reply: then it answers
``success``. Whoever gives up on waiting sets a "late" flag and re-reads the row; the owner
reads the flag after committing; so at least one of them pushes and a claim makes it one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response
from wechatpy import parse_message
from wechatpy.replies import TextReply

from bot.channels.base import image_mime, store_image
from bot.channels.web import sign as sign_link
from bot.config import Settings, WeChatSettings
from bot.container import Container
from bot.notify.wechat import WeChatNotifier
from bot.wechat import logs as wechat_logs
from bot.wechat.api import WeChatApi, WeChatError
from bot.wechat.incoming import (
    _RESIDENT_KEYS,
    _WORKER_KEYS,
    MENU,
    TEXTS,
    Incoming,
    dedupe_key,
    say,
    xml_text,
)
from bot.wechat.render import Choices, Rendered, split
from bot.wechat.security import (
    Envelope,
    Rejected,
    check_signature,
    check_timestamp,
    parse_xml,
)
from handlers.i18n import t
from handlers.messages import GeoPoint, Inbound, Media, MediaKind, Outbound
from handlers.ports import Notifier
from handlers.privacy import mask_id
from handlers.service import outbound_from_dict, outbound_to_dict
from storage.errors import StorageUnavailable
from storage.models import InboundMessage

log = logging.getLogger("minhu.wechat")

NAME = "wechat"
WEBHOOK = "/webhooks/wechat"
CLAIM_SECONDS = 8  # > a photo download; short enough that a later WeChat retry can take over
LATE_SECONDS = 24 * 3600
POLL_SECONDS = 0.1
ID_MAX = 128  # InboundMessage.user_id / message_id

__all__ = ["CHANNEL", "MENU", "TEXTS", "Incoming", "dedupe_key", "say", "xml_text"]


class WeChatRuntime:
    """The channel's live parts: API client, notifier, in-flight message tasks."""

    def __init__(self, container: Container, settings: WeChatSettings) -> None:
        wechat_logs.install()
        self.container = container
        self.settings = settings
        self.sessions = container.sessions
        self.api = WeChatApi(
            app_id=settings.app_id,
            secret=settings.secret.get_secret_value(),
            base=settings.api_base,
            sessions=container.sessions,
            timeout=settings.api_timeout_seconds,
        )
        self.choices = Choices(container.sessions)
        self.envelope = (
            Envelope(
                settings.token.get_secret_value(),
                settings.aes_key.get_secret_value(),
                settings.app_id,
            )
            if settings.aes_key is not None
            else None
        )
        self.notifier = WeChatNotifier(
            settings=settings,
            api=self.api,
            store=container.store,
            sessions=container.sessions,
            clock=container.clock,
            choices=self.choices,
            photo_link=self.photo_link,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slots = asyncio.Semaphore(settings.max_concurrent)
        # owned messages from their arrival until they take a processing slot (or turn out to
        # need none): counted from the admission decision on, so that a burst whose messages
        # are all still being stored already counts in full
        self._waiting = 0
        # arrivals not yet stored; above ``max_concurrent`` of them no new processing starts
        # (admission first: see `_admission_first`)
        self._arriving = 0
        self._calm = asyncio.Event()
        self._calm.set()

    # --- admission first ---------------------------------------------------------------------

    @contextlib.contextmanager
    def arrival(self) -> Iterator[Callable[[], None]]:
        """Counts one request from its arrival until its message is stored (the callable it
        yields) or the request ends, whichever comes first."""
        counted = True
        self._arriving += 1
        if self._arriving > self.settings.max_concurrent:
            self._calm.clear()

        def stored() -> None:
            nonlocal counted
            if counted:
                counted = False
                self._arriving -= 1
                if self._arriving <= self.settings.max_concurrent:
                    self._calm.set()

        try:
            yield stored
        finally:
            stored()

    async def _admission_first(self, deadline: float) -> None:
        """Before a turn starts: wait while a burst of arrivals is still being stored.

        One event loop does both; a turn costs ~25 ms of CPU, storing and answering an arrival
        a few ms. While more than ``max_concurrent`` arrivals wait to be stored, starting turns
        would make all of them late: each would then get neither its answer nor the holding
        reply within WeChat's 5 s. The wait ends when the burst is stored or at the message's
        own deadline (its sender then has the holding reply; the turn still runs and pushes).
        """
        if self._calm.is_set():
            return
        loop = asyncio.get_running_loop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, deadline - loop.time())):
                await self._calm.wait()

    # --- lifecycle ---------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("WeChat task %s failed", task.get_name(), exc_info=task.exception())

    async def supervise(self) -> None:
        """Runs for the app's lifetime; at shutdown lets in-flight messages finish (briefly)."""
        try:
            await asyncio.Event().wait()
        finally:
            if self._tasks:
                _, pending = await asyncio.wait(set(self._tasks), timeout=5)
                for task in pending:  # still stored as received: recovered at the next start
                    task.cancel()
            await self.api.aclose()

    # --- rendering ---------------------------------------------------------------------------

    def photo_link(self, ref: str) -> str | None:
        """A signed link to a stored photo (template messages and passive replies)."""
        if not ref.startswith("attachment:"):
            return None
        ident = ref.removeprefix("attachment:")
        secret = self.container.settings.secret_key.get_secret_value()
        base = self.container.settings.public_base_url.rstrip("/")
        return f"{base}/api/v1/attachments/{ident}?sig={sign_link(secret, ident)}"

    def reply_xml(self, message: Any, text: str, nonce: str, encrypted: bool) -> str:
        xml: str = TextReply(message=message, content=xml_text(text)).render()
        if self.envelope is not None and encrypted:
            return self.envelope.seal(xml, nonce, str(int(time.time())))
        return xml

    # --- classification ----------------------------------------------------------------------

    async def incoming(self, message: Any, fields: dict[str, str]) -> Incoming | None:
        """The message as a conversational turn, or None for events that need no answer."""
        openid = fields.get("FromUserName", "")
        msg_type = fields.get("MsgType", "").lower()
        base = Inbound(channel=NAME, user_id=openid, message_id=dedupe_key(fields))
        if msg_type == "event":
            return await self._event(message, fields, base)
        if msg_type == "text":
            text = str(message.content or "")
            button = await self.choices.lookup(openid, text)
            if button is not None:
                return Incoming(replace(base, button=button))
            return Incoming(replace(base, text=text))
        if msg_type == "image":
            return Incoming(base, image_media_id=str(message.media_id or ""))
        if msg_type == "voice":
            recognition = str(message.recognition or "").strip()
            if recognition:
                return Incoming(replace(base, text=recognition))
            voice = Media(MediaKind.VOICE, f"wechat-media:{message.media_id}", "audio/amr")
            return Incoming(replace(base, media=(voice,)), direct="voice_no_text")
        if msg_type == "location":
            try:
                point = GeoPoint(
                    float(message.location_x), float(message.location_y), str(message.label or "")
                )
            except (TypeError, ValueError):
                return Incoming(base, direct="unsupported")
            return Incoming(replace(base, location=point))
        if msg_type == "link":
            parts = (message.title, message.description, message.url)
            text = "\n".join(str(p).strip() for p in parts if p and str(p).strip())
            return Incoming(replace(base, text=text))
        if msg_type in ("video", "shortvideo"):
            video = Media(MediaKind.VIDEO, f"wechat-media:{fields.get('MediaId', '')}", "video/mp4")
            return Incoming(replace(base, media=(video,)), direct="unsupported")
        # file, mini-program page and whatever WeChat adds next: a polite answer
        return Incoming(base, direct="unsupported")

    async def _event(self, message: Any, fields: dict[str, str], base: Inbound) -> Incoming | None:
        event = fields.get("Event", "").lower()
        openid = base.user_id
        if event == "subscribe":
            await self._set_reachable(openid, True)
            key = fields.get("EventKey", "")
            if key.startswith("qrscene_"):
                scene = await self._scene(key.removeprefix("qrscene_"))
                if scene is not None:
                    return Incoming(replace(base, scene=scene), welcome=True)
            return Incoming(replace(base, button="help"), welcome=True)
        if event == "scan":
            scene = await self._scene(fields.get("EventKey", ""))
            if scene is None:
                return Incoming(replace(base, button="help"))
            return Incoming(replace(base, scene=scene))
        if event == "click":
            key = fields.get("EventKey", "")
            keys = _WORKER_KEYS if await self._is_worker(openid) else _RESIDENT_KEYS
            return Incoming(replace(base, button=keys.get(key, "help")))
        if event == "unsubscribe":
            await self._set_reachable(openid, False)
            log.info("wechat user %s unsubscribed", mask_id(openid))
            return None
        if event == "templatesendjobfinish" and "block" in fields.get("Status", "").lower():
            await self._set_reachable(openid, False)
            return None
        # VIEW (a menu link was opened), LOCATION (reported while the chat is open) and the
        # rest open no conversation turn: a resident merely opening the chat starts nothing
        return None

    async def _scene(self, value: str) -> str | None:
        """A stairwell code's scene → ``building:<id>`` when it still names a building.

        Codes carry the building's stable code (``scene_str``); older stickers a numeric scene
        recorded when they were printed. A bare database id is never trusted: after a registry
        rebuild it may name another building.
        """
        scene = value.strip()
        if not scene or len(scene) > 64:
            return None
        async with self.container.store.unit() as uow:
            building = await uow.registry.building_by_scene(scene)
        return f"building:{building.id}" if building is not None else None

    async def _is_worker(self, openid: str) -> bool:
        async with self.container.store.unit() as uow:
            ident = await uow.registry.identity(NAME, openid)
        return ident is not None and ident.worker_id is not None

    async def _set_reachable(self, openid: str, reachable: bool) -> None:
        async with self.container.store.unit() as uow:
            await uow.registry.set_reachable(NAME, openid, reachable)

    # --- one turn ----------------------------------------------------------------------------

    async def turn(
        self, incoming: Incoming, deadline: float, stored: Callable[[], None] | None = None
    ) -> Rendered | None:
        """Answer one conversational message exactly once; None means reply ``success``.

        Whoever finds no stored row and wins the claim owns the message. Everyone else polls
        the row within their own budget; a claim that expired with nothing stored (its owner
        died before persisting) is won again by a later retry, so the message is not lost.
        """
        push = self.settings.reply_mode == "push"
        loop = asyncio.get_running_loop()
        while True:
            # claim first: a new message (the usual case) costs no database read here; the
            # unique insert in receive() still decides when the claim of a stored one expired
            if await self.sessions.claim(f"wechat:msg:{incoming.key}", ttl_seconds=CLAIM_SECONDS):
                ours, answer = await self._own_and_answer(
                    incoming, deadline, push=push, on_stored=stored
                )
                if ours:
                    return answer
            if stored is not None:
                stored()  # another request stores this message: this one stops counting
            row = await self._stored(incoming)
            if row is not None and row.status in ("done", "failed"):
                if push:
                    return None  # its owner pushed the answer
                replies = self._with_welcome(incoming, self._stored_replies(row))
                if await self.sessions.get_value(self._late_key(incoming)):
                    await self._push_once(incoming, replies)  # pushed, not answered passively
                    return None
                return await self._passive(incoming, replies)
            if push or loop.time() + POLL_SECONDS >= deadline:
                break
            await asyncio.sleep(POLL_SECONDS)
        if push:
            return None  # being processed; its owner pushes the answer
        # still in progress: whoever finishes must push; re-read after flagging (module doc)
        await self.sessions.set_value(self._late_key(incoming), "1", ttl_seconds=LATE_SECONDS)
        row = await self._stored(incoming)
        if row is not None and row.status in ("done", "failed"):
            await self._push_once(incoming, self._with_welcome(incoming, self._stored_replies(row)))
        return Rendered(say("holding"))

    async def _own_and_answer(
        self,
        incoming: Incoming,
        deadline: float,
        *,
        push: bool,
        on_stored: Callable[[], None] | None = None,
    ) -> tuple[bool, Rendered | None]:
        """Own the message; (False, None) when another process had stored it first."""
        stored = asyncio.Event()
        admitted = push or self._waiting < self.settings.admission_queue
        if not admitted:
            # admission control: the queue is long, so this message cannot be answered within
            # the budget; flag it late before the owner starts (the owner pushes the answer)
            await self.sessions.set_value(self._late_key(incoming), "1", ttl_seconds=LATE_SECONDS)
        self._waiting += 1  # until `_own` takes a processing slot or needs none
        task = self.spawn(
            self._own(incoming, stored, push=push, deadline=deadline, on_stored=on_stored),
            f"wechat:{incoming.key}",
        )
        loop = asyncio.get_running_loop()
        if not admitted:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    await stored.wait()
            if task.done() and (error := task.exception()) is not None:
                raise error  # nothing stored: an error status makes WeChat retry
            if task.done() and task.result() is None:
                return False, None
            return True, Rendered(say("holding"))
        if push:
            # persist before acknowledging (nothing a resident sent is lost), then "success"
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    await stored.wait()
            if task.done() and (error := task.exception()) is not None:
                raise error  # nothing stored: an error status makes WeChat retry
            if task.done() and task.result() is None:
                return False, None
            return True, None
        try:
            async with asyncio.timeout(max(0.0, deadline - loop.time())):
                replies = await asyncio.shield(task)
        except TimeoutError:
            await self._give_up(incoming, task)
            return True, Rendered(say("holding"))
        if replies is None:
            return False, None
        return True, await self._passive(incoming, replies)

    async def _own(
        self,
        incoming: Incoming,
        stored: asyncio.Event,
        *,
        push: bool,
        deadline: float,
        on_stored: Callable[[], None] | None = None,
    ) -> list[Outbound] | None:
        """Fetch the photo, persist, process; push the replies when nobody waits for them."""
        queued = True

        def unqueue() -> None:
            nonlocal queued
            if queued:
                queued = False
                self._waiting -= 1

        try:
            return await self._own_queued(incoming, stored, unqueue, push, deadline, on_stored)
        finally:
            unqueue()

    async def _own_queued(
        self,
        incoming: Incoming,
        stored: asyncio.Event,
        unqueue: Callable[[], None],
        push: bool,
        deadline: float,
        on_stored: Callable[[], None] | None,
    ) -> list[Outbound] | None:
        service = self.container.service
        try:
            inbound, direct = await self._complete(incoming)
            receipt = await service.receive(inbound)
        finally:
            stored.set()
            if on_stored is not None:
                on_stored()
        if receipt.status == "journaled":
            # PostgreSQL is down and the message waits in the journal; its drain pushes the
            # answer, so no late passive retry may push it a second time
            await self.sessions.claim(f"wechat:pushed:{incoming.key}", ttl_seconds=LATE_SECONDS)
            return [Outbound(text=t("journaled", "zh"))]
        if not receipt.new:
            return None
        if direct is not None:
            replies = [await self._answer_directly(receipt.inbound_id, inbound, direct)]
        else:
            # a bounded number at once keeps the event loop free to answer (holding) replies
            try:
                await self._admission_first(deadline)
                await self._slots.acquire()
            finally:
                unqueue()
            try:
                replies = await service.process(receipt.inbound_id, inbound)
            finally:
                self._slots.release()
        out = self._with_welcome(incoming, replies)
        if push or await self.sessions.get_value(self._late_key(incoming)):
            await self._push_once(incoming, out)
        return out

    async def _complete(self, incoming: Incoming) -> tuple[Inbound, str | None]:
        """Fetch an image through the media API and store it as an attachment."""
        inbound = incoming.inbound
        media_id = incoming.image_media_id
        if media_id is None:
            return inbound, incoming.direct
        placeholder = Media(MediaKind.IMAGE, f"wechat-media:{media_id}", "image/jpeg")
        try:
            async with asyncio.timeout(self.settings.api_timeout_seconds):
                content, _mime = await self.api.media(
                    media_id, max_bytes=self.settings.max_media_bytes
                )
        except (WeChatError, TimeoutError) as e:
            log.warning(
                "wechat photo of %s not fetched: %s", mask_id(incoming.openid), e.__class__.__name__
            )
            return replace(inbound, media=(placeholder,)), "photo_failed"
        mime = image_mime(content)
        if mime is None:
            return replace(inbound, media=(placeholder,)), "photo_format"
        ident = await store_image(
            self.container, content, mime, uploader=f"{NAME}:{incoming.openid}", filename=media_id
        )
        return replace(inbound, media=(Media(MediaKind.IMAGE, f"attachment:{ident}", mime),)), None

    async def _answer_directly(self, inbound_id: int, inbound: Inbound, key: str) -> Outbound:
        """Messages the dialogue has no use for (video, file …) get the channel's answer."""
        now = self.container.clock.now()
        reply = Outbound(text=say(key))
        async with self.container.store.unit() as uow:
            ident = await uow.registry.identity(NAME, inbound.user_id)
            if ident is not None and ident.worker_id is not None:
                await uow.registry.touch_identity(NAME, inbound.user_id, now)
            else:  # opens the 48-hour window like any message
                await uow.registry.ensure_resident(NAME, inbound.user_id, now=now)
            await uow.inbound.update(
                inbound_id, status="done", now=now, replies=[outbound_to_dict(reply)]
            )
        return reply

    def _with_welcome(self, incoming: Incoming, replies: list[Outbound]) -> list[Outbound]:
        if incoming.welcome:
            return [Outbound(text=t("welcome", "zh")), *replies]
        return replies

    async def _passive(self, incoming: Incoming, replies: list[Outbound]) -> Rendered:
        texts, options = split(replies, photo_link=self.photo_link)
        await self.choices.remember(incoming.openid, options)
        if len(texts) > 1:
            # too long for one passive reply (2,048 bytes): the rest follows, in order, as
            # customer-service messages through the outbox; urgent advice stays urgent
            data = {"priority": "urgent"} if any(r.urgent for r in replies) else {}
            await self._push_once(incoming, [Outbound(text=t, data=data) for t in texts[1:]])
        return Rendered(texts[0] if texts else "", options)

    # --- retries and lateness ----------------------------------------------------------------

    @staticmethod
    def _late_key(incoming: Incoming) -> str:
        return f"wechat:late:{incoming.key}"

    async def _stored(self, incoming: Incoming) -> InboundMessage | None:
        try:
            async with self.container.store.unit() as uow:
                return await uow.inbound.by_message_id(NAME, incoming.key)
        except StorageUnavailable:
            return None  # a retry waits for its owner, who journals the message meanwhile

    @staticmethod
    def _stored_replies(row: InboundMessage) -> list[Outbound]:
        if row.status == "failed":
            return [Outbound(text=t("error_apology", "zh"))]
        return [outbound_from_dict(r) for r in row.replies or []]

    async def _give_up(self, incoming: Incoming, task: asyncio.Task[Any]) -> None:
        """The owner ran out of budget: the replies will be pushed when processing ends."""
        await self.sessions.set_value(self._late_key(incoming), "1", ttl_seconds=LATE_SECONDS)

        def after(done: asyncio.Task[Any]) -> None:
            if done.cancelled() or done.exception() is not None or done.result() is None:
                return
            self.spawn(self._push_once(incoming, done.result()), f"wechat-late:{incoming.key}")

        task.add_done_callback(after)

    async def _push_once(self, incoming: Incoming, replies: list[Outbound]) -> None:
        """Queue replies as customer-service messages, once per message across processes."""
        if not replies:
            return
        if not await self.sessions.claim(f"wechat:pushed:{incoming.key}", ttl_seconds=LATE_SECONDS):
            return
        now = self.container.clock.now()
        async with self.container.store.unit() as uow:
            for reply in replies:
                await uow.outbox.enqueue(NAME, incoming.openid, outbound_to_dict(reply), now=now)
        self.container.dispatcher.kick()


# --- HTTP ---------------------------------------------------------------------------------


def _runtime(request: Request) -> WeChatRuntime:
    container: Container = request.app.state.container
    runtime = container.extras.get(NAME)
    if not isinstance(runtime, WeChatRuntime):
        raise HTTPException(503, "WeChat channel not started")
    return runtime


async def _check_nonce(
    runtime: WeChatRuntime, timestamp: str, nonce: str, body: bytes, skew: int
) -> None:
    """Replay protection in every mode. The plaintext signature covers token, timestamp and
    nonce only, not the body: a captured signed URL could carry a forged body. So each
    (timestamp, nonce) is remembered with the body it came with for as long as the timestamp
    is acceptable; the same body again is WeChat's retry (answered from the stored row), any
    other body is refused."""
    digest = hashlib.sha256(body).hexdigest()
    key = f"wechat:nonce:{timestamp}:{nonce[:64]}"
    ttl = 2 * skew + 60
    if await runtime.sessions.claim(key, ttl_seconds=ttl):
        await runtime.sessions.set_value(key, digest, ttl_seconds=ttl)
        return
    seen = await runtime.sessions.get_value(key)
    if seen != digest:
        raise Rejected(403, "replayed nonce with another body")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Rejected(413, "message too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Rejected(413, "message too large")
    return bytes(body)


def build_router(settings: WeChatSettings) -> APIRouter:
    router = APIRouter(tags=["wechat"])
    token = settings.token.get_secret_value()

    @router.get(WEBHOOK, response_class=PlainTextResponse)
    async def verify_url(request: Request) -> PlainTextResponse:
        """WeChat's URL check when the server address is saved in the console: echo echostr."""
        q = request.query_params
        try:
            check_signature(
                token, q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", "")
            )
            check_timestamp(q.get("timestamp", ""), settings.max_clock_skew_seconds)
        except Rejected as e:
            raise HTTPException(e.status, e.reason) from None
        return PlainTextResponse(q.get("echostr", ""))

    @router.post(WEBHOOK)
    async def receive(request: Request) -> Response:
        """Every message and event of the official account."""
        # the passive budget counts from arrival (stamped by the app's outermost middleware)
        started = request.scope.get("state", {}).get("arrived") or asyncio.get_running_loop().time()
        runtime = _runtime(request)
        with runtime.arrival() as stored:
            return await _receive(request, runtime, started, stored)

    async def _receive(
        request: Request, runtime: WeChatRuntime, started: float, stored: Callable[[], None]
    ) -> Response:
        q = request.query_params
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        encrypted = q.get("encrypt_type", "raw").lower() == "aes"
        try:
            check_signature(token, q.get("signature", ""), timestamp, nonce)
            check_timestamp(timestamp, settings.max_clock_skew_seconds)
            body = await _read_body(request, settings.max_body_bytes)
            await _check_nonce(runtime, timestamp, nonce, body, settings.max_clock_skew_seconds)
            fields = parse_xml(body, max_bytes=settings.max_body_bytes)
            if runtime.envelope is not None:
                if not encrypted:
                    raise Rejected(403, "the account is in safe mode: plaintext refused")
                xml = runtime.envelope.open(fields, q.get("msg_signature", ""), timestamp, nonce)
                fields = parse_xml(xml, max_bytes=settings.max_body_bytes)
            elif encrypted:
                raise Rejected(403, "encrypted message but no AES key configured")
            else:
                xml = body.decode("utf-8")
            if settings.account_id and fields.get("ToUserName") != settings.account_id:
                raise Rejected(403, "message for another account")
            if not fields.get("FromUserName") or not fields.get("MsgType"):
                raise Rejected(400, "not a WeChat message")
            too_long = [k for k in ("FromUserName", "MsgId") if len(fields.get(k, "")) > ID_MAX]
            if too_long:
                # stored ids are 128 characters at most; a longer one is no WeChat id
                raise Rejected(
                    400,
                    f"{'/'.join(too_long)} longer than {ID_MAX} characters "
                    f"(from {mask_id(fields.get('FromUserName', '')[:ID_MAX])})",
                )
            message = parse_message(xml)  # wechatpy; the XML passed defusedxml above
        except Rejected as e:
            log.warning("wechat webhook refused (%d): %s", e.status, e.reason)
            raise HTTPException(e.status, e.reason) from None
        except Exception as e:  # odd but well-formed XML trips wechatpy: the sender's error
            log.warning("wechat webhook refused (400): unparsable message (%s)", type(e).__name__)
            raise HTTPException(400, "not a WeChat message") from None
        incoming = await runtime.incoming(message, fields)
        if incoming is None:
            return PlainTextResponse("success")
        deadline = started + settings.passive_budget_seconds
        rendered = await runtime.turn(incoming, deadline, stored)
        if rendered is None or not rendered.text:
            return PlainTextResponse("success")
        xml_reply = runtime.reply_xml(message, rendered.text, nonce, encrypted)
        return Response(content=xml_reply, media_type="application/xml")

    return router


class WeChatChannel:
    name = NAME

    def enabled(self, settings: Settings) -> bool:
        return settings.wechat is not None

    def _runtime(self, container: Container) -> WeChatRuntime:
        runtime = container.extras.get(NAME)
        if not isinstance(runtime, WeChatRuntime):
            if container.settings.wechat is None:  # pragma: no cover - enabled() checked
                raise RuntimeError("WeChat is not configured")
            runtime = WeChatRuntime(container, container.settings.wechat)
            container.extras[NAME] = runtime
        return runtime

    def notifier(self, container: Container) -> Notifier | None:
        return self._runtime(container).notifier

    def router(self, settings: Settings) -> APIRouter | None:
        return build_router(settings.wechat) if settings.wechat is not None else None

    async def start(self, container: Container) -> None:
        runtime = self._runtime(container)
        container.spawn(runtime.supervise(), "wechat")
        log.info(
            "WeChat channel on: app_id=%s mode=%s crypto=%s",
            mask_id(runtime.settings.app_id),
            runtime.settings.reply_mode,
            "aes" if runtime.envelope else "plaintext",
        )


CHANNEL = WeChatChannel()
