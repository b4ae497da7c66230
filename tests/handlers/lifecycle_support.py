"""Helpers for the lifecycle tests: a demo community in a store, tickets filed without a
conversation, and what the outbox holds for someone."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from bot.demo import load_demo
from handlers.lifecycle import Actor
from handlers.sla_service import SlaSweeper
from handlers.ticket_service import LifecycleConfig, TicketService
from storage.interfaces import Store
from storage.models import Ticket
from tests.factories import FakeClock


@dataclass
class Desk:
    """A demo community with its ticket service and SLA sweeper on one store."""

    store: Store
    clock: FakeClock
    tickets: TicketService
    sweeper: SlaSweeper


async def desk(
    store: Store, clock: FakeClock | None = None, config: LifecycleConfig | None = None
) -> Desk:
    await load_demo(store)
    clock = clock or FakeClock()
    tickets = TicketService(store=store, clock=clock, config=config)
    return Desk(store, clock, tickets, SlaSweeper(store, tickets, clock, batch=7))


async def file_ticket(
    d: Desk,
    *,
    building: str = "3幢",
    category: str = "elevator",
    priority: str = "urgent",
    user: str = "resident-1",
    description: str = "3幢电梯困人了",
) -> str:
    """File a ticket the way the conversation service does, minus the conversation."""
    async with d.store.unit() as uow:
        resident, _ = await uow.registry.ensure_resident("web", user)
        [row] = [b for b in await uow.registry.buildings() if b.name == building]
        now = d.clock.now()
        ticket = Ticket(
            number=await uow.tickets.next_number(now.strftime("%Y%m%d")),
            community_id=row.community_id,
            category=category,
            priority=priority,
            description=description,
            building_id=row.id,
            building_name=row.name,
            grid_id=row.grid_id,
            resident_id=resident.id,
            channel="web",
            channel_user_id=user,
            created_at=now,
            updated_at=now,
        )
        await d.tickets.file(uow, ticket, actor=Actor.resident(resident.id))
        return ticket.number


async def outbox_texts(store: Store, recipient: str) -> list[str]:
    async with store.unit() as uow:
        items = await uow.outbox.items(limit=100_000)
    return [str(i.payload.get("text", "")) for i in items if i.recipient == recipient]


async def events_of(store: Store, number: str) -> list[Any]:
    async with store.unit() as uow:
        ticket = await uow.tickets.by_number(number)
        assert ticket is not None
        return list(await uow.tickets.events(ticket.id or 0))


async def escalations_per_ticket(store: Store) -> Counter[int]:
    """How many SLA escalation events each ticket has (the exactly-once proof)."""
    async with store.unit() as uow:
        tickets = await uow.tickets.search(limit=100_000)
        found = await uow.finder.events_for([t.id or 0 for t in tickets], ["escalate"])
    return Counter({tid: len(events) for tid, events in found.items()})
