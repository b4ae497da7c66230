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
    reason: str = ""  # Outbox.dead_reason: gave_up | window | unreachable | refused

    @property
    def reason_label(self) -> str:
        """Why it died, in the console's words, and whether the recipient's next message
        brings it back by itself (transient deaths do, refusals never)."""
        return DEAD_REASONS.get(self.reason, "未记录原因")


DEAD_REASONS = {
    "gave_up": "重试到期仍失败（对方下次发消息时自动补发）",
    "window": "微信48小时互动窗口已关闭（对方下次发消息时自动补发）",
    "unreachable": "对方已取关、拉黑或账号无效（不会自动补发）",
    "refused": "平台拒收（不会自动补发）",
}


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
            reason=r.dead_reason,
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
