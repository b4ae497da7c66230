"""SQL repository of the whole grid (issue 14): notices, their audience and delivery.

Bound to the unit of work's session (``SqlUnitOfWork.notices``), so publishing a notice and
queuing its messages commit together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    ChannelIdentity,
    Hotspot,
    Notice,
    NoticeOptOut,
    Outbox,
    Resident,
    Ticket,
    TicketFollower,
)


class SqlNotices:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, notice: Notice) -> Notice:
        self.s.add(notice)
        await self.s.flush()
        return notice

    async def get(self, notice_id: int) -> Notice | None:
        return await self.s.get(Notice, notice_id)

    async def save(self, notice: Notice) -> None:
        self.s.add(notice)
        await self.s.flush()

    async def listed(
        self, *, community_ids: Sequence[int] | None, streets: Sequence[str] | None, limit: int
    ) -> Sequence[Notice]:
        query = select(Notice).order_by(col(Notice.created_at).desc(), col(Notice.id).desc())
        if community_ids is not None or streets is not None:
            clauses = []
            if community_ids:
                clauses.append(col(Notice.community_id).in_(list(community_ids)))
            if streets:
                clauses.append(col(Notice.street).in_(list(streets)))
            if not clauses:
                return []
            query = query.where(sa.or_(*clauses))
        return list((await self.s.exec(query.limit(limit))).all())

    async def live(self, now: datetime) -> Sequence[Notice]:
        query = select(Notice).where(
            Notice.status == "active",
            sa.or_(col(Notice.ends_at).is_(None), col(Notice.ends_at) > now),
        )
        return list((await self.s.exec(query.order_by(col(Notice.starts_at)))).all())

    async def residents(
        self, *, building_ids: Iterable[int] | None, community_ids: Iterable[int] | None
    ) -> Sequence[Resident]:
        query = select(Resident)
        if building_ids is not None:
            query = query.where(col(Resident.building_id).in_(list(building_ids)))
        elif community_ids is not None:
            query = query.where(col(Resident.community_id).in_(list(community_ids)))
        else:
            return []
        return list((await self.s.exec(query.order_by(col(Resident.id)))).all())

    async def identities(self, resident_ids: Iterable[int]) -> Sequence[ChannelIdentity]:
        ids = list(resident_ids)
        if not ids:
            return []
        query = (
            select(ChannelIdentity)
            .where(col(ChannelIdentity.resident_id).in_(ids))
            .order_by(col(ChannelIdentity.resident_id), col(ChannelIdentity.id))
        )
        return list((await self.s.exec(query)).all())

    async def opted_out(self, resident_ids: Iterable[int]) -> set[int]:
        ids = list(resident_ids)
        if not ids:
            return set()
        query = select(NoticeOptOut.resident_id).where(col(NoticeOptOut.resident_id).in_(ids))
        return set((await self.s.exec(query)).all())

    async def set_opt_out(self, resident_id: int, off: bool, *, now: datetime) -> None:
        row = await self.s.get(NoticeOptOut, resident_id)
        if off and row is None:
            self.s.add(NoticeOptOut(resident_id=resident_id, at=now))
        elif not off and row is not None:
            await self.s.delete(row)
        await self.s.flush()

    async def enqueue(
        self,
        notice_id: int,
        channel: str,
        recipient: str,
        payload: dict[str, Any],
        *,
        now: datetime,
    ) -> Outbox:
        item = Outbox(
            channel=channel,
            recipient=recipient,
            payload=payload,
            next_try_at=now,
            created_at=now,
            notice_id=notice_id,
        )
        self.s.add(item)
        await self.s.flush()
        return item

    async def delivery(self, notice_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        ids = list(notice_ids)
        if not ids:
            return {}
        query = (
            select(Outbox.notice_id, Outbox.status, sa.func.count())
            .where(col(Outbox.notice_id).in_(ids))
            .group_by(col(Outbox.notice_id), col(Outbox.status))
        )
        counts: dict[int, dict[str, int]] = {i: {} for i in ids}
        for notice_id, status, count in (await self.s.exec(query)).all():
            if notice_id is not None:
                counts[int(notice_id)][str(status)] = int(count)
        return counts


class SqlHotspots:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def recent_tickets(self, community_id: int | None, since: datetime) -> Sequence[Ticket]:
        query = select(Ticket).where(
            col(Ticket.created_at) >= since,
            col(Ticket.status).not_in(["cancelled", "merged"]),
        )
        if community_id is not None:
            query = query.where(Ticket.community_id == community_id)
        return list((await self.s.exec(query.order_by(col(Ticket.id)))).all())

    async def open_tickets(self, community_id: int | None) -> Sequence[Ticket]:
        query = select(Ticket).where(
            col(Ticket.status).not_in(["resolved", "closed", "cancelled", "merged"])
        )
        if community_id is not None:
            query = query.where(Ticket.community_id == community_id)
        return list((await self.s.exec(query)).all())

    async def follows_since(
        self, ticket_ids: Iterable[int], since: datetime
    ) -> Sequence[TicketFollower]:
        ids = list(ticket_ids)
        if not ids:
            return []
        query = select(TicketFollower).where(
            col(TicketFollower.ticket_id).in_(ids),
            col(TicketFollower.created_at) >= since,
            TicketFollower.via == "duplicate",
        )
        return list((await self.s.exec(query)).all())

    async def latest(self, key: str) -> Hotspot | None:
        query = select(Hotspot).where(Hotspot.key == key).order_by(col(Hotspot.id).desc())
        return (await self.s.exec(query.limit(1))).first()

    async def save(self, hotspot: Hotspot) -> Hotspot:
        self.s.add(hotspot)
        await self.s.flush()
        return hotspot

    async def get(self, hotspot_id: int) -> Hotspot | None:
        return await self.s.get(Hotspot, hotspot_id)

    async def listed(
        self, *, community_ids: Sequence[int] | None, since: datetime, limit: int = 200
    ) -> Sequence[Hotspot]:
        query = select(Hotspot).where(col(Hotspot.last_at) >= since)
        if community_ids is not None:
            query = query.where(col(Hotspot.community_id).in_(list(community_ids)))
        query = query.order_by(col(Hotspot.last_at).desc()).limit(limit)
        return list((await self.s.exec(query)).all())
