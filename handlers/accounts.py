"""Console accounts (pure): roles, the signed-in principal, the rules a new account and a
password must meet.

A console account has one of four roles. What each may do is the permission model's
(``handlers.permissions``): an account acts as the subject its role and links make it —
``admin`` everywhere; ``community_staff`` in their community; ``street_staff`` in every
community of their street; ``grid_worker`` (an account
linked to a registry worker) on the tickets assigned to that worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from handlers.errors import InvalidInput
from handlers.permissions import Role as PermissionRole
from handlers.permissions import Subject

DEMO_USERNAME = "admin"
# published in the README for local use only; refused when MINHU_ENV=prod
DEMO_PASSWORD = "minhu-demo-admin"  # noqa: S105
MIN_PASSWORD = 10
USERNAME = re.compile(r"^[A-Za-z0-9_.@\-]{3,64}$")


class Role(StrEnum):
    """A console account's role."""

    ADMIN = "admin"
    COMMUNITY_STAFF = "community_staff"
    STREET_STAFF = "street_staff"
    GRID_WORKER = "grid_worker"


ROLE_LABELS = {
    Role.ADMIN: "管理员",
    Role.COMMUNITY_STAFF: "社区工作人员",
    Role.STREET_STAFF: "街道工作人员",
    Role.GRID_WORKER: "网格员",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in console user (or the owner of an API token)."""

    user_id: int
    username: str
    display_name: str
    role: Role
    community_id: int | None = None
    worker_id: int | None = None
    street_id: int | None = None  # street staff: their street ...
    street_communities: tuple[int, ...] = ()  # ... and its communities (read at sign-in)
    via: str = "session"  # session | token
    csrf: str = ""

    @property
    def label(self) -> str:
        return self.display_name or self.username

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def subject(self) -> Subject:
        """Who the account is to the permission model."""
        if self.role == Role.ADMIN:
            return Subject(PermissionRole.ADMIN)
        if self.role == Role.COMMUNITY_STAFF:
            return Subject(PermissionRole.COMMUNITY_STAFF, self.community_id)
        if self.role == Role.STREET_STAFF:
            return Subject(
                PermissionRole.STREET_STAFF,
                street_id=self.street_id,
                street_communities=frozenset(self.street_communities),
            )
        return Subject(PermissionRole.GRID_WORKER, self.community_id, worker_id=self.worker_id)


def check_password(password: str, *, env: str) -> None:
    """Refuse a weak password, and the published demo password in production.

    Raises:
        InvalidInput: with the reason.
    """
    if password == DEMO_PASSWORD:
        if env == "prod":
            raise InvalidInput(
                "演示密码不能在生产环境中使用 (the demo password is refused in prod)"
            )
        return
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"密码至少需要{MIN_PASSWORD}个字符")
    if password.isdigit() or password.lower() == password.lower()[0] * len(password):
        raise InvalidInput("密码太简单，请混合使用字母、数字和符号")


def check_username(username: str) -> None:
    if not USERNAME.match(username):
        raise InvalidInput("用户名需为3-64位字母、数字或 _.@- 符号")


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError as e:
        raise InvalidInput(
            f"未知角色 {role!r}，可选：admin、community_staff、street_staff、grid_worker"
        ) from e


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """How many wrong passwords lock an account, for how long; how long a session lasts."""

    max_failed_logins: int = 5
    lockout_minutes: float = 15
    session_hours: float = 12


def locked_for(locked_until: datetime | None, now: datetime) -> int | None:
    """Whole minutes (at least 1) an account stays locked, or None when it is not."""
    if locked_until is None or locked_until <= now:
        return None
    return max(1, round((locked_until - now).total_seconds() / 60))
