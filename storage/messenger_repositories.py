"""The messenger consoles: one-time worker binding codes and editable task cards.

SQL over one AsyncSession, the same on SQLite and PostgreSQL (see storage/repositories.py).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.errors import DuplicateError
from storage.models import (
    TaskCard,
    Ticket,
    TicketEvent,
    WorkerBindCode,
)
from storage.sql_common import insert_of, table_of


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
        table = table_of(WorkerBindCode)
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
            insert_of(self.s, TaskCard)
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
        events = table_of(TicketEvent)
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
        table = table_of(TaskCard)
        stmt = (
            sa.update(table)
            .where(table.c.id == card_id, table.c.last_event_id == previous_event_id)
            .values(last_event_id=event_id, fingerprint=fingerprint)
            .returning(table.c.id)
        )
        return (await self.s.execute(stmt)).scalar_one_or_none() is not None
