"""SQL repository of the people around a building (issue 14): ``SqlUnitOfWork.people``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    BuildingHelper,
    ChannelIdentity,
    HelperBuilding,
    LinkCode,
    Ticket,
    TicketFollower,
    TicketHelper,
)
from storage.sql_common import table_of


class SqlPeople:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add_helper(
        self, helper: BuildingHelper, building_ids: Iterable[int]
    ) -> BuildingHelper:
        self.s.add(helper)
        await self.s.flush()
        await self.set_buildings(helper.id or 0, building_ids)
        return helper

    async def helper(self, helper_id: int) -> BuildingHelper | None:
        return await self.s.get(BuildingHelper, helper_id)

    async def save_helper(self, helper: BuildingHelper) -> None:
        self.s.add(helper)
        await self.s.flush()

    async def set_buildings(self, helper_id: int, building_ids: Iterable[int]) -> None:
        table = table_of(HelperBuilding)
        await self.s.execute(sa.delete(table).where(table.c.helper_id == helper_id))
        for building_id in dict.fromkeys(building_ids):
            self.s.add(HelperBuilding(helper_id=helper_id, building_id=building_id))
        await self.s.flush()

    async def helpers(
        self, *, community_ids: Sequence[int] | None = None, building_id: int | None = None
    ) -> Sequence[BuildingHelper]:
        query = select(BuildingHelper).where(col(BuildingHelper.active).is_(True))
        if community_ids is not None:
            query = query.where(col(BuildingHelper.community_id).in_(list(community_ids)))
        if building_id is not None:
            inside = select(HelperBuilding.helper_id).where(
                HelperBuilding.building_id == building_id
            )
            query = query.where(col(BuildingHelper.id).in_(inside))
        return list((await self.s.exec(query.order_by(col(BuildingHelper.id)))).all())

    async def buildings_of(self, helper_ids: Iterable[int]) -> dict[int, list[int]]:
        ids = list(helper_ids)
        found: dict[int, list[int]] = {i: [] for i in ids}
        if not ids:
            return found
        query = (
            select(HelperBuilding)
            .where(col(HelperBuilding.helper_id).in_(ids))
            .order_by(col(HelperBuilding.building_id))
        )
        for row in (await self.s.exec(query)).all():
            found[row.helper_id].append(row.building_id)
        return found

    async def helpers_of_resident(self, resident_id: int) -> Sequence[BuildingHelper]:
        query = select(BuildingHelper).where(
            BuildingHelper.resident_id == resident_id, col(BuildingHelper.active).is_(True)
        )
        return list((await self.s.exec(query)).all())

    async def ask(self, row: TicketHelper) -> TicketHelper:
        self.s.add(row)
        await self.s.flush()
        return row

    async def asked(self, row_id: int) -> TicketHelper | None:
        return await self.s.get(TicketHelper, row_id)

    async def asked_on(self, ticket_id: int) -> Sequence[TicketHelper]:
        query = select(TicketHelper).where(TicketHelper.ticket_id == ticket_id)
        return list((await self.s.exec(query.order_by(col(TicketHelper.id)))).all())

    async def save_asked(self, row: TicketHelper) -> None:
        self.s.add(row)
        await self.s.flush()

    async def add_code(self, code: LinkCode) -> LinkCode:
        self.s.add(code)
        await self.s.flush()
        return code

    async def codes_since(self, resident_id: int, since: datetime) -> int:
        query = select(sa.func.count()).where(
            LinkCode.resident_id == resident_id, col(LinkCode.created_at) >= since
        )
        return int((await self.s.exec(query)).one())

    async def use_code(self, code_hash: str, *, now: datetime, channel: str) -> LinkCode | None:
        table = table_of(LinkCode)
        # one conditional UPDATE: two chats racing for the same code cannot both win
        stmt = (
            sa.update(table)
            .where(
                table.c.code_hash == code_hash,
                table.c.used_at.is_(None),
                table.c.expires_at > now,
            )
            .values(used_at=now, used_channel=channel)
            .returning(table.c.id)
        )
        row = (await self.s.execute(stmt)).first()
        if row is None:
            return None
        code = await self.s.get(LinkCode, int(row[0]))
        if code is not None:
            await self.s.refresh(code)
        return code

    async def identities_of(self, resident_id: int) -> Sequence[ChannelIdentity]:
        query = select(ChannelIdentity).where(ChannelIdentity.resident_id == resident_id)
        return list((await self.s.exec(query.order_by(col(ChannelIdentity.id)))).all())

    async def move_resident(self, from_id: int, to_id: int) -> None:
        # row by row (a handful), so objects already loaded in this session stay true
        for model in (ChannelIdentity, Ticket, TicketFollower, BuildingHelper):
            query = select(model).where(model.resident_id == from_id)  # type: ignore[attr-defined]
            for row in (await self.s.exec(query)).all():
                row.resident_id = to_id
                self.s.add(row)
        await self.s.flush()

    async def repoint_followers(
        self, channel: str, user_id: str, new_channel: str, new_user_id: str
    ) -> list[str]:
        query = select(TicketFollower, Ticket).where(
            TicketFollower.channel == channel,
            TicketFollower.user_id == user_id,
            TicketFollower.ticket_id == Ticket.id,
            col(Ticket.status).not_in(["closed", "cancelled", "merged"]),
        )
        numbers: list[str] = []
        for follower, ticket in (await self.s.exec(query)).all():
            taken = await self.s.exec(
                select(TicketFollower).where(
                    TicketFollower.ticket_id == follower.ticket_id,
                    TicketFollower.channel == new_channel,
                    TicketFollower.user_id == new_user_id,
                )
            )
            if taken.first() is not None:
                await self.s.delete(follower)  # the chat already follows it
            else:
                follower.channel, follower.user_id = new_channel, new_user_id
                self.s.add(follower)
            numbers.append(ticket.number)
        await self.s.flush()
        return numbers

    async def tickets_reaching(self, channel: str, user_id: str) -> Sequence[Ticket]:
        query = select(Ticket).where(Ticket.channel == channel, Ticket.channel_user_id == user_id)
        return list((await self.s.exec(query.order_by(col(Ticket.id)))).all())
