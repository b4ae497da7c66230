"""A ticket's clocks and the staff moves beyond the basic four (I/O), for the console and API.

``board`` says what a supervisor needs at a glance: every running deadline with its due time,
who holds the ticket and at which rung of the escalation ladder, and each department it was
handed to with its own status. ``act`` runs cancel, merge, hand to a department and escalate
with the same permission model (``handlers.permissions``) and an audit entry, like
``handlers.staff_ticket_service`` does for reassign, re-categorise, note and close.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from handlers import audit_service
from handlers.accounts import Principal
from handlers.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    PermissionDenied,
    TicketNotFound,
)
from handlers.guards import ticket_for
from handlers.lifecycle import LEVELS, TOP_LEVEL, is_open
from handlers.permissions import Action
from handlers.ports import Clock
from handlers.ticket_service import TicketService
from handlers.tickets.access import grid_tree
from handlers.tickets.common import UnknownDepartment, handler_level, locked_ticket
from handlers.tickets.departments import find_department
from handlers.tickets.staff import staff_actor
from storage.interfaces import Store, UnitOfWork
from storage.models import Ticket, TicketEvent

CLOCK_LABELS = {
    "accept": "接单时限",
    "accept_remind": "接单提醒",
    "resolve": "办结时限",
    "resolve_remind": "办结提醒",
    "rating": "评价期限（到期自动关闭）",
    "callback": "回电承诺（网格员给居民回电）",
}
LEVEL_LABELS = {0: "网格员", 1: "网格长", 2: "社区工作人员", 3: "街道工作人员"}
ROLE_LABELS = {
    "grid_worker": "网格员",
    "grid_leader": "网格长",
    "community_staff": "社区工作人员",
    "street_staff": "街道工作人员",
}
PARTY_ROLES = {"lead": "主办", "cohandler": "协办"}
PARTY_STATUS = {"active": "处理中", "done": "已办结"}
NUMBER = r"^[A-Za-z]{2}-\d{8}-\d{4}$"


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class MergeIn(BaseModel):
    into: str = Field(pattern=NUMBER, description="the ticket that stays (e.g. MH-20261122-0001)")
    reason: str = Field(default="", max_length=2000)


class DepartmentIn(BaseModel):
    department_id: int
    note: str = Field(default="", max_length=2000)
    cohandler: bool = Field(default=False, description="add as co-handler instead of lead")


class EscalateIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


MoreIn = CancelIn | MergeIn | DepartmentIn | EscalateIn
ACTIONS: dict[type[BaseModel], Action] = {
    CancelIn: Action.CANCEL,
    MergeIn: Action.MERGE,
    DepartmentIn: Action.HANDLE,
    EscalateIn: Action.ESCALATE,
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class TicketConsole:
    """Clocks, holder and departments of a ticket, and the moves staff make from its page.

    Args:
        store: units of work over the database.
        clock: the time source.
        tickets: the ticket service whose moves run here.
        kick: wakes the outbox dispatcher after a commit that queued messages.
    """

    def __init__(
        self, store: Store, clock: Clock, tickets: TicketService, kick: Callable[[], None]
    ) -> None:
        self.store = store
        self.clock = clock
        self.tickets = tickets
        self.kick = kick

    async def board(self, principal: Principal, number: str) -> dict[str, Any]:
        """Running deadlines (with seconds left), holder and level, departments.

        Raises:
            NotFound: no such ticket, or one the principal may not see.
        """
        now = self.clock.now()
        async with self.store.unit() as uow:
            ticket = ticket_for(
                principal.subject, await uow.tickets.by_number(number), await grid_tree(uow)
            )
            clocks = await uow.clocks.for_ticket(ticket.id or 0, status="pending")
            holder = await uow.registry.worker(ticket.assignee_id) if ticket.assignee_id else None
            parties = await uow.departments.parties(ticket.id or 0)
            departments = []
            for party in parties:
                dept = await uow.departments.get(party.department_id)
                departments.append(
                    {
                        "id": party.department_id,
                        "name": dept.name if dept else f"部门 {party.department_id}",
                        "phone": dept.phone if dept else "",
                        "role_label": PARTY_ROLES.get(party.role, party.role),
                        "status": party.status,
                        "status_label": PARTY_STATUS.get(party.status, party.status),
                        "added_at": _iso(party.added_at),
                        "done_at": _iso(party.done_at),
                        "added_by": party.added_by,
                    }
                )
            choices = await uow.departments.for_community(ticket.community_id)
            escalated = _escalation(await uow.tickets.events(ticket.id or 0))
        level = LEVELS.get(holder.role, 0) if holder else None
        escalation = None
        if escalated is not None and is_open(ticket.status):
            reached = int(escalated.get("level") or 0)
            names = "、".join(str(n) for n in escalated.get("names") or [])
            escalation = {
                "level": reached,
                "level_label": f"第{reached + 1}级（{LEVEL_LABELS.get(reached, '')}）",
                "to": f"{LEVEL_LABELS.get(reached, '')}{names}",
            }
        shown = [c for c in clocks if not c.kind.endswith("_remind")]
        return {
            "clocks": [
                {
                    "kind": c.kind,
                    "label": CLOCK_LABELS.get(c.kind, c.kind),
                    "due_at": _iso(c.deadline_at or c.due_at),
                    "seconds_left": int(((c.deadline_at or c.due_at) - now).total_seconds()),
                    "level": c.level,
                    "escalates_to": LEVEL_LABELS.get(c.level, "") if c.kind != "rating" else "",
                }
                for c in sorted(shown, key=lambda c: c.deadline_at or c.due_at)
            ],
            "holder": (
                {
                    "name": holder.name,
                    "role_label": ROLE_LABELS.get(holder.role, holder.role),
                    "level": level,
                    "level_label": f"第{(level or 0) + 1}级（{LEVEL_LABELS.get(level or 0, '')}）",
                    "top": level == TOP_LEVEL,
                }
                if holder
                else None
            ),
            "escalation": escalation,
            "departments": departments,
            "department_choices": [
                {"id": d.id, "name": d.name}
                for d in choices
                if d.id not in {p.department_id for p in parties}
            ],
            "open": is_open(ticket.status),
        }

    async def act(self, principal: Principal, number: str, body: MoreIn, *, ip: str = "") -> str:
        """Cancel, merge, hand to a department or escalate; returns what was done, in words.

        Raises:
            NotFound, NotAllowed (the permission model), InvalidInput, Conflict.
        """
        action = ACTIONS[type(body)]
        now = self.clock.now()
        actor = staff_actor(f"user:{principal.user_id}", principal.label)
        staff = self.tickets.staff
        async with self.store.unit() as uow:
            tree = await grid_tree(uow)
            other: Ticket | None = None
            if isinstance(body, MergeIn):
                # lock both in a fixed order: two staff merging crosswise must not deadlock
                first, second = sorted({number.upper(), body.into.upper()})
                locked = {n: await _maybe_locked(uow, n) for n in (first, second)}
                ticket = ticket_for(principal.subject, locked.get(number.upper()), tree, action)
                other = ticket_for(principal.subject, locked.get(body.into.upper()), tree, action)
            else:
                found = await uow.tickets.by_number(number, for_update=True)
                ticket = ticket_for(principal.subject, found, tree, action)
            before = {"status": ticket.status, "assignee_id": ticket.assignee_id}
            try:
                if isinstance(body, CancelIn):
                    await staff.cancel(uow, ticket, actor, reason=body.reason)
                    summary = f"撤销工单：{body.reason[:100]}"
                elif isinstance(body, MergeIn) and other is not None:
                    reason = body.reason or f"与 {other.number} 为同一问题"
                    count = await staff.merge_tickets(uow, ticket, other, actor, reason)
                    summary = f"合并到 {other.number}（共 {count} 位居民关注）"
                elif isinstance(body, DepartmentIn):
                    dept = await find_department(uow, body.department_id, ticket.community_id)
                    reached = await self.tickets.involve_department(
                        uow, ticket, dept, actor, note=body.note, cohandler=body.cohandler
                    )
                    how = "协办" if body.cohandler else "主办"
                    summary = f"交{dept.name}{how}" + (
                        "" if reached else "（部门无可用联系人，请电话联系）"
                    )
                elif isinstance(body, EscalateIn):
                    if await handler_level(uow, ticket) >= TOP_LEVEL:
                        raise Conflict(
                            "工单已在最高一级（街道工作人员）处理，不能再上报；可转12345"
                        )
                    await staff.escalate_manually(uow, ticket, actor, reason=body.reason)
                    up = _escalation(await uow.tickets.events(ticket.id or 0))
                    if up is None or up.get("level") is None:
                        raise Conflict("没有可以上报的网格长、社区或街道工作人员，请直接转派")
                    names = "、".join(str(n) for n in up.get("names") or [])
                    summary = f"上报给{LEVEL_LABELS.get(int(up['level']), '')}{names}"
                else:  # pragma: no cover - the union is exhausted above
                    raise InvalidInput("未知操作")
            except UnknownDepartment as e:
                raise InvalidInput("该部门不服务本社区或已停用") from e
            except (InvalidTransition, PermissionDenied) as e:
                raise Conflict("当前状态下不能执行该操作", detail=str(e)) from e
            await audit_service.record(
                uow,
                principal,
                f"ticket.{action.value}" if action != Action.HANDLE else "ticket.department",
                now=now,
                target_type="ticket",
                target_id=ticket.number,
                summary=summary,
                before=before,
                after={"status": ticket.status, "assignee_id": ticket.assignee_id},
                ip=ip,
            )
            queued = uow.queued > 0
        if queued:
            self.kick()
        return summary


def _escalation(events: Sequence[TicketEvent]) -> dict[str, Any] | None:
    """The data of the escalation in force: the last one, unless the ticket moved to
    someone else since (assigned, transferred)."""
    for event in reversed(events):
        if event.kind == "escalate":
            return dict(event.data or {})
        if event.kind in ("assign", "transfer", "reassign"):
            return None
    return None


async def _maybe_locked(uow: UnitOfWork, number: str) -> Ticket | None:
    try:
        return await locked_ticket(uow, number)
    except TicketNotFound:
        return None  # ticket_for says "not found" in words
