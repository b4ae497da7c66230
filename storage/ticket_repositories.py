"""Tickets and what hangs on them: the tickets themselves, finding them, followers and
departments.

SQL over one AsyncSession, the same on SQLite and PostgreSQL (see storage/repositories.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.errors import DuplicateError
from storage.models import (
    Department,
    DepartmentContact,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketFollower,
    TicketParty,
)
from storage.sql_common import OPEN_STATUSES, insert_of, table_of


class SqlTickets:
    """Tickets, their numbers and their append-only events."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def next_number(self, day: str) -> str:
        """Allocate the next MH-YYYYMMDD-NNNN number atomically (safe across processes)."""
        stmt = insert_of(self.s, TicketCounter).values(day=day, last=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day"], set_={"last": table_of(TicketCounter).c.last + 1}
        ).returning(table_of(TicketCounter).c.last)
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

    async def for_resident_by_groups(
        self, resident_id: int, groups: Sequence[Iterable[str]], *, limit: int = 20
    ) -> list[list[Ticket]]:
        """``for_resident`` for each group of statuses, in one statement (UNION ALL)."""
        if not groups:
            return []
        params: dict[str, Any] = {"resident": resident_id, "limit": limit}
        for n, statuses in enumerate(groups):
            params[f"statuses_{n}"] = list(statuses)
        found: list[list[Ticket]] = [[] for _ in groups]
        for ticket, part in (await self.s.execute(_by_groups(len(groups)), params)).all():
            found[int(part)].append(ticket)
        return found

    async def for_worker(
        self, worker_id: int, *, statuses: Iterable[str] = OPEN_STATUSES
    ) -> Sequence[Ticket]:
        query = (
            select(Ticket)
            .where(Ticket.assignee_id == worker_id, col(Ticket.status).in_(list(statuses)))
            .order_by(col(Ticket.id))
        )
        return (await self.s.exec(query)).all()

    async def open_counts_by_worker(
        self, worker_ids: Sequence[int] | None = None
    ) -> dict[int, int]:
        # served by the partial index ix_ticket_open_assignee (open tickets only)
        query = (
            select(Ticket.assignee_id, sa.func.count())
            .where(col(Ticket.status).in_(OPEN_STATUSES), col(Ticket.assignee_id).is_not(None))
            .group_by(col(Ticket.assignee_id))
        )
        if worker_ids is not None:
            query = query.where(col(Ticket.assignee_id).in_(list(worker_ids)))
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
            insert_of(self.s, TicketFollower)
            .values(
                ticket_id=ticket_id,
                channel=channel,
                user_id=user_id,
                resident_id=resident_id,
                via=via,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["ticket_id", "channel", "user_id"])
            .returning(table_of(TicketFollower).c.id)
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


@functools.cache
def _by_groups(count: int) -> Any:
    """The UNION ALL of ``for_resident_by_groups``, built once per number of groups.

    Building it is expensive in Python (the union's column collection over every ticket
    column: about 15 ms, nearly half of a chat message's time in the profile); executing a
    prebuilt statement with new parameters reuses SQLAlchemy's compiled form.
    """
    t = table_of(Ticket)
    parts = [
        sa.select(t, sa.literal(n).label("part"))
        .where(
            t.c.resident_id == sa.bindparam("resident"),
            t.c.status.in_(sa.bindparam(f"statuses_{n}", expanding=True)),
        )
        .order_by(t.c.id.desc())
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .subquery()
        .select()
        for n in range(count)
    ]
    union = sa.union_all(*parts).subquery()
    return sa.select(Ticket, union.c.part).from_statement(
        sa.select(union).order_by(union.c.part, union.c.id.desc())
    )
