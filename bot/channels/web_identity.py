"""Who is talking on the web chat.

In demo mode (``MINHU_ENV`` not ``prod``, or ``MINHU_DEMO_IN_PROD``) a script may name any
``user_id`` — that is what the two-pane demo page and the test suite do. In production the
client never names itself:

* a resident gets an anonymous session: a random id in an HttpOnly cookie signed with the
  server's secret key (HMAC-SHA256), issued by the server on the first request. A forged or
  altered cookie is replaced by a fresh session, never honoured;
* a grid worker (or staff member bound to a worker record) logs in to the console first; the
  console session cookie makes the chat act as the worker's registry record — through the web
  identity bound to that record, so pushes (task cards) reach the same mailbox;
* a client-supplied ``user_id`` is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import HTTPException, Request, Response

from bot.container import Container
from handlers.account_service import authenticate

CHAT_COOKIE = "minhu_chat"
CONSOLE_COOKIE = "minhu_admin"  # bot.admin.web.SESSION_COOKIE (not imported: no cycle)
SESSION_PREFIX = "s-"  # residents' session ids; random, so no registry identity matches one
COOKIE_DAYS = 180


@dataclass(frozen=True, slots=True)
class WebIdentity:
    user_id: str
    kind: str  # "client" (demo mode), "resident" (anonymous session) or "worker" (console)
    new_cookie: str | None = None  # set this cookie on the response


def _mac(secret: str, sid: str) -> str:
    key = hashlib.sha256(b"minhu-chat-session:" + secret.encode()).digest()
    return hmac.new(key, sid.encode(), hashlib.sha256).hexdigest()


def issue_cookie(secret: str) -> tuple[str, str]:
    """(session user id, cookie value)."""
    sid = secrets.token_hex(16)
    return SESSION_PREFIX + sid, f"{sid}.{_mac(secret, sid)}"


def read_cookie(secret: str, value: str) -> str | None:
    """The session's user id if the cookie is one we signed, else None."""
    sid, _sep, mac = value.partition(".")
    if len(sid) != 32 or len(mac) != 64 or not all(ch in "0123456789abcdef" for ch in sid):
        return None
    if not hmac.compare_digest(mac.encode(), _mac(secret, sid).encode()):
        return None
    return SESSION_PREFIX + sid


async def _worker_identity(request: Request, c: Container) -> str | None:
    """The web identity of the worker behind a console session, binding one if needed."""
    token = request.cookies.get(CONSOLE_COOKIE, "")
    if not token:
        return None
    principal = await authenticate(c.store, token, kind="session", now=c.clock.now())
    if principal is None or principal.worker_id is None:
        return None
    async with c.store.unit() as uow:
        worker = await uow.registry.worker(principal.worker_id)
        if worker is None or not worker.active:
            return None
        for ident in await uow.registry.worker_identities(principal.worker_id):
            if ident.channel == "web":
                return ident.user_id
        user_id = f"acct-{principal.user_id}"
        await uow.registry.bind_worker_identity(principal.worker_id, "web", user_id)
    c.service.invalidate_registry()
    return user_id


async def resolve(request: Request, c: Container, supplied: str | None) -> WebIdentity:
    """The caller's web chat identity (see the module docstring).

    Raises:
        HTTPException: 403 for a client-supplied ``user_id`` outside demo mode.
    """
    settings = c.settings
    if supplied and settings.demo_enabled:
        return WebIdentity(supplied, "client")
    if supplied:
        raise HTTPException(
            403,
            "生产环境不接受客户端指定的 user_id：居民使用服务器签发的会话，"
            "工作人员请先登录管理后台 (client-chosen user_id is refused in production)",
        )
    worker = await _worker_identity(request, c)
    if worker is not None:
        return WebIdentity(worker, "worker")
    secret = settings.secret_key.get_secret_value()
    existing = read_cookie(secret, request.cookies.get(CHAT_COOKIE, ""))
    if existing is not None:
        return WebIdentity(existing, "resident")
    user_id, cookie = issue_cookie(secret)
    return WebIdentity(user_id, "resident", new_cookie=cookie)


def remember(response: Response, request: Request, ident: WebIdentity, c: Container) -> None:
    """Set the resident's session cookie when one was just issued."""
    if ident.new_cookie is None:
        return
    flag = c.settings.admin.cookie_secure
    secure = c.settings.public_base_url.startswith("https://") if flag is None else flag
    response.set_cookie(
        CHAT_COOKIE,
        ident.new_cookie,
        max_age=COOKIE_DAYS * 86400,
        path="/api/v1",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
