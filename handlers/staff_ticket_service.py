"""Tickets as staff see them (I/O): the list filter, a ticket's detail, staff actions with
their audit entry, the CSV export — for the console and the JSON API alike.

Who sees and does what is ``handlers.permissions`` (through ``handlers.guards``); the moves
are the ticket service's (``handlers.tickets.staff``). Resident messages and notes shown
to staff have phone numbers and other personal data masked.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator

from handlers import audit_service
from handlers.accounts import Principal
from handlers.errors import Conflict, InvalidInput, InvalidTransition, PermissionDenied
from handlers.flows import FLOWS, category_label
from handlers.guards import ticket_for
from handlers.lifecycle import Status
from handlers.notices import LOCAL_TZ
from handlers.overdue import Targets, overdue_filter, overdue_kind
from handlers.permissions import Action, GridTree, subtree, visible_tickets
from handlers.ports import Clock
from handlers.privacy import mask_text
from handlers.staff_words import MORE_EVENTS, channel_label, place
from handlers.staff_words import staff_status as status_text
from handlers.ticket_service import TicketService
from handlers.tickets.access import grid_tree_of
from handlers.tickets.staff import staff_actor
from storage.admin_types import TicketFilter
from storage.interfaces import Store, UnitOfWork
from storage.models import Community, Grid, GridWorker, InboundMessage, Ticket, TicketEvent

EXPORT_LIMIT = 20_000
# the list counts matches up to here and then says "1000+ 条": an exact total of a city-wide
# search would count a hundred thousand rows on every page
COUNT_UP_TO = 1000
PRIORITY_LABELS = {"urgent": "紧急", "high": "高", "normal": "普通", "low": "低"}
EVENT_LABELS = {
    "created": "居民上报",
    "assign": "派单",
    "accept": "接单",
    "progress": "进展",
    "resolve": "办结",
    "rate": "评价",
    "close": "关闭",
    "reopen": "重新打开",
    "transfer": "转派",
    "escalate": "上报",
    "cancel": "撤销",
    "merge": "合并",
    "note": "备注",
    "recategorize": "更改类别",
    "contact_added": "补充电话",
    "callback": "回电",
    "callback_overdue": "回电超时督办",
    "withdraw": "居民撤销",
    # the street level (issue 14)
    "refer_street": "上报街道",
    "send_back": "街道退回",
    "forward_city": "转12345",
    "city_ack": "12345受理",
    "city_reply": "12345答复",
    "city_resolve": "12345办结",
    "city_failed": "12345未受理",
    **MORE_EVENTS,
}
ACTOR_LABELS = {
    "resident": "居民",
    "worker": "网格员",
    "system": "系统",
    "admin": "工作人员",
    "department": "部门",
    "helper": "楼栋长/志愿者",
}


def categories() -> list[tuple[str, str]]:
    """(category, Chinese label) of every report flow, in registry order."""
    return [(flow.category, flow.label["zh"]) for flow in FLOWS.values()]


class TicketQuery(BaseModel):
    """Filters of the ticket list (query parameters of the API and the console page)."""

    status: list[str] = Field(default_factory=list, description="one or more statuses")
    category: list[str] = Field(default_factory=list, description="one or more categories")
    priority: list[str] = Field(default_factory=list, description="urgent|high|normal|low")
    grid: int | None = Field(default=None, description="grid id (its micro-grids included)")
    overdue: bool = Field(default=False, description="only tickets past their targets")
    date_from: date | None = Field(default=None, description="reported on or after (local)")
    date_to: date | None = Field(default=None, description="reported on or before (local)")
    q: str = Field(default="", max_length=100, description="number, text, building or phone")
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=200)

    @field_validator("grid", "date_from", "date_to", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("status", "category", "priority", mode="before")
    @classmethod
    def _drop_blanks(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [v for v in value if v not in ("", None)]
        return value

    def params(self) -> dict[str, Any]:
        """The query as URL parameters (for pagination and export links)."""
        return {
            "status": self.status,
            "category": self.category,
            "priority": self.priority,
            "grid": self.grid,
            "overdue": "true" if self.overdue else None,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "q": self.q,
        }


@dataclass(frozen=True, slots=True)
class Total:
    """How many tickets a list matches: exactly ``count``, or at least ``count`` when ``more``."""

    count: int
    more: bool = False

    def __str__(self) -> str:
        return f"{self.count}+" if self.more else str(self.count)

    def pages(self, per_page: int) -> int:
        """Pages to offer: one more than counted when the count stopped early."""
        return max(1, (self.count + per_page - 1) // per_page + (1 if self.more else 0))


@dataclass(slots=True)
class Names:
    """Registry rows to name ids in lists (one query each per request)."""

    communities: dict[int, Community]
    grids: dict[int, Grid]
    workers: dict[int, GridWorker]

    def grid(self, grid_id: int | None) -> str:
        grid = self.grids.get(grid_id) if grid_id is not None else None
        return grid.name if grid else ""

    def worker(self, worker_id: int | None) -> str:
        worker = self.workers.get(worker_id) if worker_id is not None else None
        return worker.name if worker else ""

    def community(self, community_id: int | None) -> str:
        community = self.communities.get(community_id) if community_id is not None else None
        return community.name if community else ""


async def load_names(uow: UnitOfWork) -> Names:
    """Every community, grid and worker (reports over a whole area; a city has thousands)."""
    return Names(
        communities={c.id: c for c in await uow.registry.communities() if c.id is not None},
        grids={g.id: g for g in await uow.registry.grids() if g.id is not None},
        workers={w.id: w for w in await uow.registry.workers() if w.id is not None},
    )


async def names_for(uow: UnitOfWork, tickets: Iterable[Ticket]) -> Names:
    """The communities, grids and workers these tickets name: a page's worth, one query
    each, instead of the whole registry on every console request."""
    listed = list(tickets)
    communities = {t.community_id for t in listed if t.community_id is not None}
    grids = {t.grid_id for t in listed if t.grid_id is not None}
    workers = {t.assignee_id for t in listed if t.assignee_id is not None}
    return Names(
        communities={
            c.id: c
            for c in (await uow.registry.communities(ids=list(communities)) if communities else ())
            if c.id is not None
        },
        grids={
            g.id: g
            for g in (await uow.registry.grids(ids=list(grids)) if grids else ())
            if g.id is not None
        },
        workers={
            w.id: w
            for w in (await uow.registry.workers(ids=list(workers)) if workers else ())
            if w.id is not None
        },
    )


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


def build_filter(
    principal: Principal,
    query: TicketQuery,
    *,
    grids: GridTree,
    now: datetime,
    targets: Targets,
) -> TicketFilter:
    """The query as a storage filter, narrowed to what the principal may see. ``grids``: the
    grid tree of the principal's grid and of the grid asked for (``grid_tree_of``)."""
    scope = visible_tickets(principal.subject, grids)
    for status in query.status:
        if status not in {s.value for s in Status}:
            raise InvalidInput(f"未知状态 {status!r}")
    known = {c for c, _ in categories()}
    for category in query.category:
        if category not in known:
            raise InvalidInput(f"未知类别 {category!r}")
    grid_ids: tuple[int, ...] = ()
    if query.grid is not None:
        if query.grid not in grids:
            raise InvalidInput(f"没有编号为 {query.grid} 的网格")
        grid_ids = subtree(query.grid, grids)
    if scope.grid_ids is not None:  # a leader's grid: their filter only narrows it
        grid_ids = tuple(g for g in grid_ids if g in scope.grid_ids) or (-1,)
        grid_ids = grid_ids if query.grid is not None else scope.grid_ids
    return TicketFilter(
        statuses=tuple(query.status),
        categories=tuple(query.category),
        priorities=tuple(query.priority),
        grid_ids=grid_ids,
        community_ids=scope.community_ids,
        assignee_id=scope.assignee_id,
        created_from=_local_start(query.date_from) if query.date_from else None,
        created_to=_local_start(query.date_to + timedelta(days=1)) if query.date_to else None,
        query=query.q,
        overdue=overdue_filter(now, targets) if query.overdue else None,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def ticket_json(ticket: Ticket, names: Names, *, now: datetime, targets: Targets) -> dict[str, Any]:
    """The list/API view of a ticket."""
    return {
        "number": ticket.number,
        "category": ticket.category,
        "category_label": category_label(ticket.category),
        "priority": ticket.priority,
        "status": ticket.status,
        "status_label": status_text(ticket.status),
        "community": {"id": ticket.community_id, "name": names.community(ticket.community_id)}
        if ticket.community_id
        else None,
        "building": ticket.building_name,
        "building_id": ticket.building_id,
        "unit": ticket.unit,
        "room": ticket.room,
        "location_note": ticket.location_note,
        "place": place(ticket.building_name, ticket.unit, ticket.room),
        "grid": {"id": ticket.grid_id, "name": names.grid(ticket.grid_id)}
        if ticket.grid_id
        else None,
        "assignee": {"id": ticket.assignee_id, "name": names.worker(ticket.assignee_id)}
        if ticket.assignee_id
        else None,
        "overdue": overdue_kind(
            status=ticket.status,
            category=ticket.category,
            priority=ticket.priority,
            created_at=ticket.created_at,
            assigned_at=ticket.assigned_at,
            now=now,
            targets=targets,
        ),
        "rating": ticket.rating,
        "tier": ticket.tier,
        "channel": ticket.channel,
        "channel_label": channel_label(ticket.channel),
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "assigned_at": _iso(ticket.assigned_at),
        "accepted_at": _iso(ticket.accepted_at),
        "resolved_at": _iso(ticket.resolved_at),
        "closed_at": _iso(ticket.closed_at),
    }


def event_json(event: TicketEvent) -> dict[str, Any]:
    return {
        "at": _iso(event.at),
        "kind": event.kind,
        "kind_label": EVENT_LABELS.get(event.kind, event.kind),
        "actor_type": event.actor_type,
        "actor_label": ACTOR_LABELS.get(event.actor_type, event.actor_type),
        "actor_name": event.actor_name,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "from_label": status_text(event.from_status) if event.from_status else "",
        "to_label": status_text(event.to_status) if event.to_status else "",
        "note": mask_text(event.note) if event.actor_type == "resident" else event.note,
        "data": dict(event.data or {}),
    }


def _excerpt(messages: Sequence[InboundMessage]) -> list[dict[str, Any]]:
    """The conversation around a ticket, phones masked; a pressed button carries the title
    the resident saw on it (from the reply that offered it)."""
    out: list[dict[str, Any]] = []
    offered: dict[str, str] = {}
    for m in messages:
        payload = m.payload or {}
        button = payload.get("button")
        out.append(
            {
                "at": _iso(m.received_at),
                "text": mask_text(str(payload.get("text") or "")),
                "button": button,
                "button_title": offered.get(str(button), "") if button else "",
                "intent": m.intent,
                "confidence": m.confidence,
                "replies": [mask_text(str(r.get("text", ""))) for r in m.replies or []],
            }
        )
        offered = {
            str(b.get("payload")): str(b.get("title", ""))
            for r in m.replies or []
            for b in r.get("buttons") or []
            if isinstance(b, dict)
        }
    return out


# --- staff actions -----------------------------------------------------------------------------


class ReassignIn(BaseModel):
    worker_id: int
    reason: str = Field(default="", max_length=2000)


class CategoryIn(BaseModel):
    category: str = Field(max_length=40)
    note: str = Field(default="", max_length=2000)


class NoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000)
    tell_resident: bool = False


class CloseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


_REFUSALS = {
    "cannot reassign": "工单已办结或关闭，不能转派",
    "not active": "该网格员已停用",
    "another community": "只能转派给本社区的网格员",
    "assigned to": "工单已经派给该网格员",
    "unknown category": "未知类别",
    "has this category": "工单已是该类别",
    "needs text": "备注不能为空",
    "needs a reason": "关闭工单需要填写说明",
    "already": "工单已经结束",
    "reassign it": "该工单正等待接单（已转派/上报/重开），请先重新指派",
}


def _refusal(error: Exception) -> Conflict:
    text = str(error)
    for key, message in _REFUSALS.items():
        if key in text:
            return Conflict(message, detail=text)
    return Conflict("当前状态下不能执行该操作", detail=text)


# --- CSV export ---------------------------------------------------------------------------------

CSV_COLUMNS = (
    ("number", "工单号"),
    ("category_label", "类别"),
    ("priority", "优先级"),
    ("status_label", "状态"),
    ("community", "社区"),
    ("building", "楼栋"),
    ("unit", "单元"),
    ("room", "室"),
    ("grid", "网格"),
    ("assignee", "网格员"),
    ("created_at", "上报时间"),
    ("accepted_at", "接单时间"),
    ("resolved_at", "办结时间"),
    ("closed_at", "关闭时间"),
    ("overdue", "超时"),
    ("rating", "评价"),
    ("description", "居民描述"),
)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # a cell starting with = + - @ would be run as a formula by spreadsheet programs
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def _local(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value else ""


class StaffTicketDesk:
    """The tickets a console account sees and the actions it takes on them.

    Args:
        store: units of work over the database.
        clock: the time source.
        tickets: the ticket service (its staff moves).
        targets: the SLA targets "overdue" is measured against.
        photo_url: a (signed) link to an attachment, by id.
        kick: wakes the outbox dispatcher after a commit that queued messages.
    """

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        tickets: TicketService,
        targets: Targets,
        photo_url: Callable[[int], str],
        kick: Callable[[], None],
    ) -> None:
        self.store = store
        self.clock = clock
        self.tickets = tickets
        self.targets = targets
        self.photo_url = photo_url
        self.kick = kick

    async def list(
        self, principal: Principal, query: TicketQuery
    ) -> tuple[list[dict[str, Any]], Total, Names]:
        """A page of the tickets the principal may see, newest first, and how many match
        (counted up to ``COUNT_UP_TO``: "1000+ 条")."""
        now = self.clock.now()
        async with self.store.unit() as uow:
            tree = await grid_tree_of(uow, principal.subject.grid_id, query.grid)
            f = build_filter(principal, query, grids=tree, now=now, targets=self.targets)
            found = await uow.ticket_queries.page(
                f,
                limit=query.per_page,
                offset=(query.page - 1) * query.per_page,
                count_up_to=COUNT_UP_TO,
            )
            names = await names_for(uow, found.rows)
        rows = [ticket_json(t, names, now=now, targets=self.targets) for t in found.rows]
        return rows, Total(found.total, found.more), names

    async def detail(self, principal: Principal, number: str) -> dict[str, Any]:
        """Everything about one ticket: facts, timeline, photos, the conversation around it.

        Raises:
            NotFound: no such ticket, or one the principal may not see.
        """
        now = self.clock.now()
        async with self.store.unit() as uow:
            ticket = ticket_for(
                principal.subject,
                await uow.tickets.by_number(number),
                await grid_tree_of(uow, principal.subject.grid_id),
            )
            names = await names_for(uow, [ticket])
            events = await uow.tickets.events(ticket.id or 0)
            photos = await uow.attachments.for_ticket(ticket.id or 0)
            conversation = []
            if ticket.channel and ticket.channel_user_id:
                conversation = list(
                    await uow.ticket_queries.inbound_for_user(
                        ticket.channel,
                        ticket.channel_user_id,
                        since=ticket.created_at - timedelta(minutes=30),
                        until=ticket.created_at + timedelta(minutes=30),
                    )
                )
        out = ticket_json(ticket, names, now=now, targets=self.targets)
        extra = dict(ticket.extra or {})
        out.update(
            description=ticket.description,
            contact_phone=ticket.contact_phone,
            rating_comment=ticket.rating_comment,
            reopen_count=ticket.reopen_count,
            nlu={
                "intent": extra.get("nlu_intent", ""),
                "confidence": extra.get("nlu_confidence"),
            },
            extra={k: v for k, v in extra.items() if k not in ("nlu_intent", "nlu_confidence")},
            events=[event_json(e) for e in events],
            photos=[
                {"id": p.id, "mime": p.mime, "size": p.size, "url": self.photo_url(p.id or 0)}
                for p in photos
            ],
            conversation=_excerpt(conversation),
        )
        return out

    async def act(
        self,
        principal: Principal,
        number: str,
        action: Action,
        body: ReassignIn | CategoryIn | NoteIn | CloseIn,
        *,
        ip: str = "",
    ) -> dict[str, Any]:
        """Run one staff action on a ticket in one transaction with its audit entry; returns
        the ticket's detail afterwards.

        Raises:
            NotFound, NotAllowed (the permission model), InvalidInput, Conflict (the move
            is refused in the ticket's state).
        """
        now = self.clock.now()
        actor = staff_actor(f"user:{principal.user_id}", principal.label)
        staff = self.tickets.staff
        async with self.store.unit() as uow:
            ticket = ticket_for(
                principal.subject,
                await uow.tickets.by_number(number, for_update=True),
                await grid_tree_of(uow, principal.subject.grid_id),
                action,
            )
            before = {
                "status": ticket.status,
                "category": ticket.category,
                "assignee_id": ticket.assignee_id,
            }
            try:
                if isinstance(body, ReassignIn):
                    worker = await uow.registry.worker(body.worker_id)
                    if worker is None:
                        raise InvalidInput(f"没有编号为 {body.worker_id} 的网格员")
                    await staff.reassign(uow, ticket, worker, actor, reason=body.reason)
                    summary = f"转派给 {worker.name}"
                elif isinstance(body, CategoryIn):
                    await staff.recategorize(uow, ticket, body.category, actor, note=body.note)
                    summary = f"类别 {before['category']} → {body.category}"
                elif isinstance(body, NoteIn):
                    await staff.add_note(
                        uow, ticket, body.note, actor, tell_resident=body.tell_resident
                    )
                    summary = "添加备注" + ("（已告知居民）" if body.tell_resident else "")
                else:
                    await staff.close(
                        uow, ticket, actor, reason=body.reason, withdraw_unaccepted=True
                    )
                    summary = f"关闭工单：{body.reason[:100]}"
            except (InvalidTransition, PermissionDenied) as e:
                raise _refusal(e) from e
            await audit_service.record(
                uow,
                principal,
                f"ticket.{action.value}",
                now=now,
                target_type="ticket",
                target_id=ticket.number,
                summary=summary,
                before=before,
                after={
                    "status": ticket.status,
                    "category": ticket.category,
                    "assignee_id": ticket.assignee_id,
                },
                ip=ip,
            )
            queued = uow.queued > 0
        if queued:
            self.kick()
        return await self.detail(principal, number)

    async def export_csv(self, principal: Principal, query: TicketQuery) -> str:
        """The filtered list as CSV (UTF-8 with BOM, formulas defused, up to 20,000 rows)."""
        now = self.clock.now()
        async with self.store.unit() as uow:
            tree = await grid_tree_of(uow, principal.subject.grid_id, query.grid)
            f = build_filter(principal, query, grids=tree, now=now, targets=self.targets)
            # no total is shown: a full export is counted at most to its own end
            found = await uow.ticket_queries.page(f, limit=EXPORT_LIMIT, count_up_to=0)
            rows = found.rows
            names = await names_for(uow, rows)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([label for _, label in CSV_COLUMNS])
        for ticket in rows:
            data = ticket_json(ticket, names, now=now, targets=self.targets)
            values = {
                **data,
                "priority": PRIORITY_LABELS.get(ticket.priority, ticket.priority),
                "community": names.community(ticket.community_id),
                "grid": names.grid(ticket.grid_id),
                "assignee": names.worker(ticket.assignee_id),
                "overdue": {"accept": "超时未接单", "resolve": "超时未办结"}.get(
                    str(data["overdue"]), ""
                ),
                "description": ticket.description,
            }
            for key in ("created_at", "accepted_at", "resolved_at", "closed_at"):
                values[key] = _local(getattr(ticket, key))
            writer.writerow([_cell(values.get(key)) for key, _ in CSV_COLUMNS])
        return "\ufeff" + buffer.getvalue()  # BOM: spreadsheet programs then read UTF-8
