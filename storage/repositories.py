"""SQL repositories over one AsyncSession, grouped in a unit of work.

The same code runs on SQLite (embedded default) and PostgreSQL; the few statements that differ
(upserts, row claiming) pick the dialect's construct explicitly.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.admin_repositories import SqlAdmin, SqlNluData, SqlTicketQueries
from storage.db import Database
from storage.errors import DuplicateError, NotFound, StorageError
from storage.grid_repositories import SqlNotices
from storage.handoff_repository import SqlHandoffs
from storage.models import (
    AdminToken,
    AdminUser,
    Attachment,
    AuditLog,
    Building,
    ChannelIdentity,
    Community,
    Department,
    DepartmentContact,
    Grid,
    GridWorker,
    InboundMessage,
    Mailbox,
    Outbox,
    Resident,
    ReviewDecision,
    TaskCard,
    Ticket,
    TicketClock,
    TicketCounter,
    TicketEvent,
    TicketFollower,
    TicketParty,
    WorkerBindCode,
)

OPEN_STATUSES = (
    "submitted",
    "assigned",
    "accepted",
    "in_progress",
    "transferred",
    "escalated",
    "reopened",
)


def _table(model: type[SQLModel]) -> sa.Table:
    """The Core table of a SQLModel class (SQLModel's stubs do not declare ``__table__``)."""
    table: sa.Table = getattr(model, "__table__")  # noqa: B009
    return table


def _insert(session: AsyncSession, table: Any) -> Any:
    """A dialect-specific INSERT that supports ON CONFLICT (SQLite and PostgreSQL agree)."""
    name = session.bind.dialect.name if session.bind is not None else "sqlite"
    if name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class SqlRegistry:
    """Communities, grids, buildings, workers, residents and their channel identities."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def communities(self) -> Sequence[Community]:
        return (await self.s.exec(select(Community).order_by(col(Community.id)))).all()

    async def community(self, community_id: int) -> Community | None:
        return await self.s.get(Community, community_id)

    async def community_by_name(self, name: str) -> Community | None:
        return (await self.s.exec(select(Community).where(Community.name == name))).first()

    async def grids(self, community_id: int | None = None) -> Sequence[Grid]:
        query = select(Grid).order_by(col(Grid.id))
        if community_id is not None:
            query = query.where(Grid.community_id == community_id)
        return (await self.s.exec(query)).all()

    async def grid(self, grid_id: int) -> Grid | None:
        return await self.s.get(Grid, grid_id)

    async def buildings(self, community_id: int | None = None) -> Sequence[Building]:
        query = select(Building).order_by(col(Building.id))
        if community_id is not None:
            query = query.where(Building.community_id == community_id)
        return (await self.s.exec(query)).all()

    async def building(self, building_id: int) -> Building | None:
        return await self.s.get(Building, building_id)

    async def workers(self, community_id: int | None = None) -> Sequence[GridWorker]:
        query = select(GridWorker).order_by(col(GridWorker.id))
        if community_id is not None:
            query = query.where(GridWorker.community_id == community_id)
        return (await self.s.exec(query)).all()

    async def worker(self, worker_id: int) -> GridWorker | None:
        return await self.s.get(GridWorker, worker_id)

    async def identity(self, channel: str, user_id: str) -> ChannelIdentity | None:
        query = select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.user_id == user_id
        )
        return (await self.s.exec(query)).first()

    async def worker_identities(self, worker_id: int) -> Sequence[ChannelIdentity]:
        """A worker's channels, preferred first."""
        query = (
            select(ChannelIdentity)
            .where(ChannelIdentity.worker_id == worker_id)
            .order_by(col(ChannelIdentity.priority), col(ChannelIdentity.id))
        )
        return (await self.s.exec(query)).all()

    async def resident(self, resident_id: int) -> Resident | None:
        return await self.s.get(Resident, resident_id)

    async def ensure_resident(
        self, channel: str, user_id: str, *, locale: str = "zh", now: datetime | None = None
    ) -> tuple[Resident, ChannelIdentity]:
        """The resident behind a channel identity, created on first contact."""
        ident = await self.identity(channel, user_id)
        if ident is not None and ident.resident_id is not None:
            resident = await self.s.get(Resident, ident.resident_id)
            if resident is None:  # pragma: no cover - FK guarantees it
                raise NotFound(f"resident {ident.resident_id}")
            if now is not None:
                ident.last_inbound_at = now
                self.s.add(ident)
            return resident, ident
        resident = Resident(locale=locale)
        self.s.add(resident)
        await self.s.flush()
        if ident is None:
            ident = ChannelIdentity(channel=channel, user_id=user_id)
        ident.resident_id = resident.id
        ident.last_inbound_at = now
        self.s.add(ident)
        await self.s.flush()
        return resident, ident

    async def touch_identity(self, channel: str, user_id: str, now: datetime) -> None:
        ident = await self.identity(channel, user_id)
        if ident is not None:
            ident.last_inbound_at = now
            ident.reachable = True
            self.s.add(ident)

    async def set_reachable(self, channel: str, user_id: str, reachable: bool) -> None:
        ident = await self.identity(channel, user_id)
        if ident is not None:
            ident.reachable = reachable
            self.s.add(ident)

    async def bind_worker_identity(
        self, worker_id: int, channel: str, user_id: str, *, priority: int = 0
    ) -> ChannelIdentity:
        ident = await self.identity(channel, user_id)
        if ident is None:
            ident = ChannelIdentity(channel=channel, user_id=user_id)
        ident.worker_id = worker_id
        ident.priority = priority
        ident.reachable = True
        self.s.add(ident)
        await self.s.flush()
        return ident

    async def add(self, obj: Any) -> Any:
        """Add any registry row (community, grid, building, worker) and flush to get its id."""
        self.s.add(obj)
        try:
            await self.s.flush()
        except IntegrityError as e:
            raise DuplicateError(str(e.orig)) from e
        return obj

    async def save(self, obj: Any) -> None:
        self.s.add(obj)
        await self.s.flush()

    async def delete_all(self) -> None:
        """Remove every row (demo reset). Order respects foreign keys."""
        for table in (
            TaskCard,
            WorkerBindCode,
            TicketClock,
            TicketFollower,
            TicketParty,
            DepartmentContact,
            Department,
            # admin console rows point at communities and workers (storage/admin_repositories)
            ReviewDecision,
            AdminToken,
            AuditLog,
            AdminUser,
            Mailbox,
            Outbox,
            TicketEvent,
            Attachment,
            Ticket,
            TicketCounter,
            InboundMessage,
            ChannelIdentity,
            Resident,
            GridWorker,
            Building,
        ):
            await self.s.execute(sa.delete(table))
        # grids reference their parents: children first
        await self.s.execute(sa.delete(Grid).where(col(Grid.parent_id).is_not(None)))
        await self.s.execute(sa.delete(Grid))
        await self.s.execute(sa.delete(Community))


class SqlTickets:
    """Tickets, their numbers and their append-only events."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def next_number(self, day: str) -> str:
        """Allocate the next MH-YYYYMMDD-NNNN number atomically (safe across processes)."""
        stmt = _insert(self.s, TicketCounter).values(day=day, last=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day"], set_={"last": _table(TicketCounter).c.last + 1}
        ).returning(_table(TicketCounter).c.last)
        value = (await self.s.execute(stmt)).scalar_one()
        return f"MH-{day}-{value:04d}"

    async def add(self, ticket: Ticket) -> Ticket:
        self.s.add(ticket)
        await self.s.flush()
        return ticket

    async def save(self, ticket: Ticket) -> None:
        self.s.add(ticket)
        await self.s.flush()

    async def get(self, ticket_id: int) -> Ticket | None:
        return await self.s.get(Ticket, ticket_id)

    async def by_number(self, number: str, *, for_update: bool = False) -> Ticket | None:
        query = select(Ticket).where(Ticket.number == number.upper())
        if for_update:
            query = query.with_for_update()
        return (await self.s.exec(query)).first()

    async def lock(self, ticket_id: int) -> Ticket | None:
        """Re-read a ticket holding a row lock (PostgreSQL) until the transaction ends."""
        query = select(Ticket).where(Ticket.id == ticket_id).with_for_update()
        return (await self.s.exec(query.execution_options(populate_existing=True))).first()

    async def for_resident(
        self, resident_id: int, *, statuses: Iterable[str] | None = None, limit: int = 20
    ) -> Sequence[Ticket]:
        query = select(Ticket).where(Ticket.resident_id == resident_id)
        if statuses is not None:
            query = query.where(col(Ticket.status).in_(list(statuses)))
        query = query.order_by(col(Ticket.id).desc()).limit(limit)
        return (await self.s.exec(query)).all()

    async def for_worker(
        self, worker_id: int, *, statuses: Iterable[str] = OPEN_STATUSES
    ) -> Sequence[Ticket]:
        query = (
            select(Ticket)
            .where(Ticket.assignee_id == worker_id, col(Ticket.status).in_(list(statuses)))
            .order_by(col(Ticket.id))
        )
        return (await self.s.exec(query)).all()

    async def open_counts_by_worker(self) -> dict[int, int]:
        query = (
            select(Ticket.assignee_id, sa.func.count())
            .where(col(Ticket.status).in_(OPEN_STATUSES), col(Ticket.assignee_id).is_not(None))
            .group_by(col(Ticket.assignee_id))
        )
        rows = (await self.s.exec(query)).all()
        return {int(worker): int(count) for worker, count in rows if worker is not None}

    async def add_event(self, event: TicketEvent) -> TicketEvent:
        self.s.add(event)
        await self.s.flush()
        return event

    async def events(self, ticket_id: int) -> Sequence[TicketEvent]:
        query = (
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(col(TicketEvent.id))
        )
        return (await self.s.exec(query)).all()

    async def search(
        self,
        *,
        statuses: Iterable[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Ticket]:
        query = select(Ticket)
        if statuses is not None:
            query = query.where(col(Ticket.status).in_(list(statuses)))
        query = query.order_by(col(Ticket.id).desc()).offset(offset).limit(limit)
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
        table = _table(Outbox)
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
        self, item_id: int, token: str, *, error: str, status: str = "dead"
    ) -> None:
        item = await self._claimed(item_id, token)
        item.attempts += 1
        item.status = status
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


class SqlMailbox:
    """Mailboxes of web/CLI users; delivery is idempotent per outbox item."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def deliver(
        self,
        channel: str,
        user_id: str,
        payload: dict[str, Any],
        *,
        outbox_id: int | None,
        now: datetime,
    ) -> None:
        stmt = _insert(self.s, Mailbox).values(
            channel=channel, user_id=user_id, payload=payload, outbox_id=outbox_id, created_at=now
        )
        if outbox_id is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["outbox_id"])
        await self.s.execute(stmt)

    async def drain(self, channel: str, user_id: str) -> list[dict[str, Any]]:
        """Remove and return everything waiting for a user, oldest first (each exactly once)."""
        table = _table(Mailbox)
        stmt = (
            sa.delete(table)
            .where(table.c.channel == channel, table.c.user_id == user_id)
            .returning(table.c.id, table.c.payload)
        )
        rows = sorted((await self.s.execute(stmt)).all(), key=lambda row: row[0])
        return [dict(row[1]) for row in rows]


class SqlInbound:
    """The inbound log: every message is stored before it is processed."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

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
            _insert(self.s, InboundMessage)
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
            .returning(_table(InboundMessage).c.id)
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
        table = _table(InboundMessage)
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


class SqlAttachments:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

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
        item = Attachment(
            kind=kind,
            mime=mime,
            filename=filename,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            content=content,
            channel=channel,
            uploaded_by=uploaded_by,
            ticket_id=ticket_id,
            created_at=now,
        )
        self.s.add(item)
        await self.s.flush()
        return item

    async def get(self, attachment_id: int) -> Attachment | None:
        return await self.s.get(Attachment, attachment_id)

    async def attach(self, attachment_ids: Iterable[int], ticket_id: int) -> None:
        ids = list(attachment_ids)
        if not ids:
            return
        table = _table(Attachment)
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


# --- ticket lifecycle (issue 7): SLA clocks, followers, departments, queries ---------------------


class SqlClocks:
    """Durable SLA clocks; claimed with a lease and fired by a conditional update."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, clock: TicketClock) -> TicketClock:
        self.s.add(clock)
        await self.s.flush()
        return clock

    async def save(self, clock: TicketClock) -> None:
        self.s.add(clock)
        await self.s.flush()

    async def cancel(self, ticket_id: int, kinds: Iterable[str] | None, *, now: datetime) -> int:
        table = _table(TicketClock)
        stmt = sa.update(table).where(table.c.ticket_id == ticket_id, table.c.status == "pending")
        if kinds is not None:
            stmt = stmt.where(table.c.kind.in_(list(kinds)))
        result = await self.s.execute(
            stmt.values(status="cancelled", cancelled_at=now, claimed_until=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def for_ticket(
        self, ticket_id: int, *, status: str | None = None
    ) -> Sequence[TicketClock]:
        query = select(TicketClock).where(TicketClock.ticket_id == ticket_id)
        if status is not None:
            query = query.where(TicketClock.status == status)
        query = query.order_by(col(TicketClock.id)).execution_options(populate_existing=True)
        return (await self.s.exec(query)).all()

    async def pending_for_tickets(
        self, ticket_ids: Iterable[int], kind: str
    ) -> dict[int, TicketClock]:
        ids = list(ticket_ids)
        found: dict[int, TicketClock] = {}
        for start in range(0, len(ids), 500):
            query = (
                select(TicketClock)
                .where(
                    col(TicketClock.ticket_id).in_(ids[start : start + 500]),
                    TicketClock.kind == kind,
                    TicketClock.status == "pending",
                )
                .order_by(col(TicketClock.due_at))
            )
            for clock in (await self.s.exec(query)).all():
                found.setdefault(clock.ticket_id, clock)
        return found

    async def claim_due(
        self, now: datetime, *, limit: int, lease_seconds: float
    ) -> list[TicketClock]:
        """Lease due clocks; PostgreSQL hands concurrent claimers disjoint rows (SKIP LOCKED).

        SQLite has no row locks but runs one writer at a time: the UPDATE below is a single
        statement, so a second process sees the first one's lease and skips those rows.
        """
        token = secrets.token_hex(8)
        table = _table(TicketClock)
        candidates = (
            sa.select(table.c.id)
            .where(
                table.c.status == "pending",
                table.c.due_at <= now,
                sa.or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
            )
            .order_by(table.c.due_at, table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            sa.update(table)
            .where(table.c.id.in_(candidates.scalar_subquery()))
            .values(claim_token=token, claimed_until=now + timedelta(seconds=lease_seconds))
            .returning(table.c.id)
        )
        ids = [row[0] for row in (await self.s.execute(stmt)).all()]
        if not ids:
            return []
        query = (
            select(TicketClock)
            .where(col(TicketClock.id).in_(ids), TicketClock.claim_token == token)
            .order_by(col(TicketClock.due_at), col(TicketClock.id))
            .execution_options(populate_existing=True)
        )
        return list((await self.s.exec(query)).all())

    async def fire(self, clock_id: int, token: str, *, now: datetime) -> TicketClock | None:
        table = _table(TicketClock)
        stmt = (
            sa.update(table)
            .where(
                table.c.id == clock_id,
                table.c.status == "pending",
                table.c.claim_token == token,
            )
            .values(status="fired", fired_at=now, claimed_until=None, attempts=table.c.attempts + 1)
            .returning(table.c.id)
        )
        if (await self.s.execute(stmt)).scalar_one_or_none() is None:
            return None
        query = select(TicketClock).where(TicketClock.id == clock_id)
        return (await self.s.exec(query.execution_options(populate_existing=True))).first()

    async def settle_expired(
        self,
        clock_ids: Iterable[int],
        token: str,
        *,
        kinds: Iterable[str],
        now: datetime,
        outcome: str,
    ) -> list[int]:
        table = _table(TicketClock)
        stmt = (
            sa.update(table)
            .where(
                table.c.id.in_(list(clock_ids)),
                table.c.claim_token == token,
                table.c.status == "pending",
                table.c.kind.in_(list(kinds)),
                table.c.deadline_at <= now,
            )
            .values(
                status="fired",
                fired_at=now,
                claimed_until=None,
                attempts=table.c.attempts + 1,
                outcome=outcome[:200],
            )
            .returning(table.c.id)
        )
        return [row[0] for row in (await self.s.execute(stmt)).all()]

    async def retry(
        self, clock_id: int, token: str, *, error: str, retry_at: datetime, give_up: bool
    ) -> None:
        table = _table(TicketClock)
        values: dict[str, Any] = {
            "attempts": table.c.attempts + 1,
            "last_error": error[:2000],
            "claimed_until": None,
        }
        if give_up:
            values["status"] = "failed"
        else:
            values["due_at"] = retry_at
        await self.s.execute(
            sa.update(table)
            .where(
                table.c.id == clock_id,
                table.c.status == "pending",
                table.c.claim_token == token,
            )
            .values(**values)
        )

    async def counts(self) -> dict[str, int]:
        query = select(TicketClock.status, sa.func.count()).group_by(col(TicketClock.status))
        return {str(status): int(count) for status, count in (await self.s.exec(query)).all()}

    async def next_due_at(self) -> datetime | None:
        query = select(sa.func.min(TicketClock.due_at)).where(TicketClock.status == "pending")
        value: datetime | None = (await self.s.exec(query)).first()
        return value


class SqlFollowers:
    """Residents following tickets they did not report."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(
        self,
        ticket_id: int,
        channel: str,
        user_id: str,
        *,
        resident_id: int | None,
        via: str,
        now: datetime,
    ) -> bool:
        stmt = (
            _insert(self.s, TicketFollower)
            .values(
                ticket_id=ticket_id,
                channel=channel,
                user_id=user_id,
                resident_id=resident_id,
                via=via,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["ticket_id", "channel", "user_id"])
            .returning(_table(TicketFollower).c.id)
        )
        return (await self.s.execute(stmt)).scalar_one_or_none() is not None

    async def for_ticket(self, ticket_id: int) -> Sequence[TicketFollower]:
        query = (
            select(TicketFollower)
            .where(TicketFollower.ticket_id == ticket_id)
            .order_by(col(TicketFollower.id))
        )
        return (await self.s.exec(query)).all()

    async def followed_tickets(
        self, channel: str, user_id: str, *, statuses: Iterable[str] | None = None
    ) -> Sequence[Ticket]:
        query = (
            select(Ticket)
            .join(TicketFollower, col(TicketFollower.ticket_id) == col(Ticket.id))
            .where(TicketFollower.channel == channel, TicketFollower.user_id == user_id)
        )
        if statuses is not None:
            query = query.where(col(Ticket.status).in_(list(statuses)))
        return (await self.s.exec(query.order_by(col(Ticket.id).desc()).limit(20))).all()

    async def copy(self, from_ticket: int, to_ticket: int, *, via: str, now: datetime) -> int:
        added = 0
        for follower in await self.for_ticket(from_ticket):
            if await self.add(
                to_ticket,
                follower.channel,
                follower.user_id,
                resident_id=follower.resident_id,
                via=via,
                now=now,
            ):
                added += 1
        return added


class SqlDepartments:
    """Departments, their contacts and their part in tickets."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, department: Department) -> Department:
        self.s.add(department)
        try:
            await self.s.flush()
        except IntegrityError as e:
            raise DuplicateError(str(e.orig)) from e
        return department

    async def add_contact(self, contact: DepartmentContact) -> DepartmentContact:
        self.s.add(contact)
        try:
            await self.s.flush()
        except IntegrityError as e:
            raise DuplicateError(str(e.orig)) from e
        return contact

    async def get(self, department_id: int) -> Department | None:
        return await self.s.get(Department, department_id)

    async def for_community(
        self, community_id: int | None = None, *, active_only: bool = True
    ) -> Sequence[Department]:
        query = select(Department)
        if community_id is not None:
            query = query.where(
                sa.or_(
                    col(Department.community_id) == community_id,
                    col(Department.community_id).is_(None),
                )
            )
        if active_only:
            query = query.where(col(Department.active).is_(True))
        return (await self.s.exec(query.order_by(col(Department.id)))).all()

    async def contacts(self, department_id: int) -> Sequence[DepartmentContact]:
        query = (
            select(DepartmentContact)
            .where(DepartmentContact.department_id == department_id)
            .order_by(col(DepartmentContact.priority), col(DepartmentContact.id))
        )
        return (await self.s.exec(query)).all()

    async def by_contact(
        self, channel: str, user_id: str
    ) -> tuple[Department, DepartmentContact] | None:
        query = (
            select(Department, DepartmentContact)
            .join(DepartmentContact, col(DepartmentContact.department_id) == col(Department.id))
            .where(DepartmentContact.channel == channel, DepartmentContact.user_id == user_id)
        )
        row = (await self.s.exec(query)).first()
        if row is None:
            return None
        return row[0], row[1]

    async def add_party(
        self, ticket_id: int, department_id: int, *, role: str, added_by: str, now: datetime
    ) -> tuple[TicketParty, bool]:
        query = select(TicketParty).where(
            TicketParty.ticket_id == ticket_id, TicketParty.department_id == department_id
        )
        party = (await self.s.exec(query)).first()
        if party is not None:
            if role == "lead":
                party.role = "lead"
            party.status = "active"
            party.done_at = None
            self.s.add(party)
            await self.s.flush()
            return party, False
        party = TicketParty(
            ticket_id=ticket_id,
            department_id=department_id,
            role=role,
            added_by=added_by[:100],
            added_at=now,
        )
        self.s.add(party)
        await self.s.flush()
        return party, True

    async def parties(self, ticket_id: int) -> Sequence[TicketParty]:
        query = (
            select(TicketParty)
            .where(TicketParty.ticket_id == ticket_id)
            .order_by(col(TicketParty.id))
        )
        return (await self.s.exec(query)).all()

    async def save_party(self, party: TicketParty) -> None:
        self.s.add(party)
        await self.s.flush()

    async def active_tickets(
        self, department_id: int, *, statuses: Iterable[str]
    ) -> Sequence[Ticket]:
        query = (
            select(Ticket)
            .join(TicketParty, col(TicketParty.ticket_id) == col(Ticket.id))
            .where(
                TicketParty.department_id == department_id,
                TicketParty.status == "active",
                col(Ticket.status).in_(list(statuses)),
            )
            .order_by(col(Ticket.id))
        )
        return (await self.s.exec(query)).all()


class SqlTicketFinder:
    """Read queries over tickets: duplicates, supervisors' lists, Open311."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def open_similar(
        self,
        *,
        community_id: int | None,
        category: str,
        building_id: int | None,
        statuses: Iterable[str],
        limit: int = 200,
    ) -> Sequence[Ticket]:
        query = select(Ticket).where(
            Ticket.category == category, col(Ticket.status).in_(list(statuses))
        )
        if community_id is not None:
            query = query.where(Ticket.community_id == community_id)
        if building_id is not None:
            # the same building first; then those that can be compared by distance
            query = query.order_by(
                sa.case((col(Ticket.building_id) == building_id, 0), else_=1), col(Ticket.id)
            )
        else:
            query = query.order_by(col(Ticket.id))
        return (await self.s.exec(query.limit(limit))).all()

    async def requests(
        self,
        *,
        numbers: Sequence[str] | None = None,
        categories: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        statuses: Iterable[str] | None = None,
        limit: int = 1000,
    ) -> Sequence[Ticket]:
        query = select(Ticket)
        if numbers is not None:
            query = query.where(col(Ticket.number).in_([n.upper() for n in numbers]))
        else:
            if categories:
                query = query.where(col(Ticket.category).in_(list(categories)))
            if start is not None:
                query = query.where(col(Ticket.created_at) >= start)
            if end is not None:
                query = query.where(col(Ticket.created_at) <= end)
            if statuses is not None:
                query = query.where(col(Ticket.status).in_(list(statuses)))
        query = query.order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc()).limit(limit)
        return (await self.s.exec(query)).all()

    async def events_for(
        self, ticket_ids: Iterable[int], kinds: Iterable[str]
    ) -> dict[int, list[TicketEvent]]:
        ids, wanted = list(ticket_ids), list(kinds)
        found: dict[int, list[TicketEvent]] = {}
        for start in range(0, len(ids), 500):
            query = (
                select(TicketEvent)
                .where(
                    col(TicketEvent.ticket_id).in_(ids[start : start + 500]),
                    col(TicketEvent.kind).in_(wanted),
                )
                .order_by(col(TicketEvent.id))
            )
            for event in (await self.s.exec(query)).all():
                found.setdefault(event.ticket_id, []).append(event)
        return found

    async def escalated(self, community_id: int, *, statuses: Iterable[str]) -> Sequence[Ticket]:
        query = (
            select(Ticket)
            .where(Ticket.community_id == community_id, col(Ticket.status).in_(list(statuses)))
            .order_by(col(Ticket.id))
            .limit(100)
        )
        return (await self.s.exec(query)).all()


class SqlBindCodes:
    """One-time worker binding codes; single use is enforced by a conditional UPDATE."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(
        self,
        code_hash: str,
        worker_id: int,
        *,
        now: datetime,
        expires_at: datetime,
        created_by: str = "",
    ) -> WorkerBindCode:
        item = WorkerBindCode(
            code_hash=code_hash,
            worker_id=worker_id,
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
        )
        self.s.add(item)
        try:
            await self.s.flush()
        except IntegrityError as e:
            raise DuplicateError(str(e.orig)) from e
        return item

    async def by_hash(self, code_hash: str) -> WorkerBindCode | None:
        query = select(WorkerBindCode).where(WorkerBindCode.code_hash == code_hash)
        return (await self.s.exec(query.execution_options(populate_existing=True))).first()

    async def use(self, code_id: int, *, now: datetime, channel: str, user_id: str) -> bool:
        table = _table(WorkerBindCode)
        stmt = (
            sa.update(table)
            .where(table.c.id == code_id, table.c.used_at.is_(None), table.c.expires_at > now)
            .values(used_at=now, used_channel=channel, used_user_id=user_id)
            .returning(table.c.id)
        )
        return (await self.s.execute(stmt)).scalar_one_or_none() is not None


class SqlTaskCards:
    """Editable task cards: which platform message shows which ticket, and how fresh it is."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def record(self, card: TaskCard) -> None:
        values = card.model_dump(exclude={"id"})
        stmt = (
            _insert(self.s, TaskCard)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["channel", "recipient", "message_id"])
        )
        await self.s.execute(stmt)

    async def for_message(self, channel: str, recipient: str, message_id: str) -> TaskCard | None:
        query = select(TaskCard).where(
            TaskCard.channel == channel,
            TaskCard.recipient == recipient,
            TaskCard.message_id == message_id,
        )
        return (await self.s.exec(query)).first()

    async def stale(
        self,
        channel: str,
        *,
        since: datetime,
        recipient: str | None = None,
        limit: int = 50,
    ) -> list[tuple[TaskCard, Ticket, int]]:
        events = _table(TicketEvent)
        newest = (
            sa.select(sa.func.max(events.c.id))
            .where(events.c.ticket_id == TaskCard.ticket_id)
            .scalar_subquery()
        )
        query = (
            sa.select(TaskCard, Ticket, newest)
            .join(Ticket, col(Ticket.id) == col(TaskCard.ticket_id))
            .where(
                col(TaskCard.channel) == channel,
                col(TaskCard.created_at) >= since,
                newest > col(TaskCard.last_event_id),
            )
            .order_by(col(TaskCard.id))
            .limit(limit)
        )
        if recipient is not None:
            query = query.where(col(TaskCard.recipient) == recipient)
        rows = (await self.s.execute(query.execution_options(populate_existing=True))).all()
        return [(card, ticket, int(event_id)) for card, ticket, event_id in rows]

    async def rendered(
        self, card_id: int, *, previous_event_id: int, event_id: int, fingerprint: str
    ) -> bool:
        table = _table(TaskCard)
        stmt = (
            sa.update(table)
            .where(table.c.id == card_id, table.c.last_event_id == previous_event_id)
            .values(last_event_id=event_id, fingerprint=fingerprint)
            .returning(table.c.id)
        )
        return (await self.s.execute(stmt)).scalar_one_or_none() is not None


from storage.reliability import SqlRecovery  # noqa: E402 - beside its only user


class SqlUnitOfWork:
    """One transaction with every repository bound to it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.registry = SqlRegistry(session)
        self.tickets = SqlTickets(session)
        self.outbox = SqlOutbox(session)
        self.mailbox = SqlMailbox(session)
        self.inbound = SqlInbound(session)
        self.attachments = SqlAttachments(session)
        self.clocks = SqlClocks(session)
        self.followers = SqlFollowers(session)
        self.departments = SqlDepartments(session)
        self.finder = SqlTicketFinder(session)
        self.bind_codes = SqlBindCodes(session)
        self.cards = SqlTaskCards(session)
        # admin console (storage/admin_repositories.py)
        self.admin = SqlAdmin(session)
        self.nlu_data = SqlNluData(session)
        self.ticket_queries = SqlTicketQueries(session)
        # recovery and delivery bookkeeping (storage/reliability.py)
        self.recovery = SqlRecovery(session)
        self.handoffs = SqlHandoffs(session)
        self.notices = SqlNotices(session)  # the whole grid (storage/grid_repositories.py)
        self.queued = 0

    async def commit(self) -> None:
        try:
            await self.session.commit()
        except SQLAlchemyError as e:
            raise StorageError(f"commit failed: {e}") from e


class SqlStore:
    """Factory of units of work over a Database: `async with store.unit() as uow: ...`."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[SqlUnitOfWork]:
        """One transaction: commits when the block succeeds, rolls back when it raises.

        Driver errors leave storage/ only as StorageError.
        """
        try:
            async with self.database.session() as session:
                yield SqlUnitOfWork(session)
        except SQLAlchemyError as e:
            raise StorageError(f"database error: {e}") from e
