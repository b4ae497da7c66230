"""Shared web plumbing of the console: who is asking, CSRF, templates, errors, redirects.

Two ways in:
* the console (``/admin/...``): a server-side session in an HttpOnly, SameSite=Lax cookie;
  every state-changing request carries the session's CSRF token (form field ``csrf_token``
  or header ``X-CSRF-Token``);
* scripts (``/api/v1/...``): ``Authorization: Bearer <token>`` from ``minhu admin token``.
  The JSON API also accepts the console session (with the CSRF header on writes), which is
  what the console's own JavaScript uses.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Request, Security
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError

from bot.admin.errors import AdminProblem, BadInput, Forbidden, Unauthenticated, status_of
from bot.container import Container
from handlers.account_service import authenticate
from handlers.accounts import ROLE_LABELS, Principal
from handlers.notices import LOCAL_TZ
from handlers.permissions import POLICY, Action
from handlers.staff_words import AUDIT_TARGETS, audit_action, audit_changes, intent_label

M = TypeVar("M", bound=BaseModel)
SESSION_COOKIE = "minhu_admin"
LOGIN_CSRF_COOKIE = "minhu_login_csrf"
FLASH_COOKIE = "minhu_flash"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "admin"

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(LOCAL_TZ).strftime(fmt) if value else ""


def local_iso(value: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO timestamp (as the JSON API gives it) in local time; blank stays blank."""
    if not value:
        return ""
    try:
        return local_time(datetime.fromisoformat(value), fmt)
    except ValueError:
        return value


templates.env.filters["local"] = local_time
templates.env.filters["localiso"] = local_iso
templates.env.filters["intent"] = intent_label
templates.env.filters["audit_action"] = audit_action
templates.env.globals["audit_changes"] = audit_changes
templates.env.globals["AUDIT_TARGETS"] = AUDIT_TARGETS
templates.env.globals["ROLE_LABELS"] = {r.value: label for r, label in ROLE_LABELS.items()}


class LoginRequired(Exception):  # noqa: N818 -- control flow to the login page
    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def cookie_secure(request: Request) -> bool:
    c = container_of(request)
    flag = c.settings.admin.cookie_secure
    return c.settings.public_base_url.startswith("https://") if flag is None else flag


async def _session_principal(request: Request) -> Principal | None:
    secret = request.cookies.get(SESSION_COOKIE, "")
    if not secret:
        return None
    c = container_of(request)
    return await authenticate(c.store, secret, kind="session", now=c.clock.now())


def _csrf_ok(principal: Principal, supplied: str | None) -> bool:
    return bool(supplied) and hmac.compare_digest(
        principal.csrf.encode(), (supplied or "").encode()
    )


# declared so OpenAPI documents the bearer scheme (the header is read below either way)
BEARER = HTTPBearer(auto_error=False, description="a token from `minhu admin token --user NAME`")


async def api_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
) -> Principal:
    """A bearer token, or the console session (CSRF header required on writes)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _sep, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("Authorization 需为 Bearer 令牌")
        c = container_of(request)
        principal = await authenticate(c.store, secret.strip(), kind="api", now=c.clock.now())
        if principal is None:
            raise Unauthenticated("令牌无效或已过期")
        return principal
    principal = await _session_principal(request)
    if principal is None:
        raise Unauthenticated("需要登录或 Bearer 令牌 (login or a bearer token required)")
    if request.method not in SAFE_METHODS and not _csrf_ok(
        principal, request.headers.get("x-csrf-token")
    ):
        raise Forbidden("CSRF 校验失败，请刷新页面后重试")
    return principal


async def page_principal(request: Request) -> Principal:
    """The console session; without one, the browser is sent to the login page."""
    principal = await _session_principal(request)
    if principal is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        raise LoginRequired(target if request.method == "GET" else "/admin")
    return principal


async def form_principal(request: Request) -> Principal:
    """The console session plus a valid CSRF token in the form (or header)."""
    principal = await page_principal(request)
    supplied = request.headers.get("x-csrf-token")
    if not supplied:
        content_type = request.headers.get("content-type", "")
        if "form" in content_type:
            form = await request.form()
            value = form.get("csrf_token")
            supplied = value if isinstance(value, str) else None
    if not _csrf_ok(principal, supplied):
        raise Forbidden("CSRF 校验失败，请刷新页面后重试")
    return principal


ApiUser = Annotated[Principal, Depends(api_principal)]
PageUser = Annotated[Principal, Depends(page_principal)]
FormUser = Annotated[Principal, Depends(form_principal)]
Dep = Annotated[Container, Depends(container_of)]


# --- pages ------------------------------------------------------------------------------------

# a page is in the menu of whoever may do its action somewhere (handlers.permissions)
NAV: tuple[tuple[str, str, Action], ...] = (
    ("/admin", "概览", Action.VIEW),
    ("/admin/tickets", "工单", Action.VIEW),
    ("/admin/inbox", "人工接待", Action.ANSWER),
    ("/admin/desk", "电话登记", Action.ANSWER),
    ("/admin/map", "地图", Action.VIEW),
    ("/admin/people", "人员绩效", Action.VIEW),
    ("/admin/departments", "部门", Action.VIEW),
    ("/admin/review", "待审核", Action.REVIEW),
    ("/admin/notices", "通知", Action.PUBLISH_NOTICE),
    ("/admin/hotspots", "热点", Action.SUPERVISE),
    ("/admin/streets", "街道与12345", Action.SUPERVISE),
    ("/admin/intents", "意图与例句", Action.TEACH),
    ("/admin/nlu", "训练与模型", Action.TEACH),
    ("/admin/registry", "网格与人员", Action.MANAGE_REGISTRY),
    ("/admin/helpers", "楼栋长与志愿者", Action.MANAGE_REGISTRY),
    ("/admin/users", "账号", Action.MANAGE_ACCOUNTS),
    ("/admin/audit", "审计日志", Action.READ_AUDIT),
    ("/admin/deliveries", "未送达消息", Action.MANAGE_DELIVERIES),
)


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    flash = _read_flash(request)
    nav = [
        (href, label)
        for href, label, action in NAV
        if principal is not None and POLICY[principal.subject.role].get(action)
    ]
    response = templates.TemplateResponse(
        request,
        template,
        {
            "user": principal,
            "csrf": principal.csrf if principal else "",
            "nav": nav,
            "path": request.url.path,
            "flash": flash,
            **context,
        },
        status_code=status,
    )
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/admin")
    return response


def _read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {"kind": str(data.get("kind", "ok")), "text": str(data.get("text", ""))[:500]}


def safe_back(target: str | None, default: str = "/admin") -> str:
    """Only same-site console paths: never an open redirect."""
    if not target or not target.startswith("/admin") or target.startswith("//"):
        return default
    if any(c in target for c in "\r\n\\"):
        return default
    return target


def redirect(target: str, message: str = "", *, error: bool = False) -> RedirectResponse:
    response = RedirectResponse(safe_back(target), status_code=303)
    if message:
        response.set_cookie(
            FLASH_COOKIE,
            json.dumps({"kind": "error" if error else "ok", "text": message[:500]}),
            max_age=60,
            path="/admin",
            httponly=True,
            samesite="lax",
        )
    return response


def is_page(request: Request) -> bool:
    return request.url.path.startswith("/admin")


async def problem_response(request: Request, exc: AdminProblem) -> Response:
    """A refused action: JSON for the API, a flash + redirect back for console forms, an
    error page for console pages."""
    status = status_of(exc)
    if not is_page(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        body: dict[str, Any] = {"error": exc.message}
        if exc.detail is not None:
            body["detail"] = exc.detail
        return JSONResponse(status_code=status, content=body, headers=headers)
    if status == 401:
        return RedirectResponse("/admin/login", status_code=303)
    if request.method not in SAFE_METHODS and status != 413:
        back = request.headers.get("referer", "")
        path = back.split(request.url.netloc, 1)[-1] if request.url.netloc in back else ""
        return redirect(safe_back(path, request.url.path), exc.message, error=True)
    principal = await _session_principal(request)
    return render(
        request,
        "error.html",
        principal,
        status=status,
        message=exc.message,
        detail=exc.detail,
    )


async def login_required_response(request: Request, exc: LoginRequired) -> Response:
    return RedirectResponse(f"/admin/login?next={quote(exc.next_url)}", status_code=303)


def query_string(params: Mapping[str, Any], **changes: Any) -> str:
    from urllib.parse import urlencode

    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "", False)}
    return urlencode(merged, doseq=True)


templates.env.globals["query_string"] = query_string


def build_model(cls: type[M], **data: Any) -> M:
    """Validate form input into a model; a validation error becomes a readable 422."""
    try:
        return cls(**data)
    except ValidationError as e:
        problems = "；".join(
            f"{'.'.join(str(x) for x in err.get('loc', ()))}: {err.get('msg', '')}"
            for err in e.errors()
        )
        raise BadInput(f"输入有误：{problems}") from e
