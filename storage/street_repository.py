"""Streets and 12345 hand-offs: the SQL repository."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import CityOrder, Community, Street, Ticket


class SqlStreets:
    """Streets (街道), their communities, and work orders handed to 12345."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def all(self) -> Sequence[Street]:
        return (await self.s.exec(select(Street).order_by(col(Street.name)))).all()

    async def get(self, street_id: int) -> Street | None:
        return await self.s.get(Street, street_id)

    async def by_name(self, name: str) -> Street | None:
        return (await self.s.exec(select(Street).where(Street.name == name))).first()

    async def save(self, street: Street) -> Street:
        self.s.add(street)
        await self.s.flush()
        return street

    async def communities(self, street_id: int) -> Sequence[Community]:
        stmt = select(Community).where(Community.street_id == street_id)
        return (await self.s.exec(stmt.order_by(col(Community.name)))).all()

    async def add_order(self, order: CityOrder) -> CityOrder:
        self.s.add(order)
        await self.s.flush()
        return order

    async def order(self, order_id: int, *, for_update: bool = False) -> CityOrder | None:
        stmt = select(CityOrder).where(CityOrder.id == order_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.s.exec(stmt)).first()

    async def order_by_no(self, order_no: str, *, for_update: bool = False) -> CityOrder | None:
        if not order_no:
            return None
        stmt = select(CityOrder).where(CityOrder.order_no == order_no)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.s.exec(stmt)).first()

    async def orders_for(self, ticket_id: int) -> Sequence[CityOrder]:
        stmt = select(CityOrder).where(CityOrder.ticket_id == ticket_id)
        return (await self.s.exec(stmt.order_by(col(CityOrder.id)))).all()

    async def orders(
        self, *, community_ids: Sequence[int] | None, limit: int = 500
    ) -> Sequence[CityOrder]:
        stmt = select(CityOrder)
        if community_ids is not None:
            stmt = stmt.join(Ticket, col(Ticket.id) == col(CityOrder.ticket_id)).where(
                col(Ticket.community_id).in_(tuple(community_ids))
            )
        stmt = stmt.order_by(col(CityOrder.id).desc()).limit(limit)
        return (await self.s.exec(stmt)).all()
