"""Login, logout, accounts (admins only) and the audit log."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from bot.admin.accounts import create_user, login, login_throttle, logout
from bot.admin.errors import BadInput, Locked, Unauthenticated
from bot.admin.web import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    ApiUser,
    Dep,
    FormUser,
    PageUser,
    build_model,
    client_ip,
    cookie_secure,
    redirect,
    render,
    safe_back,
)
from bot.container import Container
from handlers.account_service import (
    accounts,
    api_tokens,
    audit_log,
    issue_token_for,
    revoke_api_token,
    update_user,
)
from handlers.accounts import ROLE_LABELS, Principal
from handlers.guards import require
from handlers.permissions import Action

router = APIRouter()


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    role: str
    display_name: str = Field(default="", max_length=100)
    community_id: int | None = None
    worker_id: int | None = None
    street_id: int | None = Field(default=None, description="street_staff: their street")


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    community_id: int | None
    worker_id: int | None
    active: bool
    locked: bool
    last_login_at: str | None


class UserPatch(BaseModel):
    active: bool | None = None
    unlock: bool = False
    password: str | None = Field(default=None, max_length=200)


class TokenOut(BaseModel):
    token: str = Field(description="shown once; send as `Authorization: Bearer <token>`")


class TokenInfo(BaseModel):
    id: int
    name: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked: bool


class AuditOut(BaseModel):
    id: int
    at: str
    username: str
    action: str
    target_type: str
    target_id: str
    summary: str
    before: dict[str, Any]
    after: dict[str, Any]
    ip: str


class AuditPage(BaseModel):
    entries: list[AuditOut]
    total: int


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    community_id: int | None
    worker_id: int | None


# --- login / logout ----------------------------------------------------------------------------


@router.get("/admin/login", include_in_schema=False)
async def login_page(request: Request, next: str = "/admin") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, next=safe_back(next), login_csrf=token)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
    )
    return response


@router.post("/admin/login", include_in_schema=False)
async def login_submit(
    request: Request,
    c: Dep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/admin",
) -> Response:
    # login CSRF: the form must carry the value of the cookie set with the form
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return redirect("/admin/login", "页面已过期，请重新登录", error=True)
    try:
        session = await login(
            c.store,
            c.settings.admin,
            username=username,
            password=password,
            env=c.settings.env,
            now=c.clock.now(),
            ip=client_ip(request),
            throttle=login_throttle(c),
        )
    except (Unauthenticated, Locked) as e:
        return redirect(f"/admin/login?next={next}", e.message, error=True)
    response = RedirectResponse(safe_back(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=int(c.settings.admin.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")
    return response


@router.post("/admin/logout", include_in_schema=False)
async def logout_submit(request: Request, c: Dep, p: FormUser) -> Response:
    await logout(
        c.store,
        request.cookies.get(SESSION_COOKIE, ""),
        p,
        now=c.clock.now(),
        ip=client_ip(request),
    )
    response = redirect("/admin/login", "已退出登录")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/v1/admin/me", response_model=MeOut, tags=["admin"])
async def me(p: ApiUser) -> MeOut:
    """Who the token or session belongs to."""
    return MeOut(
        id=p.user_id,
        username=p.username,
        display_name=p.display_name,
        role=p.role.value,
        community_id=p.community_id,
        worker_id=p.worker_id,
    )


# --- accounts -----------------------------------------------------------------------------------


async def _users(c: Container, p: Principal) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in await accounts(c.store, p, now=c.clock.now())]


async def _create(c: Container, p: Principal, body: UserIn, ip: str) -> int:
    async with c.store.unit() as uow:
        user = await create_user(
            uow,
            username=body.username.strip(),
            password=body.password,
            role=body.role,
            env=c.settings.env,
            now=c.clock.now(),
            display_name=body.display_name,
            community_id=body.community_id,
            worker_id=body.worker_id,
            street_id=body.street_id,
            actor=p,
            ip=ip,
        )
        return user.id or 0


async def _patch(c: Container, p: Principal, user_id: int, body: UserPatch, ip: str) -> None:
    await update_user(
        c.store,
        p,
        user_id,
        env=c.settings.env,
        now=c.clock.now(),
        active=body.active,
        unlock=body.unlock,
        password=body.password,
        ip=ip,
        throttle=login_throttle(c),
    )


@router.get("/api/v1/admin/users", response_model=list[UserOut], tags=["admin"])
async def api_users(c: Dep, p: ApiUser) -> list[UserOut]:
    """Console accounts (admins only)."""
    return await _users(c, p)


@router.post("/api/v1/admin/users", status_code=201, tags=["admin"])
async def api_create_user(request: Request, c: Dep, p: ApiUser, body: UserIn) -> dict[str, int]:
    """Create an account: role admin, community_staff (with community_id), street_staff (with
    street_id) or grid_worker (with worker_id)."""
    return {"id": await _create(c, p, body, client_ip(request))}


@router.patch("/api/v1/admin/users/{user_id}", status_code=204, tags=["admin"])
async def api_patch_user(
    request: Request, c: Dep, p: ApiUser, user_id: int, body: UserPatch
) -> Response:
    """Activate/deactivate, unlock, or set a new password (signs the user out)."""
    await _patch(c, p, user_id, body, client_ip(request))
    return Response(status_code=204)


@router.post("/api/v1/admin/users/{user_id}/tokens", response_model=TokenOut, tags=["admin"])
async def api_issue_token(request: Request, c: Dep, p: ApiUser, user_id: int) -> TokenOut:
    """Issue an API token for an account (admins only); the token is shown once."""
    _user, secret = await issue_token_for(
        c.store, p, user_id, now=c.clock.now(), days=c.settings.admin.token_days
    )
    return TokenOut(token=secret)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@router.get("/api/v1/admin/users/{user_id}/tokens", response_model=list[TokenInfo], tags=["admin"])
async def api_list_tokens(c: Dep, p: ApiUser, user_id: int) -> list[TokenInfo]:
    """An account's API tokens (admins only): when made, until when, last used, revoked."""
    return [
        TokenInfo(
            id=t.id or 0,
            name=t.name,
            created_at=t.created_at.isoformat(),
            expires_at=_iso(t.expires_at),
            last_used_at=_iso(t.last_used_at),
            revoked=t.revoked,
        )
        for t in await api_tokens(c.store, p, user_id)
    ]


@router.delete("/api/v1/admin/users/{user_id}/tokens/{token_id}", status_code=204, tags=["admin"])
async def api_revoke_token(
    request: Request, c: Dep, p: ApiUser, user_id: int, token_id: int
) -> Response:
    """Revoke one API token (admins only); the account's other tokens keep working."""
    await revoke_api_token(c.store, p, user_id, token_id, now=c.clock.now(), ip=client_ip(request))
    return Response(status_code=204)


@router.get("/admin/users", include_in_schema=False)
async def users_page(request: Request, c: Dep, p: PageUser) -> HTMLResponse:
    require(p.subject, Action.MANAGE_ACCOUNTS)
    async with c.store.unit() as uow:
        communities = await uow.registry.communities()
        workers = await uow.registry.workers()
    return render(
        request,
        "users.html",
        p,
        users=await _users(c, p),
        communities=communities,
        workers=workers,
        roles=[(r.value, label) for r, label in ROLE_LABELS.items()],
        token=None,
    )


@router.post("/admin/users", include_in_schema=False)
async def users_create(
    request: Request,
    c: Dep,
    p: FormUser,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=20)],
    display_name: Annotated[str, Form(max_length=100)] = "",
    community_id: Annotated[str, Form(max_length=12)] = "",
    worker_id: Annotated[str, Form(max_length=12)] = "",
    street_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    body = build_model(
        UserIn,
        username=username,
        password=password,
        role=role,
        display_name=display_name,
        community_id=int(community_id) if community_id.isdigit() else None,
        worker_id=int(worker_id) if worker_id.isdigit() else None,
        street_id=int(street_id) if street_id.isdigit() else None,
    )
    await _create(c, p, body, client_ip(request))
    return redirect("/admin/users", f"已创建账号 {username}")


@router.post("/admin/users/{user_id}", include_in_schema=False)
async def users_update(
    request: Request,
    c: Dep,
    p: FormUser,
    user_id: int,
    op: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if op == "token":
        user, secret = await issue_token_for(
            c.store, p, user_id, now=c.clock.now(), days=c.settings.admin.token_days
        )
        async with c.store.unit() as uow:
            communities = await uow.registry.communities()
            workers = await uow.registry.workers()
        return render(
            request,
            "users.html",
            p,
            users=await _users(c, p),
            communities=communities,
            workers=workers,
            roles=[(r.value, label) for r, label in ROLE_LABELS.items()],
            token={"username": user.username, "secret": secret},
        )
    patch = {
        "activate": UserPatch(active=True),
        "deactivate": UserPatch(active=False),
        "unlock": UserPatch(unlock=True),
        "password": UserPatch(password=password),
    }.get(op)
    if patch is None:
        raise BadInput("未知操作")
    await _patch(c, p, user_id, patch, client_ip(request))
    return redirect("/admin/users", "已保存")


# --- audit log ------------------------------------------------------------------------------


async def _audit(
    c: Container, p: Principal, *, page: int, action: str, username: str
) -> tuple[list[AuditOut], int]:
    rows, total = await audit_log(c.store, p, page=page, action=action, username=username)
    return [
        AuditOut(
            id=r.id or 0,
            at=r.at.isoformat(),
            username=r.username,
            action=r.action,
            target_type=r.target_type,
            target_id=r.target_id,
            summary=r.summary,
            before=dict(r.before or {}),
            after=dict(r.after or {}),
            ip=r.ip,
        )
        for r in rows
    ], total


@router.get("/api/v1/admin/audit", response_model=AuditPage, tags=["admin"])
async def api_audit(
    c: Dep,
    p: ApiUser,
    page: Annotated[int, Query(ge=1)] = 1,
    action: Annotated[str, Query(max_length=60)] = "",
    username: Annotated[str, Query(max_length=64)] = "",
) -> AuditPage:
    """The audit log, newest first (admins only); ``action`` filters by prefix."""
    entries, total = await _audit(c, p, page=page, action=action, username=username)
    return AuditPage(entries=entries, total=total)


@router.get("/admin/audit", include_in_schema=False)
async def audit_page(
    request: Request,
    c: Dep,
    p: PageUser,
    page: Annotated[int, Query(ge=1)] = 1,
    action: Annotated[str, Query(max_length=60)] = "",
    username: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    entries, total = await _audit(c, p, page=page, action=action, username=username)
    return render(
        request,
        "audit.html",
        p,
        entries=entries,
        total=total,
        page=page,
        pages=max(1, (total + 49) // 50),
        params={"action": action, "username": username},
    )
