"""Handoffs (转人工) and their messages: the SQL repository."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Handoff, HandoffMessage

OPEN = ("waiting", "taken")


class SqlHandoffs:
    """Handoffs of chat users to staff, and what was said in them."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def save(self, handoff: Handoff) -> Handoff:
        self.s.add(handoff)
        await self.s.flush()
        return handoff

    async def get(self, handoff_id: int) -> Handoff | None:
        return await self.s.get(Handoff, handoff_id)

    async def open_for(self, channel: str, user_id: str) -> Handoff | None:
        stmt = (
            select(Handoff)
            .where(
                Handoff.channel == channel,
                Handoff.user_id == user_id,
                col(Handoff.status).in_(OPEN),
            )
            .order_by(col(Handoff.id).desc())
            .limit(1)
        )
        return (await self.s.exec(stmt)).first()

    async def listing(
        self,
        *,
        statuses: Sequence[str],
        community_ids: Sequence[int] | None = None,
        limit: int = 200,
    ) -> Sequence[Handoff]:
        stmt = select(Handoff).where(col(Handoff.status).in_(tuple(statuses)))
        if community_ids is not None:
            stmt = stmt.where(col(Handoff.community_id).in_(tuple(community_ids)))
        stmt = stmt.order_by(col(Handoff.requested_at).desc()).limit(limit)
        return (await self.s.exec(stmt)).all()

    async def add_message(self, message: HandoffMessage) -> HandoffMessage:
        self.s.add(message)
        await self.s.flush()
        return message

    async def messages(self, handoff_id: int, *, after: int = 0) -> Sequence[HandoffMessage]:
        stmt = (
            select(HandoffMessage)
            .where(HandoffMessage.handoff_id == handoff_id, col(HandoffMessage.id) > after)
            .order_by(col(HandoffMessage.id))
        )
        return (await self.s.exec(stmt)).all()
