"""Retention (I/O): what residents sent is anonymised after N days (default 180).

Inbound messages lose their text, replies and sender; sent messages (outbox, web mailboxes)
are emptied; photos lose their bytes. Tickets stay: they are the community's case record,
and their public face is already masked (handlers/open311.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.interfaces import Store


@dataclass(frozen=True, slots=True)
class PurgeReport:
    cutoff: datetime
    messages: int
    sent: int
    photos: int

    def text(self) -> str:
        return (
            f"已匿名化 {self.cutoff:%Y-%m-%d} 之前的数据：收到的消息 {self.messages} 条，"
            f"发出的消息 {self.sent} 条，照片 {self.photos} 张\n"
            f"anonymised data before {self.cutoff:%Y-%m-%d}: {self.messages} inbound messages, "
            f"{self.sent} sent messages, {self.photos} photos"
        )


async def purge(store: Store, *, now: datetime, days: int) -> PurgeReport:
    """Anonymise everything older than ``days`` days, in one transaction.

    Raises:
        ValueError: ``days`` is below 1.
        StorageError: the database failed (nothing is changed).
    """
    if days < 1:
        raise ValueError("retention must be at least 1 day")
    cutoff = now - timedelta(days=days)
    async with store.unit() as uow:
        messages = await uow.inbound.anonymise_before(cutoff)
        sent = await uow.mailbox.purge_before(cutoff)
        photos = await uow.attachments.purge_before(cutoff)
    return PurgeReport(cutoff, messages, sent, photos)
