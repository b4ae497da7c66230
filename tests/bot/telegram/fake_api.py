"""A local fake of the Telegram Bot API on 127.0.0.1, speaking its real HTTP protocol.

aiogram's Bot talks to it exactly as to api.telegram.org (multipart form posts to
``/bot<token>/<method>``, file downloads from ``/file/bot<token>/<path>``). It records every
call, keeps the messages it "sent" so edits can be checked (and answers "message is not
modified" like Telegram does), serves files for getFile, queues updates for getUpdates, and can
be told to answer 429 (with ``retry_after``) or 403 (a user who blocked the bot), or to be down
for a while (``outage``: 502 and 429 by turns).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON_FIELDS = {"reply_markup", "allowed_updates", "commands", "reply_parameters"}
SENDS = {"sendMessage", "sendPhoto"}
EDITS = {"editMessageText", "editMessageCaption", "editMessageReplyMarkup"}
BOT_USER = {"id": 7000000001, "is_bot": True, "first_name": "民呼", "username": "minhu_test_bot"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    result: dict[str, Any] | None = None  # the message a send returned

    @property
    def message_id(self) -> int:
        assert self.result is not None, f"{self.method} returned no message"
        return int(self.result["message_id"])

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        markup = self.params.get("reply_markup") or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [button for row in rows for button in row]

    @property
    def payloads(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]

    @property
    def titles(self) -> list[str]:
        return [b["text"] for b in self.buttons]


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    chat_id: int | None = None


class FakeTelegram:
    """The fake Bot API. ``await start()`` → base URL for ``MINHU_TELEGRAM__API_BASE``."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.files: dict[str, tuple[str, bytes]] = {}
        self.blocked: set[int] = set()
        self.failures: dict[str, list[Failure]] = {}
        self.updates: list[dict[str, Any]] = []
        # an outage (fault drill c): every send or edit answers 502 or 429 (retry_after 2)
        self.outage = False
        self.outage_answers = 0
        # a slow platform: sends and edits are answered this many seconds late (and done)
        self.delay_seconds = 0.0
        self.webhook: dict[str, Any] = {}
        self._ids = itertools.count(100)
        self._new_update = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- control ------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        chat_id: int | None = None,
    ) -> None:
        """The next call of ``method`` (to ``chat_id``, if given) fails like Telegram would."""
        self.failures.setdefault(method, []).append(
            Failure(status, description, retry_after, chat_id)
        )

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: every send or edit to them gets 403."""
        self.blocked.add(chat_id)

    def add_file(self, file_id: str, content: bytes) -> None:
        self.files[file_id] = (f"photos/{file_id}.jpg", content)

    def push_update(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        self._new_update.set()

    # --- queries ------------------------------------------------------------------------

    def of(self, method: str | set[str], chat_id: int | None = None) -> list[Call]:
        methods = {method} if isinstance(method, str) else method
        return [
            c
            for c in self.calls
            if c.method in methods and (chat_id is None or c.chat_id == chat_id)
        ]

    def sent_to(self, chat_id: int) -> list[Call]:
        """Messages (texts and photos) that reached a chat, in order."""
        return self.of(SENDS, chat_id)

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        return self.messages[(chat_id, message_id)]

    async def wait_for(
        self,
        method: str | set[str],
        *,
        chat_id: int | None = None,
        count: int = 1,
        wait: float = 10,
    ) -> list[Call]:
        """Poll the recorded calls until ``count`` matching ones arrived (or fail)."""
        deadline = time.monotonic() + wait
        while True:
            found = self.of(method, chat_id)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} {method} call(s) to {chat_id}, got {len(found)}: "
                    f"{[(c.method, c.chat_id, c.text[:40]) for c in self.calls[-10:]]}"
                )
            await asyncio.sleep(0.02)

    # --- the protocol -------------------------------------------------------------------

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            return dict(await request.json()), files
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = value.file.read()
            elif key in JSON_FIELDS:
                params[key] = json.loads(value)
            else:
                params[key] = value
        return params, files

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params, files = await self._params(request)
        call = Call(method, params, files)
        self.calls.append(call)
        queued = self.failures.get(method, [])
        for failure in queued:
            if failure.chat_id is None or failure.chat_id == call.chat_id:
                queued.remove(failure)
                return self._error(failure.status, failure.description, failure.retry_after)
        if self.outage and (method in SENDS or method in EDITS):
            self.outage_answers += 1
            if self.outage_answers % 2:
                return self._error(502, "Bad Gateway")
            return self._error(429, "Too Many Requests: retry after 2", retry_after=2)
        if (method in SENDS or method in EDITS) and call.chat_id in self.blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        if self.delay_seconds and (method in SENDS or method in EDITS):
            await asyncio.sleep(self.delay_seconds)
        result: web.Response = await handler(call)
        return result

    def _chat(self, chat_id: int) -> dict[str, Any]:
        return {"id": chat_id, "type": "private", "first_name": "用户"}

    def _store(self, call: Call, content: dict[str, Any]) -> dict[str, Any]:
        chat_id = call.chat_id or 0
        message = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": BOT_USER,
            **content,
        }
        # like Telegram, a message only carries an inline keyboard (reply keyboards are the
        # client's business)
        if "inline_keyboard" in (call.params.get("reply_markup") or {}):
            message["reply_markup"] = call.params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        call.result = message
        return message

    async def _m_getMe(self, call: Call) -> web.Response:
        return self._ok(BOT_USER)

    async def _m_sendMessage(self, call: Call) -> web.Response:
        return self._ok(self._store(call, {"text": call.params["text"]}))

    async def _m_sendPhoto(self, call: Call) -> web.Response:
        file_id = f"sent-photo-{len(self.calls)}"
        photo = [{"file_id": file_id, "file_unique_id": file_id, "width": 800, "height": 600}]
        content: dict[str, Any] = {"photo": photo}
        if call.params.get("caption"):
            content["caption"] = call.params["caption"]
        return self._ok(self._store(call, content))

    async def _edit(self, call: Call, field_name: str | None) -> web.Response:
        key = (call.chat_id or 0, int(call.params.get("message_id", 0)))
        message = self.messages.get(key)
        if message is None:
            return self._error(400, "Bad Request: message to edit not found")
        new = dict(message)
        if field_name is not None:
            new[field_name] = call.params.get(field_name, "")
        if "reply_markup" in call.params:
            new["reply_markup"] = call.params["reply_markup"]
        else:
            new.pop("reply_markup", None)
        if new == message:
            return self._error(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        new["edit_date"] = int(time.time())
        self.messages[key] = new
        return self._ok(new)

    async def _m_editMessageText(self, call: Call) -> web.Response:
        return await self._edit(call, "text")

    async def _m_editMessageCaption(self, call: Call) -> web.Response:
        return await self._edit(call, "caption")

    async def _m_editMessageReplyMarkup(self, call: Call) -> web.Response:
        return await self._edit(call, None)

    async def _m_answerCallbackQuery(self, call: Call) -> web.Response:
        return self._ok(True)

    async def _m_getFile(self, call: Call) -> web.Response:
        file_id = str(call.params.get("file_id", ""))
        if file_id not in self.files:
            return self._error(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        return self._ok(
            {
                "file_id": file_id,
                "file_unique_id": file_id[-8:],
                "file_size": len(content),
                "file_path": path,
            }
        )

    async def _file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for stored_path, content in self.files.values():
            if stored_path == path:
                self.calls.append(Call("downloadFile", {"path": path}))
                return web.Response(body=content, content_type="image/jpeg")
        return web.Response(status=404)

    async def _m_setWebhook(self, call: Call) -> web.Response:
        self.webhook = dict(call.params)
        return self._ok(True)

    async def _m_deleteWebhook(self, call: Call) -> web.Response:
        self.webhook = {}
        return self._ok(True)

    async def _m_getWebhookInfo(self, call: Call) -> web.Response:
        return self._ok(
            {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self.updates),
            }
        )

    async def _m_setMyCommands(self, call: Call) -> web.Response:
        return self._ok(True)

    async def _m_getUpdates(self, call: Call) -> web.Response:
        if self.webhook:
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(call.params.get("offset", 0) or 0)
        timeout = float(call.params.get("timeout", 0) or 0)
        # getUpdates with an offset confirms everything before it
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates and timeout:
            self._new_update.clear()
            try:
                async with asyncio.timeout(min(timeout, 2.0)):
                    await self._new_update.wait()
            except TimeoutError:
                pass
        return self._ok(list(self.updates))
