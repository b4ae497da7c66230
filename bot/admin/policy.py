"""Who may do what: the one place where console roles are enforced.

``admin`` sees and changes everything. ``community_staff`` sees and changes their own
community (tickets, registry, review inbox) and teaches the bot (intents, training); only an
admin activates a model for everyone, imports training data wholesale, manages accounts and
reads the audit log. ``grid_worker`` sees only the tickets assigned to them and may add notes
to them or correct their category.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.admin.errors import Forbidden, Missing
from storage.models import Ticket


class Role(StrEnum):
    ADMIN = "admin"
    COMMUNITY_STAFF = "community_staff"
    GRID_WORKER = "grid_worker"


ROLE_LABELS = {
    Role.ADMIN: "管理员",
    Role.COMMUNITY_STAFF: "社区工作人员",
    Role.GRID_WORKER: "网格员",
}


class Action(StrEnum):
    """Ticket actions from the console."""

    NOTE = "note"
    RECATEGORIZE = "recategorize"
    REASSIGN = "reassign"
    CLOSE = "close"


WORKER_ACTIONS = frozenset({Action.NOTE, Action.RECATEGORIZE})


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in console user (or the owner of an API token)."""

    user_id: int
    username: str
    display_name: str
    role: Role
    community_id: int | None = None
    worker_id: int | None = None
    via: str = "session"  # session | token
    csrf: str = ""

    @property
    def label(self) -> str:
        return self.display_name or self.username

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


@dataclass(frozen=True, slots=True)
class TicketScope:
    """Which tickets a principal sees: ``None`` fields do not restrict."""

    community_ids: tuple[int, ...] | None
    assignee_id: int | None


def ticket_scope(p: Principal) -> TicketScope:
    if p.role == Role.ADMIN:
        return TicketScope(None, None)
    if p.role == Role.COMMUNITY_STAFF:
        return TicketScope((p.community_id,) if p.community_id is not None else (), None)
    # a grid-worker account not linked to a worker sees nothing (-1 matches no ticket)
    return TicketScope(None, p.worker_id if p.worker_id is not None else -1)


def community_scope(p: Principal) -> tuple[int, ...] | None:
    """Communities whose registry and review items the principal may see (None: all)."""
    if p.role == Role.ADMIN:
        return None
    if p.role == Role.COMMUNITY_STAFF and p.community_id is not None:
        return (p.community_id,)
    return ()


def can_see_ticket(p: Principal, ticket: Ticket) -> bool:
    if p.role == Role.ADMIN:
        return True
    if p.role == Role.COMMUNITY_STAFF:
        return p.community_id is not None and ticket.community_id == p.community_id
    return p.worker_id is not None and ticket.assignee_id == p.worker_id


def check_ticket(p: Principal, ticket: Ticket | None, action: Action | None = None) -> Ticket:
    """The ticket if the principal may see it (and do ``action``); otherwise an error.

    A ticket outside the principal's scope is reported as missing, so numbers of other
    communities' tickets cannot be probed.
    """
    if ticket is None or not can_see_ticket(p, ticket):
        raise Missing("没有找到该工单")
    if action is not None and p.role == Role.GRID_WORKER and action not in WORKER_ACTIONS:
        raise Forbidden("网格员账号不能执行此操作，请联系社区工作人员")
    return ticket


def require_staff(p: Principal) -> None:
    """Registry, review inbox, intents and training: admins and community staff."""
    if p.role not in (Role.ADMIN, Role.COMMUNITY_STAFF):
        raise Forbidden("需要社区工作人员或管理员权限")


def require_admin(p: Principal) -> None:
    """Accounts, audit log, model activation and wholesale imports: admins only."""
    if p.role != Role.ADMIN:
        raise Forbidden("需要管理员权限")


def check_community(p: Principal, community_id: int | None) -> None:
    """May the principal change the registry of this community?"""
    require_staff(p)
    if p.role == Role.ADMIN:
        return
    if community_id is None or community_id != p.community_id:
        raise Forbidden("只能管理本社区的数据")
