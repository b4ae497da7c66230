"""Messages in and out: inbound messages, the outbox, web/CLI mailboxes and uploaded
attachments.

SQL over one AsyncSession, the same on SQLite and PostgreSQL (see storage/repositories.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.errors import NotFound, StorageError
from storage.interfaces import NewInbound
from storage.models import (
    Attachment,
    InboundMessage,
    Mailbox,
    Outbox,
)
from storage.objects import ObjectStore
from storage.sql_common import insert_of, table_of


class SqlInbound:
    """The inbound log: every message is stored before it is processed."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def anonymise_before(self, cutoff: datetime) -> int:
        """Retention: drop what was said, and by whom, from messages received before ``cutoff``
        (the row stays, so the dedupe key and the statistics of intents survive)."""
        table = table_of(InboundMessage)
        result = await self.s.execute(
            sa.update(table)
            .where(table.c.received_at < cutoff, table.c.user_id != PURGED)
            .values(user_id=PURGED, payload={"purged": True}, replies=[], error="")
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def record(
        self,
        channel: str,
        message_id: str,
        user_id: str,
        payload: dict[str, Any],
        *,
        now: datetime,
    ) -> tuple[InboundMessage, bool]:
        """Insert unless (channel, message_id) exists. Returns the row and whether it is new."""
        stmt = (
            insert_of(self.s, InboundMessage)
            .values(
                channel=channel,
                message_id=message_id,
                user_id=user_id,
                payload=payload,
                status="received",
                replies=[],
                received_at=now,
            )
            .on_conflict_do_nothing(index_elements=["channel", "message_id"])
            .returning(table_of(InboundMessage).c.id)
        )
        new_id = (await self.s.execute(stmt)).scalar_one_or_none()
        if new_id is not None:
            # new (the usual case): the row is exactly what was inserted, no second round trip
            row = InboundMessage(
                id=new_id,
                channel=channel,
                message_id=message_id,
                user_id=user_id,
                payload=payload,
                status="received",
                replies=[],
                received_at=now,
            )
            return row, True
        existing = await self.by_message_id(channel, message_id)
        if existing is None:  # pragma: no cover - the conflict means it exists
            raise StorageError("inbound message vanished after insert")
        return existing, False

    async def record_many(
        self, messages: Sequence[NewInbound], *, now: datetime
    ) -> list[tuple[InboundMessage, bool]]:
        """`record` for many: one multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (a
        burst of arrivals costs one round trip, not one each), then one SELECT of the rows that
        existed already (platform retries), if any."""
        if not messages:
            return []
        table = table_of(InboundMessage)
        first: dict[tuple[str, str], NewInbound] = {}
        for m in messages:  # the same key twice in one call: the first one is the message
            first.setdefault((m.channel, m.message_id), m)
        values = [
            {
                "channel": m.channel,
                "message_id": m.message_id,
                "user_id": m.user_id,
                "payload": m.payload,
                "status": "received",
                "replies": [],
                "received_at": now,
            }
            for m in first.values()
        ]
        stmt = (
            insert_of(self.s, InboundMessage)
            .values(values)
            .on_conflict_do_nothing(index_elements=["channel", "message_id"])
            .returning(table.c.id, table.c.channel, table.c.message_id)
        )
        # RETURNING's row order is not promised to follow VALUES: match rows by key
        inserted = {(c, k): int(i) for i, c, k in (await self.s.execute(stmt)).all()}
        existing: dict[tuple[str, str], InboundMessage] = {}
        missing = [key for key in first if key not in inserted]
        if missing:
            query = select(InboundMessage).where(
                sa.tuple_(col(InboundMessage.channel), col(InboundMessage.message_id)).in_(missing)
            )
            rows = await self.s.exec(query.execution_options(populate_existing=True))
            existing = {(r.channel, r.message_id): r for r in rows.all()}
        results: list[tuple[InboundMessage, bool]] = []
        claimed: set[tuple[str, str]] = set()
        for m in messages:
            key = (m.channel, m.message_id)
            if key in inserted and key not in claimed:
                claimed.add(key)  # new once; a repeat in the same call is its duplicate
                row = InboundMessage(
                    id=inserted[key],
                    channel=m.channel,
                    message_id=m.message_id,
                    user_id=m.user_id,
                    payload=m.payload,
                    status="received",
                    replies=[],
                    received_at=now,
                )
                results.append((row, True))
            elif key in inserted:
                results.append((await self._row(inserted[key]), False))
            elif key in existing:
                results.append((existing[key], False))
            else:  # pragma: no cover - the conflict means it exists
                raise StorageError("inbound message vanished after insert")
        return results

    async def _row(self, inbound_id: int) -> InboundMessage:
        row = await self.s.get(InboundMessage, inbound_id)
        if row is None:  # pragma: no cover - inserted in this transaction
            raise StorageError("inbound message vanished after insert")
        return row

    async def get(self, inbound_id: int) -> InboundMessage | None:
        return await self.s.get(InboundMessage, inbound_id)

    async def by_message_id(self, channel: str, message_id: str) -> InboundMessage | None:
        query = select(InboundMessage).where(
            InboundMessage.channel == channel, InboundMessage.message_id == message_id
        )
        return (await self.s.exec(query.execution_options(populate_existing=True))).first()

    async def update(
        self,
        inbound_id: int,
        *,
        status: str,
        now: datetime,
        replies: list[dict[str, Any]] | None = None,
        intent: str | None = None,
        confidence: float | None = None,
        error: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status}
        if status in ("done", "failed"):
            values["processed_at"] = now
        if replies is not None:
            values["replies"] = replies
        if intent is not None:
            values["intent"] = intent
        if confidence is not None:
            values["confidence"] = confidence
        if error is not None:
            values["error"] = error[:4000]
        # one UPDATE by primary key instead of load-then-flush (the message path's hot write)
        table = table_of(InboundMessage)
        stmt = sa.update(table).where(table.c.id == inbound_id).values(**values)
        result = await self.s.execute(stmt.execution_options(synchronize_session=False))
        if getattr(result, "rowcount", 1) == 0:
            raise NotFound(f"inbound message {inbound_id}")

    async def recent_for_user(
        self, channel: str, user_id: str, *, limit: int = 20
    ) -> Sequence[InboundMessage]:
        query = (
            select(InboundMessage)
            .where(InboundMessage.channel == channel, InboundMessage.user_id == user_id)
            .order_by(col(InboundMessage.id).desc())
            .limit(limit)
        )
        return (await self.s.exec(query)).all()

    async def with_status(self, status: str, *, limit: int = 100) -> Sequence[InboundMessage]:
        query = (
            select(InboundMessage)
            .where(InboundMessage.status == status)
            .order_by(col(InboundMessage.id))
            .limit(limit)
        )
        return (await self.s.exec(query)).all()


class SqlOutbox:
    """Pushed messages waiting for delivery, claimed with a lease so no two senders race."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def enqueue(
        self,
        channel: str,
        recipient: str,
        payload: dict[str, Any],
        *,
        now: datetime,
        ticket_id: int | None = None,
        worker_id: int | None = None,
    ) -> Outbox:
        data = payload.get("data") if isinstance(payload, dict) else None
        urgent = isinstance(data, dict) and data.get("priority") == "urgent"
        item = Outbox(
            channel=channel,
            recipient=recipient,
            payload=payload,
            next_try_at=now,
            created_at=now,
            ticket_id=ticket_id,
            worker_id=worker_id,
            priority=1 if urgent else 0,
        )
        self.s.add(item)
        await self.s.flush()
        return item

    async def claim_due(self, now: datetime, *, limit: int, lease_seconds: float) -> list[Outbox]:
        """Claim up to `limit` due items for `lease_seconds`; each claim gets a fresh token.

        On PostgreSQL the candidate rows are locked with SKIP LOCKED so concurrent dispatchers
        in several processes take disjoint batches; SQLite serialises writers anyway.
        """
        token = secrets.token_hex(8)
        table = table_of(Outbox)
        earlier = table.alias("earlier")
        # per-recipient FIFO: an item waits while an older one for the same user is pending
        blocked = (
            sa.select(earlier.c.id)
            .where(
                earlier.c.channel == table.c.channel,
                earlier.c.recipient == table.c.recipient,
                earlier.c.status == "pending",
                earlier.c.id < table.c.id,
            )
            .exists()
        )
        candidates = (
            sa.select(table.c.id)
            .where(
                table.c.status == "pending",
                ~blocked,
                table.c.next_try_at <= now,
                sa.or_(
                    table.c.claimed_until.is_(None),
                    table.c.claimed_until < now,
                ),
            )
            # urgent (safety advice, urgent task cards) first
            .order_by(table.c.priority.desc(), table.c.next_try_at, table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            sa.update(table)
            .where(table.c.id.in_(candidates.scalar_subquery()))
            .values(
                claim_token=token,
                claimed_until=now + timedelta(seconds=lease_seconds),
            )
            .returning(table.c.id)
        )
        ids = [row[0] for row in (await self.s.execute(stmt)).all()]
        if not ids:
            return []
        query = (
            select(Outbox)
            .where(col(Outbox.id).in_(ids), Outbox.claim_token == token)
            .order_by(col(Outbox.priority).desc(), col(Outbox.id))
            .execution_options(populate_existing=True)
        )
        return list((await self.s.exec(query)).all())

    async def _claimed(self, item_id: int, token: str) -> Outbox:
        query = select(Outbox).where(Outbox.id == item_id, Outbox.claim_token == token)
        item = (await self.s.exec(query.execution_options(populate_existing=True))).first()
        if item is None:
            raise NotFound(f"outbox item {item_id} is no longer claimed by this sender")
        return item

    async def mark_sent(
        self, item_id: int, token: str, *, now: datetime, platform_message_id: str = ""
    ) -> None:
        item = await self._claimed(item_id, token)
        item.status = "sent"
        item.sent_at = now
        item.attempts += 1
        item.claimed_until = None
        item.platform_message_id = platform_message_id
        self.s.add(item)

    async def mark_retry(
        self, item_id: int, token: str, *, error: str, next_try_at: datetime
    ) -> Outbox:
        item = await self._claimed(item_id, token)
        item.attempts += 1
        item.last_error = error[:2000]
        item.next_try_at = next_try_at
        item.claimed_until = None
        self.s.add(item)
        return item

    async def release(self, item_id: int, token: str) -> None:
        """Give a claimed item back untouched (e.g. at shutdown)."""
        item = await self._claimed(item_id, token)
        item.claimed_until = None
        self.s.add(item)

    async def mark_dead(
        self, item_id: int, token: str, *, error: str, status: str = "dead", reason: str = "refused"
    ) -> None:
        item = await self._claimed(item_id, token)
        item.attempts += 1
        item.status = status
        item.dead_reason = reason if status == "dead" else ""
        item.last_error = error[:2000]
        item.claimed_until = None
        self.s.add(item)

    async def get(self, item_id: int) -> Outbox | None:
        return await self.s.get(Outbox, item_id)

    async def items(self, *, status: str | None = None, limit: int = 1000) -> Sequence[Outbox]:
        query = select(Outbox).order_by(col(Outbox.id)).limit(limit)
        if status is not None:
            query = query.where(Outbox.status == status)
        return (await self.s.exec(query)).all()

    async def next_due_at(self) -> datetime | None:
        query = select(sa.func.min(Outbox.next_try_at)).where(Outbox.status == "pending")
        value = (await self.s.exec(query)).first()
        return value


PURGED = "purged"


async def purge_messages_before(s: AsyncSession, cutoff: datetime) -> int:
    """Retention for what was sent: delivered/dead outbox rows are emptied, old mailbox rows
    (never fetched) deleted."""
    outbox = table_of(Outbox)
    sent = await s.execute(
        sa.update(outbox)
        .where(
            outbox.c.created_at < cutoff,
            outbox.c.status != "pending",
            outbox.c.recipient != PURGED,
        )
        .values(recipient=PURGED, payload={"purged": True}, last_error="")
    )
    mailbox = table_of(Mailbox)
    dropped = await s.execute(sa.delete(mailbox).where(mailbox.c.created_at < cutoff))
    return int(getattr(sent, "rowcount", 0) or 0) + int(getattr(dropped, "rowcount", 0) or 0)


class SqlMailbox:
    """Mailboxes of web/CLI users; delivery is idempotent per outbox item."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def purge_before(self, cutoff: datetime) -> int:
        """Retention: see ``purge_messages_before`` (outbox and mailbox together)."""
        return await purge_messages_before(self.s, cutoff)

    async def deliver(
        self,
        channel: str,
        user_id: str,
        payload: dict[str, Any],
        *,
        outbox_id: int | None,
        now: datetime,
    ) -> None:
        stmt = insert_of(self.s, Mailbox).values(
            channel=channel, user_id=user_id, payload=payload, outbox_id=outbox_id, created_at=now
        )
        if outbox_id is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["outbox_id"])
        await self.s.execute(stmt)

    async def drain(self, channel: str, user_id: str) -> list[dict[str, Any]]:
        """Remove and return everything waiting for a user, oldest first (each exactly once)."""
        table = table_of(Mailbox)
        stmt = (
            sa.delete(table)
            .where(table.c.channel == channel, table.c.user_id == user_id)
            .returning(table.c.id, table.c.payload)
        )
        rows = sorted((await self.s.execute(stmt)).all(), key=lambda row: row[0])
        return [dict(row[1]) for row in rows]


def photo_key(at: datetime, name: str | None = None) -> str:
    """``photos/2026/12/<random>``: unguessable, and listable by month for operators."""
    return f"photos/{at:%Y/%m}/{name or uuid.uuid4().hex}"


class SqlAttachments:
    """Photo records in the database, their bytes in the object store (never in a row)."""

    def __init__(self, session: AsyncSession, objects: ObjectStore | None) -> None:
        self.s = session
        self.objects = objects

    def _store(self) -> ObjectStore:
        if self.objects is None:
            # no silent fallback to the database: the caller's wiring forgot the store
            raise StorageError("no object store configured for photos")
        return self.objects

    async def purge_before(self, cutoff: datetime) -> int:
        """Retention: delete the bytes (and file names) of photos stored before ``cutoff``."""
        table = table_of(Attachment)
        old = sa.and_(table.c.created_at < cutoff, table.c.size > 0)
        keys = (
            await self.s.execute(sa.select(table.c.object_key).where(old, table.c.object_key != ""))
        ).scalars()
        for key in keys:
            await asyncio.to_thread(self._store().delete, key)
        result = await self.s.execute(
            sa.update(table)
            .where(old)
            .values(content=b"", object_key="", filename="", size=0, uploaded_by=PURGED)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def add(
        self,
        content: bytes,
        *,
        kind: str,
        mime: str,
        channel: str,
        uploaded_by: str,
        filename: str = "",
        ticket_id: int | None = None,
        now: datetime,
    ) -> Attachment:
        # The bytes go first: a row never names an object that is not there. A transaction
        # that rolls back afterwards leaves an unreferenced object (harmless, never served).
        key = photo_key(now)
        await asyncio.to_thread(self._store().put, key, content, mime)
        item = Attachment(
            kind=kind,
            mime=mime,
            filename=filename,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            object_key=key,
            channel=channel,
            uploaded_by=uploaded_by,
            ticket_id=ticket_id,
            created_at=now,
        )
        self.s.add(item)
        await self.s.flush()
        return item

    async def content(self, item: Attachment) -> bytes:
        """The photo's bytes (empty after retention purged them).

        Raises:
            StorageError: the object store failed or lost the object.
        """
        if item.object_key:
            return await asyncio.to_thread(self._store().get, item.object_key)
        return item.content  # a row from before 0016 not moved yet

    async def move_to_objects(self, *, limit: int = 100) -> int:
        """Move up to ``limit`` photos still stored in rows to the object store."""
        rows = (
            await self.s.exec(
                select(Attachment)
                .where(Attachment.object_key == "", Attachment.size > 0)
                .order_by(col(Attachment.id))
                .limit(limit)
            )
        ).all()
        for item in rows:
            key = photo_key(item.created_at, f"a{item.id}")
            await asyncio.to_thread(self._store().put, key, item.content, item.mime)
            item.object_key, item.content = key, b""
            self.s.add(item)
        await self.s.flush()
        return len(rows)

    async def get(self, attachment_id: int) -> Attachment | None:
        return await self.s.get(Attachment, attachment_id)

    async def attach(self, attachment_ids: Iterable[int], ticket_id: int) -> None:
        ids = list(attachment_ids)
        if not ids:
            return
        table = table_of(Attachment)
        # a photo already on a ticket stays there: a ref replayed by someone else never moves it
        await self.s.execute(
            sa.update(table)
            .where(table.c.id.in_(ids), table.c.ticket_id.is_(None))
            .values(ticket_id=ticket_id)
        )

    async def for_ticket(self, ticket_id: int) -> Sequence[Attachment]:
        query = (
            select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(col(Attachment.id))
        )
        return (await self.s.exec(query)).all()
