"""The street level for the console and the API (I/O): refer a ticket to the street, send it
back, forward it to 12345, list and export the 12345 hand-offs, take 12345's callbacks, and
the streets a principal may look at.

Every call is one transaction, checked against ``handlers.permissions`` and audited. A
ticket outside the caller's area is "not found" like everywhere else; a street outside it is
refused (403).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from handlers import audit_service
from handlers.accounts import Principal
from handlers.city_orders import orders_csv
from handlers.errors import Conflict, InvalidTransition, NotAllowed, NotFound, PermissionDenied
from handlers.guards import ticket_for
from handlers.lifecycle import Actor
from handlers.permissions import Action, Role, communities_for
from handlers.ports import Clock
from handlers.ticket_service import TicketService
from handlers.tickets.access import grid_tree
from handlers.tickets.staff import staff_actor
from handlers.tickets.street import NoStreet
from storage.interfaces import Store, UnitOfWork
from storage.models import CityOrder, Street, Ticket

ORDER_STATUS = {
    "queued": "待发送",
    "export": "待导出录入",
    "acknowledged": "12345已受理",
    "replied": "12345已答复",
    "closed": "12345已办结",
    "failed": "发送失败",
}


class ReferIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="why the community cannot")


class SendBackIn(BaseModel):
    instruction: str = Field(min_length=1, max_length=2000, description="what the street asks")


class ForwardIn(BaseModel):
    note: str = Field(default="", max_length=2000, description="the street's note to 12345")
    share_contact: bool = Field(
        default=False,
        description="the resident agreed that 12345 may have their phone and room",
    )


class CityCallbackIn(BaseModel):
    """What 12345 posts back: a reply on, or the closure of, a work order."""

    order_no: str = Field(min_length=1, max_length=64)
    type: Literal["reply", "close"]
    text: str = Field(min_length=1, max_length=4000)
    external_id: str = Field(default="", max_length=100)


def order_out(order: CityOrder, number: str) -> dict[str, Any]:
    return {
        "id": order.id,
        "ticket_number": number,
        "status": order.status,
        "status_label": ORDER_STATUS.get(order.status, order.status),
        "order_no": order.order_no,
        "contact_shared": order.contact_shared,
        "created_by": order.created_by,
        "created_at": order.created_at.isoformat(),
        "acknowledged_at": order.acknowledged_at.isoformat() if order.acknowledged_at else None,
        "closed_at": order.closed_at.isoformat() if order.closed_at else None,
        "last_reply": order.last_reply,
        "payload": order.payload,
    }


class StreetDesk:
    """The street level by ticket number and by street.

    Args:
        store: units of work over the database.
        clock: the time source.
        tickets: the ticket service (its ``street`` concern makes the moves).
        kick: wakes the outbox dispatcher after a commit that queued messages.
        photo_url: a signed link to a photo (goes into the 12345 work order).
        deliver: a 12345 webhook is configured (otherwise hand-offs wait for export).
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        tickets: TicketService,
        kick: Callable[[], None],
        photo_url: Callable[[int], str],
        *,
        deliver: bool,
    ) -> None:
        self.store = store
        self.clock = clock
        self.tickets = tickets
        self.kick = kick
        self.photo_url = photo_url
        self.deliver = deliver

    async def _act(
        self,
        p: Principal,
        number: str,
        action: Action,
        what: str,
        change: Callable[[UnitOfWork, Ticket], Any],
        ip: str,
    ) -> Any:
        async with self.store.unit() as uow:
            found = await uow.tickets.by_number(number.upper(), for_update=True)
            ticket = ticket_for(p.subject, found, await grid_tree(uow), action)
            try:
                result, summary = await change(uow, ticket)
            except NoStreet as e:
                raise Conflict(
                    "本社区没有登记所属街道或街道工作人员，无法上报街道", detail=str(e)
                ) from e
            except (InvalidTransition, PermissionDenied) as e:
                raise Conflict("当前状态下不能执行该操作", detail=str(e)) from e
            await audit_service.record(
                uow,
                p,
                f"ticket.{what}",
                now=self.clock.now(),
                target_type="ticket",
                target_id=ticket.number,
                summary=summary,
                ip=ip,
            )
            queued = uow.queued > 0
        if queued:
            self.kick()
        return result

    async def refer(self, p: Principal, number: str, body: ReferIn, *, ip: str = "") -> str:
        """The community refers the ticket to its street (上报街道); returns what was done."""
        actor = staff_actor(f"user:{p.user_id}", p.label)

        async def change(uow: UnitOfWork, ticket: Ticket) -> tuple[str, str]:
            targets = await self.tickets.street.refer(uow, ticket, actor, reason=body.reason)
            done = "已上报街道：" + "、".join(w.name for w in targets)
            return done, done

        result: str = await self._act(p, number, Action.ESCALATE, "refer_street", change, ip)
        return result

    async def send_back(self, p: Principal, number: str, body: SendBackIn, *, ip: str = "") -> str:
        """The street returns the ticket to the community with an instruction (退回社区)."""
        actor = staff_actor(f"user:{p.user_id}", p.label)

        async def change(uow: UnitOfWork, ticket: Ticket) -> tuple[str, str]:
            told = await self.tickets.street.send_back(
                uow, ticket, actor, instruction=body.instruction
            )
            done = f"已退回社区（通知{len(told)}人）：{body.instruction[:100]}"
            return done, done

        result: str = await self._act(p, number, Action.SEND_BACK, "send_back", change, ip)
        return result

    async def forward(
        self, p: Principal, number: str, body: ForwardIn, *, ip: str = ""
    ) -> dict[str, Any]:
        """The street hands the ticket to 12345; returns the hand-off record."""
        actor = staff_actor(f"user:{p.user_id}", p.label)

        async def change(uow: UnitOfWork, ticket: Ticket) -> tuple[dict[str, Any], str]:
            order = await self.tickets.street.forward(
                uow,
                ticket,
                actor,
                note=body.note,
                share_contact=body.share_contact,
                photo_url=self.photo_url,
                deliver=self.deliver,
            )
            consent = "含居民联系方式（已同意）" if body.share_contact else "未含居民联系方式"
            return order_out(order, ticket.number), f"转12345（{consent}）"

        result: dict[str, Any] = await self._act(
            p, number, Action.FORWARD_CITY, "forward_city", change, ip
        )
        return result

    async def orders(
        self, p: Principal, *, street_id: int | None = None, number: str = ""
    ) -> list[dict[str, Any]]:
        """The 12345 hand-offs the principal may see (newest first), of one street or ticket."""
        async with self.store.unit() as uow:
            ids = await self.scope(uow, p, street_id)
            rows = await uow.streets.orders(community_ids=ids)
            out = []
            for order in rows:
                ticket = await uow.tickets.get(order.ticket_id)
                if ticket is None or (number and ticket.number != number.upper()):
                    continue
                out.append(order_out(order, ticket.number))
            return out

    async def orders_csv(self, p: Principal, *, street_id: int | None = None) -> str:
        return orders_csv(await self.orders(p, street_id=street_id))

    async def scope(
        self, uow: UnitOfWork, p: Principal, street_id: int | None
    ) -> tuple[int, ...] | None:
        """The communities the principal sees, narrowed to one street (None: everywhere).

        Raises:
            NotFound: no such street.
            NotAllowed: the street is outside the principal's area.
        """
        visible = communities_for(p.subject, Action.VIEW)
        if street_id is None:
            return visible
        street = await uow.streets.get(street_id)
        if street is None:
            raise NotFound(f"没有编号为 {street_id} 的街道")
        ids = tuple(c.id for c in await uow.streets.communities(street_id) if c.id is not None)
        if visible is None:
            return ids
        if p.subject.role == Role.STREET_STAFF and p.subject.street_id != street_id:
            raise NotAllowed("只能查看本街道的数据")
        inside = tuple(i for i in ids if i in visible)
        if not inside:
            raise NotAllowed("只能查看本街道的数据")
        return inside

    async def streets(self, p: Principal) -> list[Street]:
        """The streets the principal may look at (admins: all)."""
        async with self.store.unit() as uow:
            visible = communities_for(p.subject, Action.VIEW)
            streets = list(await uow.streets.all())
            if visible is None:
                return streets
            mine = {
                c.street_id
                for c in await uow.registry.communities()
                if c.id in visible and c.street_id is not None
            }
            return [s for s in streets if s.id in mine]

    async def payload(self, order_id: int) -> dict[str, Any] | None:
        """The work order of a hand-off, as it goes to 12345."""
        async with self.store.unit() as uow:
            order = await uow.streets.order(order_id)
            return dict(order.payload) if order is not None else None

    async def acknowledged(self, order_id: int, order_no: str) -> bool:
        """12345 accepted a work order we sent (the notifier calls this); False if unknown."""
        async with self.store.unit() as uow:
            order = await uow.streets.order(order_id, for_update=True)
            if order is None:
                return False
            ticket = await uow.tickets.get(order.ticket_id)
            if ticket is None:
                return False
            await self.tickets.street.acknowledged(uow, order, ticket, order_no)
            queued = uow.queued > 0
        if queued:
            self.kick()
        return True

    async def failed(self, order_id: int, error: str) -> None:
        """12345 refused a work order for good: the order and the ticket's timeline say so."""
        async with self.store.unit() as uow:
            order = await uow.streets.order(order_id, for_update=True)
            ticket = await uow.tickets.get(order.ticket_id) if order else None
            if order is None or ticket is None:
                return
            order.status = "failed"
            order.last_reply = error[:2000]
            await uow.streets.add_order(order)
            await self.tickets.moves.event(
                uow,
                ticket,
                "city_failed",
                Actor.system("12345"),
                note=f"12345未受理：{error[:500]}（请导出后人工录入）",
                data={"order": order.id},
            )

    async def callback(self, body: CityCallbackIn) -> dict[str, str]:
        """A reply or closure from 12345 (the caller verified its signature)."""
        async with self.store.unit() as uow:
            order = await uow.streets.order_by_no(body.order_no, for_update=True)
            if order is None:
                raise NotFound(f"unknown 12345 work order {body.order_no}")
            ticket = await uow.tickets.get(order.ticket_id)
            if ticket is None:
                raise NotFound(f"unknown 12345 work order {body.order_no}")
            locked = await uow.tickets.by_number(ticket.number, for_update=True)
            outcome = await self.tickets.street.city_update(
                uow, order, locked or ticket, kind=body.type, text=body.text
            )
            queued = uow.queued > 0
        if queued:
            self.kick()
        return {"ticket": ticket.number, "outcome": outcome}


def street_names(streets: Sequence[Street]) -> dict[int, str]:
    return {s.id: s.name for s in streets if s.id is not None}
