"""The permission model's refusals, in words for staff (pure).

``handlers.permissions`` answers yes or no; these raise the refusal a person reads
(``NotAllowed``, or ``NotFound`` for a ticket they may not even see, so numbers of other
communities' tickets cannot be probed).
"""

from __future__ import annotations

from collections.abc import Mapping

from handlers.errors import NotAllowed, NotFound
from handlers.permissions import (
    POLICY,
    Action,
    CommunityTarget,
    GridTree,
    Role,
    Subject,
    Target,
    TicketTarget,
    may,
)
from storage.models import Ticket

NO_GRIDS: Mapping[int, int | None] = {}
STAFF_NEEDED = "需要社区工作人员或管理员权限"
ADMIN_NEEDED = "需要管理员权限"
OWN_COMMUNITY_ONLY = "只能管理本社区的数据"
TICKET_MISSING = "没有找到该工单"
TICKET_REFUSED = "网格员账号不能执行此操作，请联系社区工作人员"


def _admin_only(action: Action) -> bool:
    return all(not POLICY[role].get(action) for role in Role if role != Role.ADMIN)


def _refusal(subject: Subject, action: Action, target: Target) -> NotAllowed:
    if _admin_only(action):
        return NotAllowed(ADMIN_NEEDED)
    if isinstance(target, CommunityTarget) and POLICY[subject.role].get(action):
        return NotAllowed(OWN_COMMUNITY_ONLY)
    return NotAllowed(STAFF_NEEDED)


def require(
    subject: Subject, action: Action, target: Target = None, grids: GridTree = NO_GRIDS
) -> None:
    """Refuse unless the subject may do the action to the target (None: tied to no community).

    Raises:
        NotAllowed: with what is needed.
    """
    if not may(subject, action, target, grids):
        raise _refusal(subject, action, target)


def require_some(subject: Subject, action: Action) -> None:
    """Refuse unless the subject may do the action somewhere (the gate of a console page)."""
    if not POLICY[subject.role].get(action):
        raise _refusal(subject, action, None)


def ticket_for(
    subject: Subject,
    ticket: Ticket | None,
    grids: GridTree,
    action: Action | None = None,
) -> Ticket:
    """The ticket if the subject may see it (and do ``action``); otherwise a refusal.

    Raises:
        NotFound: no ticket, or one the subject may not see.
        NotAllowed: they see it but may not do the action.
    """
    if ticket is None or not may(subject, Action.VIEW, TicketTarget.of(ticket), grids):
        raise NotFound(TICKET_MISSING)
    if action is not None and not may(subject, action, TicketTarget.of(ticket), grids):
        raise NotAllowed(TICKET_REFUSED)
    return ticket
