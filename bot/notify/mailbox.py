"""Notifier for the web chat and the terminal chat: pushes land in the user's mailbox."""

from __future__ import annotations

from handlers.messages import Outbound
from handlers.ports import Clock, DeliveryResult, Recipient
from handlers.service import outbound_to_dict
from storage.errors import StorageError
from storage.interfaces import Store


class MailboxNotifier:
    """Delivers into the Mailbox table; GET /api/v1/messages (or `minhu chat`) drains it."""

    def __init__(self, channel: str, store: Store, clock: Clock) -> None:
        self.channel = channel
        self.store = store
        self.clock = clock

    async def send(self, recipient: Recipient, message: Outbound, *, key: str) -> DeliveryResult:
        outbox_id = int(key.removeprefix("outbox:")) if key.startswith("outbox:") else None
        try:
            async with self.store.unit() as uow:
                await uow.mailbox.deliver(
                    recipient.channel,
                    recipient.user_id,
                    outbound_to_dict(message),
                    outbox_id=outbox_id,
                    now=self.clock.now(),
                )
        except StorageError as e:
            return DeliveryResult(ok=False, retry=True, detail=f"mailbox: {e}")
        return DeliveryResult(ok=True)
