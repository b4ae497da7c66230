"""Console accounts: the rules and the I/O are ``handlers.accounts`` and
``handlers.account_service``; this module adapts the console's settings to them and keeps
the names the console, the CLI and the tests import."""

from __future__ import annotations

from datetime import datetime

from bot.config import AdminSettings
from bot.container import Container
from handlers.account_service import (
    Session,
    authenticate,
    create_user,
    ensure_demo_admin,
    hash_password,
    issue_api_token,
    logout,
)
from handlers.account_service import login as login_with
from handlers.accounts import DEMO_PASSWORD, DEMO_USERNAME, LoginPolicy, check_password
from handlers.throttle_service import LoginThrottle
from storage.interfaces import Store

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "Session",
    "authenticate",
    "check_password",
    "create_user",
    "ensure_demo_admin",
    "hash_password",
    "issue_api_token",
    "login",
    "login_policy",
    "login_throttle",
    "logout",
]


def login_throttle(container: Container) -> LoginThrottle:
    """Atomic login throttling on the container's limiter (Redis when configured)."""
    settings = container.settings.admin
    return LoginThrottle(
        container.limiter,
        container.sessions,
        login_policy(settings),
        max_per_ip=settings.max_logins_per_ip,
    )


def login_policy(settings: AdminSettings) -> LoginPolicy:
    return LoginPolicy(
        max_failed_logins=settings.max_failed_logins,
        lockout_minutes=settings.lockout_minutes,
        session_hours=settings.session_hours,
    )


async def login(
    store: Store,
    settings: AdminSettings,
    *,
    username: str,
    password: str,
    env: str,
    now: datetime,
    ip: str = "",
    throttle: LoginThrottle | None = None,
) -> Session:
    """Check a password and open a session (see ``handlers.account_service.login``)."""
    return await login_with(
        store,
        login_policy(settings),
        username=username,
        password=password,
        env=env,
        now=now,
        ip=ip,
        throttle=throttle,
    )
