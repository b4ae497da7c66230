"""The dead-letter view: outbox items given up after the delivery horizon, and sending again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handlers.accounts import Principal
from handlers.guards import require
from handlers.permissions import Action
from handlers.privacy import mask_id
from storage.interfaces import Store


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One undelivered message as staff see it (the recipient masked)."""

    id: int
    channel: str
    recipient: str
    text: str
    attempts: int
    error: str
    created_at: datetime
    ticket_id: int | None
    urgent: bool


async def dead_letters(store: Store, actor: Principal, *, limit: int = 200) -> list[DeadLetter]:
    """Items that were not delivered within the horizon, newest first (admins only)."""
    require(actor.subject, Action.MANAGE_DELIVERIES)
    async with store.unit() as uow:
        rows = await uow.recovery.dead_letters(limit=limit)
    return [
        DeadLetter(
            id=r.id or 0,
            channel=r.channel,
            recipient=mask_id(r.recipient),
            text=str(r.payload.get("text", ""))[:200],
            attempts=r.attempts,
            error=r.last_error[:300],
            created_at=r.created_at,
            ticket_id=r.ticket_id,
            urgent=r.priority > 0,
        )
        for r in rows
    ]


async def delivery_counts(store: Store) -> dict[str, int]:
    """Outbox items per status (pending, sent, dead, rerouted), for /metrics."""
    async with store.unit() as uow:
        return await uow.recovery.delivery_counts()


async def send_again(store: Store, actor: Principal, item_id: int, *, now: datetime) -> bool:
    """Put a dead letter back in the queue with a fresh horizon; False when it is not dead."""
    require(actor.subject, Action.MANAGE_DELIVERIES)
    async with store.unit() as uow:
        return await uow.recovery.requeue(item_id, now)
