"""The street level (I/O, in the caller's transaction): a community refers a ticket to its
street, the street sends it back down with an instruction or hands it to the city's 12345
hotline, and 12345's acknowledgement, replies and closure come back onto the ticket.

```mermaid
flowchart LR
    C[community] -- refer_street / SLA level 3 --> S[street staff]
    S -- send_back + instruction --> C
    S -- forward_city --> O[(CityOrder + outbox)] --> H[12345]
    H -- ack: work-order number --> O
    H -- callback: reply / close --> T[ticket: timeline, resident told]
```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from handlers.city_orders import HistoryItem, Place, work_order
from handlers.codec import outbound_to_dict
from handlers.errors import InvalidTransition
from handlers.i18n import t
from handlers.lifecycle import STREET_LEVEL, Actor, Move, is_open
from handlers.messages import Outbound
from handlers.notices import worker_notice
from handlers.ports import Clock
from handlers.routing import WorkerRef
from handlers.sla import escalation_targets
from handlers.tickets.common import load_snapshot
from handlers.tickets.moves import Moves
from handlers.tickets.notify import Notifications
from storage.interfaces import UnitOfWork
from storage.models import CityOrder, Ticket

CITY_CHANNEL = "12345"  # the outbox channel whose notifier POSTs work orders to 12345


class NoStreet(InvalidTransition):
    """The ticket's community has no street, or the street has no staff to refer it to."""


class StreetLevel:
    """Refer up, send back, forward to 12345, and what 12345 says back.

    Args:
        clock: the time source.
        moves: applies the moves.
        notify: task cards and notices.
    """

    def __init__(self, clock: Clock, moves: Moves, notify: Notifications) -> None:
        self.clock = clock
        self.moves = moves
        self.notify = notify

    async def street_staff(self, uow: UnitOfWork, ticket: Ticket) -> list[WorkerRef]:
        """The street staff of the ticket's community's street (on duty first)."""
        snap = await load_snapshot(uow)
        reached, targets = escalation_targets(
            STREET_LEVEL,
            grid_id=ticket.grid_id,
            community_id=ticket.community_id,
            grids=snap.grids,
            workers=snap.workers,
            street_of=snap.street_of,
        )
        return list(targets) if reached == STREET_LEVEL else []

    async def refer(
        self, uow: UnitOfWork, ticket: Ticket, actor: Actor, *, reason: str
    ) -> list[WorkerRef]:
        """The community refers an open ticket to its street (上报街道), whatever its status.

        Raises:
            InvalidTransition: closed, or already with the street or 12345.
            NoStreet: nobody at the street to take it.
        """
        if not is_open(ticket.status):
            raise InvalidTransition(f"{ticket.number} is {ticket.status}")
        if ticket.tier:
            raise InvalidTransition(f"{ticket.number} is already with the {ticket.tier}")
        targets = await self.street_staff(uow, ticket)
        if not targets:
            raise NoStreet(f"{ticket.number}: the community has no street staff to refer to")
        ticket.tier = "street"
        await self.moves.apply(
            uow,
            ticket,
            Move.REFER_STREET,
            actor,
            note=reason,
            data={
                "level": STREET_LEVEL,
                "to": [w.id for w in targets],
                "names": [w.name for w in targets],
            },
        )
        prefix = t(
            "supervisor.street_referred", number=ticket.number, actor=actor.name, note=reason
        )
        for target in targets:
            await self.notify.push_task(uow, target.id, ticket, prefix=prefix)
        await self.notify.push_resident(uow, ticket, "street_referred")
        return targets

    async def send_back(
        self, uow: UnitOfWork, ticket: Ticket, actor: Actor, *, instruction: str
    ) -> list[int]:
        """The street returns a referred ticket to the community (退回社区) with an instruction.

        The community's clocks start again from now; the assignee and the community's staff
        get the instruction. Returns the worker ids told.

        Raises:
            InvalidTransition: the ticket is not with the street.
        """
        if ticket.tier != "street":
            raise InvalidTransition(f"{ticket.number} is not with the street")
        ticket.tier = ""
        await self.moves.apply(uow, ticket, Move.SEND_BACK, actor, note=instruction)
        text = t("street.sent_back", number=ticket.number, actor=actor.name, note=instruction)
        told: list[int] = []
        if ticket.assignee_id is not None:
            await self.notify.push_to_worker(
                uow,
                ticket.assignee_id,
                worker_notice(
                    "street.sent_back",
                    ticket.number,
                    actor=actor.name,
                    note=instruction,
                    status=ticket.status,
                ),
                ticket,
            )
            told.append(ticket.assignee_id)
        staff = [
            w
            for w in await uow.registry.workers()
            if w.community_id == ticket.community_id
            and w.role == "community_staff"
            and w.active
            and w.id is not None
            and w.id not in told
        ]
        for worker in staff:
            await self.notify.push_task(uow, worker.id or 0, ticket, prefix=text)
            told.append(worker.id or 0)
        return told

    async def forward(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        actor: Actor,
        *,
        note: str,
        share_contact: bool,
        photo_url: Callable[[int], str],
        deliver: bool,
    ) -> CityOrder:
        """The street hands the ticket to 12345: a CityOrder with the work order, queued in the
        outbox (``deliver``: a 12345 webhook is configured; otherwise it waits for export).

        Raises:
            InvalidTransition: the ticket is not with the street (or is closed).
        """
        if ticket.tier != "street" or not is_open(ticket.status):
            raise InvalidTransition(f"{ticket.number} is not with the street")
        now = self.clock.now()
        community = (
            await uow.registry.community(ticket.community_id) if ticket.community_id else None
        )
        street = (
            await uow.streets.get(community.street_id)
            if community is not None and community.street_id is not None
            else None
        )
        place = Place(
            district=street.district if street else "",
            street=street.name if street else (community.street if community else ""),
            street_hotline=street.hotline if street else "",
            community=community.name if community else "",
            community_hotline=community.hotline if community else "",
        )
        attachments = [
            photo_url(a.id) for a in await uow.attachments.for_ticket(ticket.id or 0) if a.id
        ]
        history = [
            HistoryItem(e.at, e.kind, e.actor_name, e.note)
            for e in await uow.tickets.events(ticket.id or 0)
        ]
        order = await uow.streets.add_order(
            CityOrder(
                ticket_id=ticket.id or 0,
                street_id=street.id if street else None,
                contact_shared=share_contact,
                created_by=actor.name,
                created_at=now,
            )
        )
        order.payload = work_order(
            order_id=order.id or 0,
            number=ticket.number,
            category=ticket.category,
            priority=ticket.priority,
            description=ticket.description,
            building=ticket.building_name,
            unit=ticket.unit,
            room=ticket.room,
            location_note=ticket.location_note,
            contact_phone=ticket.contact_phone,
            reported_at=ticket.created_at,
            forwarded_at=now,
            place=place,
            share_contact=share_contact,
            attachments=attachments,
            history=history,
            note=note,
            forwarded_by=actor.name,
        )
        order.status = "queued" if deliver else "export"
        await uow.streets.add_order(order)
        ticket.tier = "city"
        await self.moves.apply(
            uow,
            ticket,
            Move.FORWARD_CITY,
            actor,
            note=note,
            data={"order": order.id, "contact_shared": share_contact, "delivered": deliver},
        )
        if deliver:
            await uow.outbox.enqueue(
                CITY_CHANNEL,
                str(order.id),
                outbound_to_dict(
                    Outbound(text=f"12345 work order {ticket.number}", kind="city_order")
                ),
                now=now,
                ticket_id=ticket.id,
            )
            uow.queued += 1
        return order

    async def acknowledged(
        self, uow: UnitOfWork, order: CityOrder, ticket: Ticket, order_no: str
    ) -> None:
        """12345 accepted the work order under ``order_no``: on the order, the timeline, and
        the resident is told the number."""
        if order.order_no == order_no and order.status != "queued":
            return  # a retried delivery acknowledged twice
        order.order_no = order_no
        order.status = "acknowledged"
        order.acknowledged_at = self.clock.now()
        await uow.streets.add_order(order)
        await self.moves.event(
            uow,
            ticket,
            "city_ack",
            Actor.system("12345"),
            note=f"12345已受理，工单号 {order_no}",
            data={"order": order.id, "order_no": order_no},
        )
        await self.notify.push_resident(uow, ticket, "city_forwarded", order=order_no)

    async def city_update(
        self, uow: UnitOfWork, order: CityOrder, ticket: Ticket, *, kind: str, text: str
    ) -> str:
        """12345 replied (``reply``) or closed its work order (``close``). Returns what was
        done: ``replied``, ``resolved`` or ``ignored`` (the ticket was already finished)."""
        actor = Actor.system("12345")
        order.last_reply = text
        if kind == "close":
            order.status = "closed"
            order.closed_at = self.clock.now()
        else:
            order.status = "replied"
        await uow.streets.add_order(order)
        if not is_open(ticket.status):
            await self.moves.event(
                uow, ticket, "city_reply", actor, note=text, data={"order_no": order.order_no}
            )
            return "ignored"
        data = {"order_no": order.order_no}
        if kind == "close":
            await self.moves.apply(uow, ticket, Move.CITY_RESOLVE, actor, note=text, data=data)
            await self.notify.push_resident(uow, ticket, "city_resolved", note=text)
            outcome = "resolved"
        else:
            await self.moves.apply(uow, ticket, Move.CITY_REPLY, actor, note=text, data=data)
            await self.notify.push_resident(uow, ticket, "city_reply", note=text)
            outcome = "replied"
        if ticket.assignee_id is not None:
            await self.notify.push_to_worker(
                uow,
                ticket.assignee_id,
                Outbound(text=t("worker.city_update", number=ticket.number, note=text)),
                ticket,
            )
        return outcome


def staff_names(targets: Sequence[WorkerRef]) -> str:
    return "、".join(w.name for w in targets)
