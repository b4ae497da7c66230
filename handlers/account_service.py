"""Console accounts (I/O): creating them, logging in, sessions and API tokens, lockout,
managing accounts, the demo account.

Passwords are hashed with Argon2id (pwdlib); hashing runs in a thread so a login never blocks
the event loop. Session cookies and API tokens are random secrets of which only the SHA-256
is stored, so a leaked database does not hand out live credentials. Every change is audited
in its own transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pwdlib import PasswordHash

from handlers import audit_service
from handlers.accounts import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    LoginPolicy,
    Principal,
    Role,
    check_password,
    check_username,
    locked_for,
    parse_role,
)
from handlers.errors import (
    Conflict,
    InvalidInput,
    Locked,
    NotAllowed,
    NotAuthenticated,
    NotFound,
)
from handlers.guards import require
from handlers.permissions import Action
from handlers.throttle_service import LoginThrottle
from storage.errors import DuplicateError
from storage.interfaces import Store, UnitOfWork
from storage.models import AdminToken, AdminUser, AuditLog

_HASHER = PasswordHash.recommended()
# verified when the username is unknown, so a miss takes as long as a wrong password
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(password: str, hashed: str) -> tuple[bool, str | None]:
    """(matches, a new hash when the parameters were upgraded)."""
    try:
        return await asyncio.to_thread(_HASHER.verify_and_update, password, hashed)
    except Exception:  # an unreadable hash never matches
        return False, None


def principal_of(
    user: AdminUser, *, via: str, csrf: str = "", street_communities: tuple[int, ...] = ()
) -> Principal:
    return Principal(
        user_id=user.id or 0,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        community_id=user.community_id,
        worker_id=user.worker_id,
        street_id=user.street_id,
        street_communities=street_communities,
        via=via,
        csrf=csrf,
    )


async def street_communities(uow: UnitOfWork, user: AdminUser) -> tuple[int, ...]:
    """The communities a street staff account sees (read at every request: a community
    moved to another street leaves their view at once)."""
    if user.role != Role.STREET_STAFF or user.street_id is None:
        return ()
    return tuple(c.id for c in await uow.streets.communities(user.street_id) if c.id is not None)


async def validate_new_user(
    uow: UnitOfWork,
    *,
    username: str,
    role: str,
    community_id: int | None,
    worker_id: int | None,
) -> tuple[Role, int | None, int | None]:
    """Check a new account's fields; returns (role, community_id, worker_id) as stored
    (a street staff account has neither: ``create_user`` checks its ``street_id``)."""
    check_username(username)
    parsed = parse_role(role)
    if parsed in (Role.ADMIN, Role.STREET_STAFF):
        return parsed, None, None
    if parsed == Role.GRID_WORKER:
        if worker_id is None:
            raise InvalidInput("网格员账号需要关联一名网格员 (worker)")
        worker = await uow.registry.worker(worker_id)
        if worker is None:
            raise InvalidInput(f"没有编号为 {worker_id} 的网格员")
        return parsed, worker.community_id, worker_id
    if community_id is None:
        raise InvalidInput("社区工作人员账号需要指定所属社区")
    if await uow.registry.community(community_id) is None:
        raise InvalidInput(f"没有编号为 {community_id} 的社区")
    return parsed, community_id, None


async def create_user(
    uow: UnitOfWork,
    *,
    username: str,
    password: str,
    role: str,
    env: str,
    now: datetime,
    display_name: str = "",
    community_id: int | None = None,
    worker_id: int | None = None,
    street_id: int | None = None,
    actor: Principal | None = None,
    ip: str = "",
) -> AdminUser:
    """Create an account (audited). ``actor`` None is the command line.

    Raises:
        NotAllowed: the actor may not manage accounts.
        InvalidInput, Conflict: with a clear message.
    """
    if actor is not None:
        require(actor.subject, Action.MANAGE_ACCOUNTS)
    check_password(password, env=env)
    parsed, community_id, worker_id = await validate_new_user(
        uow, username=username, role=role, community_id=community_id, worker_id=worker_id
    )
    if parsed == Role.STREET_STAFF:
        if street_id is None:
            raise InvalidInput("街道工作人员账号需要指定所属街道 (street_id)")
        if await uow.streets.get(street_id) is None:
            raise InvalidInput(f"没有编号为 {street_id} 的街道")
    else:
        street_id = None
    if await uow.admin.user_by_name(username) is not None:
        raise Conflict(f"用户名 {username} 已存在")
    user = AdminUser(
        username=username,
        display_name=display_name.strip()[:100],
        password_hash=await hash_password(password),
        role=parsed.value,
        community_id=community_id,
        worker_id=worker_id,
        street_id=street_id,
        created_at=now,
    )
    try:
        await uow.admin.add_user(user)
    except DuplicateError as e:
        raise Conflict(f"用户名 {username} 已存在") from e
    await audit_service.record(
        uow,
        actor,
        "user.create",
        now=now,
        target_type="user",
        target_id=user.id or "",
        summary=f"创建账号 {username}（{parsed.value}）",
        after={"username": username, "role": parsed.value, "community_id": community_id},
        ip=ip,
        username="cli" if actor is None else "",
    )
    return user


@dataclass(frozen=True, slots=True)
class Session:
    token: str  # the cookie value (never stored)
    csrf: str
    user: AdminUser
    expires_at: datetime


async def login(
    store: Store,
    policy: LoginPolicy,
    *,
    username: str,
    password: str,
    env: str,
    now: datetime,
    ip: str = "",
    throttle: LoginThrottle | None = None,
) -> Session:
    """Check a password and open a session.

    With a ``throttle`` (the app always passes one) every attempt is counted atomically per
    account name and per IP before the password is checked (handlers/throttle_service.py).

    Raises:
        NotAuthenticated: unknown user, wrong password, inactive account (one message for all).
        Locked: too many attempts; the same answer for existing and unknown names.
    """
    wrong = NotAuthenticated("用户名或密码错误")
    name = username.strip()
    attempt = await throttle.admit(name, ip, now) if throttle is not None else 0
    async with store.unit() as uow:
        user = await uow.admin.user_by_name(name)
        if user is None or not user.active:
            await verify_password(password, _DUMMY_HASH)
            until = await throttle.failed(name, attempt, now) if throttle is not None else None
            await audit_service.record(
                uow,
                None,
                "login.failed",
                now=now,
                summary="未知或停用账号",
                ip=ip,
                username=name[:64],
            )
            await uow.commit()
            if until is not None:
                raise Locked(f"登录失败次数过多，已暂时锁定，请{locked_for(until, now)}分钟后再试")
            raise wrong
        minutes = locked_for(user.locked_until, now)
        if minutes is not None and throttle is None:
            raise Locked(f"登录失败次数过多，已暂时锁定，请{minutes}分钟后再试")
        ok, new_hash = await verify_password(password, user.password_hash)
        if ok and env == "prod" and password == DEMO_PASSWORD:
            ok = False  # the published demo password never opens a production console
        if not ok:
            if throttle is not None:
                until = await throttle.failed(name, attempt, now)
            else:
                user.failed_attempts += 1
                until = None
                if user.failed_attempts >= policy.max_failed_logins:
                    until = now + timedelta(minutes=policy.lockout_minutes)
                    user.failed_attempts = 0
            locked = until is not None
            if locked:
                user.locked_until = until  # shown in the console's account list
            await uow.admin.save_user(user)
            await audit_service.record(
                uow,
                None,
                "login.locked" if locked else "login.failed",
                now=now,
                target_type="user",
                target_id=user.id or "",
                summary="密码错误，账号已锁定" if locked else "密码错误",
                ip=ip,
                username=user.username,
            )
            await uow.commit()  # the failure counts even though we raise
            if locked:
                raise Locked(f"登录失败次数过多，已暂时锁定，请{locked_for(until, now)}分钟后再试")
            raise wrong
        if throttle is not None:
            await throttle.succeeded(name, now)
        if new_hash:
            user.password_hash = new_hash
        user.failed_attempts = 0
        user.locked_until = None
        user.last_login_at = now
        await uow.admin.save_user(user)
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        expires = now + timedelta(hours=policy.session_hours)
        await uow.admin.add_token(
            AdminToken(
                user_id=user.id or 0,
                kind="session",
                token_hash=digest(token),
                csrf_token=csrf,
                created_at=now,
                expires_at=expires,
                last_used_at=now,
            )
        )
        principal = principal_of(user, via="session")
        await audit_service.record(
            uow, principal, "login", now=now, target_type="user", target_id=user.id or "", ip=ip
        )
        return Session(token, csrf, user, expires)


async def authenticate(store: Store, secret: str, *, kind: str, now: datetime) -> Principal | None:
    """The principal behind a session cookie or bearer token, or None if invalid/expired."""
    if not secret or len(secret) > 200:
        return None
    async with store.unit() as uow:
        token = await uow.admin.token_by_hash(digest(secret))
        if token is None or token.kind != kind or token.revoked:
            return None
        if token.expires_at is not None and token.expires_at <= now:
            return None
        user = await uow.admin.user(token.user_id)
        if user is None or not user.active:
            return None
        # one write a minute at most: enough to show when a token was last used
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            token.last_used_at = now
            await uow.admin.save_token(token)
        return principal_of(
            user,
            via="token" if kind == "api" else "session",
            csrf=token.csrf_token,
            street_communities=await street_communities(uow, user),
        )


async def logout(
    store: Store, secret: str, principal: Principal, *, now: datetime, ip: str
) -> None:
    async with store.unit() as uow:
        token = await uow.admin.token_by_hash(digest(secret))
        if token is not None and not token.revoked:
            token.revoked = True
            await uow.admin.save_token(token)
        await audit_service.record(
            uow,
            principal,
            "logout",
            now=now,
            target_type="user",
            target_id=principal.user_id,
            ip=ip,
        )


async def issue_api_token(
    uow: UnitOfWork,
    user: AdminUser,
    *,
    now: datetime,
    days: int,
    name: str = "",
    actor: Principal | None = None,
) -> str:
    """Create a bearer token for scripts; the secret is returned once and never stored.

    Raises:
        NotAllowed: the actor may not manage accounts (``None`` is the command line).
    """
    if actor is not None:
        require(actor.subject, Action.MANAGE_ACCOUNTS)
    secret = "mh_" + secrets.token_urlsafe(32)
    token = await uow.admin.add_token(
        AdminToken(
            user_id=user.id or 0,
            kind="api",
            token_hash=digest(secret),
            name=name[:100],
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
    )
    await audit_service.record(
        uow,
        actor,
        "token.create",
        now=now,
        target_type="token",
        target_id=token.id or "",
        summary=f"为 {user.username} 签发 API 令牌（{days}天）",
        username="cli" if actor is None else "",
    )
    return secret


async def update_user(
    store: Store,
    actor: Principal,
    user_id: int,
    *,
    env: str,
    now: datetime,
    active: bool | None = None,
    unlock: bool = False,
    password: str | None = None,
    ip: str = "",
    throttle: LoginThrottle | None = None,
) -> None:
    """Activate or deactivate an account, unlock it, or set a new password (revokes its
    sessions and API tokens: a stolen token must not outlive the password it came with).

    Raises:
        NotAllowed: not an admin, or an admin deactivating themselves.
        NotFound, InvalidInput.
    """
    require(actor.subject, Action.MANAGE_ACCOUNTS)
    async with store.unit() as uow:
        user = await uow.admin.user(user_id)
        if user is None:
            raise NotFound("没有这个账号")
        before = {"active": user.active, "locked_until": user.locked_until}
        changes: list[str] = []
        if active is not None and active != user.active:
            if user.id == actor.user_id and not active:
                raise NotAllowed("不能停用自己的账号")
            user.active = active
            changes.append("启用" if active else "停用")
            if not active:
                await uow.admin.revoke_tokens(user.id or 0)
        if unlock:
            user.locked_until = None
            user.failed_attempts = 0
            if throttle is not None:
                await throttle.unlock(user.username, now)
            changes.append("解锁")
        if password:
            check_password(password, env=env)
            user.password_hash = await hash_password(password)
            await uow.admin.revoke_tokens(user.id or 0)
            changes.append("重设密码")
        if not changes:
            raise InvalidInput("没有需要修改的内容")
        await uow.admin.save_user(user)
        await audit_service.record(
            uow,
            actor,
            "user.update",
            now=now,
            target_type="user",
            target_id=user.id or "",
            summary=f"{user.username}：{'、'.join(changes)}",
            before=before,
            after={"active": user.active, "locked_until": user.locked_until},
            ip=ip,
        )


async def issue_token_for(
    store: Store, actor: Principal, user_id: int, *, now: datetime, days: int
) -> tuple[AdminUser, str]:
    """An API token for an account, issued by an admin (the secret is shown once)."""
    require(actor.subject, Action.MANAGE_ACCOUNTS)
    async with store.unit() as uow:
        user = await uow.admin.user(user_id)
        if user is None:
            raise NotFound("没有这个账号")
        return user, await issue_api_token(uow, user, now=now, days=days, actor=actor)


async def ensure_demo_admin(store: Store, *, env: str, now: datetime) -> bool:
    """Create the demo admin (README credentials) when there is no account at all.

    Never in production. Returns True when the account was created.
    """
    if env == "prod":
        return False
    try:
        async with store.unit() as uow:
            if await uow.admin.users():
                return False
            await create_user(
                uow,
                username=DEMO_USERNAME,
                password=DEMO_PASSWORD,
                role=Role.ADMIN.value,
                env=env,
                now=now,
                display_name="演示管理员",
            )
    except Conflict:  # another process created it first
        return False
    return True


async def accounts(store: Store, actor: Principal, *, now: datetime) -> list[dict[str, object]]:
    """Every console account, with whether it is locked now (admins only)."""
    require(actor.subject, Action.MANAGE_ACCOUNTS)
    async with store.unit() as uow:
        users = await uow.admin.users()
    return [
        {
            "id": u.id or 0,
            "username": u.username,
            "display_name": u.display_name,
            "role": u.role,
            "community_id": u.community_id,
            "worker_id": u.worker_id,
            "active": u.active,
            "locked": locked_for(u.locked_until, now) is not None,
            "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
        }
        for u in users
    ]


async def audit_log(
    store: Store, actor: Principal, *, page: int, action: str, username: str, per_page: int = 50
) -> tuple[list[AuditLog], int]:
    """A page of the audit log, newest first; ``action`` filters by prefix (admins only)."""
    require(actor.subject, Action.READ_AUDIT)
    async with store.unit() as uow:
        rows, total = await uow.admin.audit(
            limit=per_page,
            offset=(page - 1) * per_page,
            action=action or None,
            username=username or None,
        )
    return list(rows), total


async def api_tokens(store: Store, actor: Principal, user_id: int) -> list[AdminToken]:
    """An account's API tokens, newest first (never their secrets; only hashes are stored).

    Raises:
        NotAllowed: not an admin. NotFound: no such account.
    """
    require(actor.subject, Action.MANAGE_ACCOUNTS)
    async with store.unit() as uow:
        if await uow.admin.user(user_id) is None:
            raise NotFound("没有这个账号")
        tokens = await uow.admin.tokens(user_id, kind="api")
    return sorted(tokens, key=lambda t: t.id or 0, reverse=True)


async def revoke_api_token(
    store: Store, actor: Principal, user_id: int, token_id: int, *, now: datetime, ip: str = ""
) -> None:
    """Revoke one API token of an account (audited); the account's others keep working.

    Raises:
        NotAllowed: not an admin. NotFound: no such token on that account.
    """
    require(actor.subject, Action.MANAGE_ACCOUNTS)
    async with store.unit() as uow:
        token = next(
            (t for t in await uow.admin.tokens(user_id, kind="api") if t.id == token_id), None
        )
        if token is None:
            raise NotFound("没有这个令牌")
        if not token.revoked:
            token.revoked = True
            await uow.admin.save_token(token)
        await audit_service.record(
            uow,
            actor,
            "token.revoke",
            now=now,
            target_type="token",
            target_id=token_id,
            summary=f"吊销 API 令牌 #{token_id}（{token.name or '未命名'}）",
            ip=ip,
        )
