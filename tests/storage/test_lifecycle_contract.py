"""Contract of the lifecycle repositories (clocks, followers, departments, queries), run on
SQLite (embedded) and on real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage.db import Database
from storage.errors import DuplicateError
from storage.models import Community, Department, DepartmentContact, Ticket, TicketClock
from storage.repositories import SqlStore

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


async def tickets(store: SqlStore, count: int, **fields: object) -> list[int]:
    async with store.unit() as uow:
        community = await uow.registry.community_by_name("测试社区")
        if community is None:
            community = await uow.registry.add(Community(name="测试社区"))
        ids = []
        for _ in range(count):
            number = await uow.tickets.next_number("20261122")
            values: dict[str, object] = {
                "number": number,
                "community_id": community.id,
                "category": "elevator",
                "status": "assigned",
                "created_at": T0,
                "updated_at": T0,
            }
            values.update(fields)
            ticket = await uow.tickets.add(Ticket(**values))  # type: ignore[arg-type]
            ids.append(ticket.id or 0)
        return ids


async def clocks(
    store: SqlStore, ticket_ids: list[int], due: datetime, kind: str = "accept"
) -> None:
    async with store.unit() as uow:
        for ticket_id in ticket_ids:
            await uow.clocks.add(
                TicketClock(ticket_id=ticket_id, kind=kind, level=1, due_at=due, started_at=T0)
            )


async def test_only_due_pending_clocks_are_claimed_oldest_first(sql_store: SqlStore) -> None:
    ids = await tickets(sql_store, 3)
    await clocks(sql_store, ids[:1], T0 + timedelta(minutes=5))
    await clocks(sql_store, ids[1:2], T0 + timedelta(minutes=1))
    await clocks(sql_store, ids[2:], T0 + timedelta(hours=1))  # not due yet
    async with sql_store.unit() as uow:
        claimed = await uow.clocks.claim_due(T0 + timedelta(minutes=10), limit=10, lease_seconds=60)
    assert [c.ticket_id for c in claimed] == [ids[1], ids[0]]
    assert len({c.claim_token for c in claimed}) == 1


async def test_a_leased_clock_is_not_claimed_again_until_the_lease_runs_out(
    sql_store: SqlStore,
) -> None:
    ids = await tickets(sql_store, 1)
    await clocks(sql_store, ids, T0)
    async with sql_store.unit() as uow:
        [first] = await uow.clocks.claim_due(T0, limit=10, lease_seconds=60)
    async with sql_store.unit() as uow:
        assert (
            await uow.clocks.claim_due(T0 + timedelta(seconds=59), limit=10, lease_seconds=60) == []
        )
    async with sql_store.unit() as uow:
        [again] = await uow.clocks.claim_due(T0 + timedelta(seconds=61), limit=10, lease_seconds=60)
    assert again.id == first.id and again.claim_token != first.claim_token
    # the first claimer (it crashed, say) can no longer fire it: only the new token can
    async with sql_store.unit() as uow:
        assert await uow.clocks.fire(first.id or 0, first.claim_token, now=T0) is None
        fired = await uow.clocks.fire(again.id or 0, again.claim_token, now=T0)
    assert fired is not None and fired.status == "fired" and fired.attempts == 1


async def test_a_clock_fires_once(sql_store: SqlStore) -> None:
    ids = await tickets(sql_store, 1)
    await clocks(sql_store, ids, T0)
    async with sql_store.unit() as uow:
        [clock] = await uow.clocks.claim_due(T0, limit=10, lease_seconds=60)
    async with sql_store.unit() as uow:
        assert await uow.clocks.fire(clock.id or 0, clock.claim_token, now=T0) is not None
    async with sql_store.unit() as uow:
        assert await uow.clocks.fire(clock.id or 0, clock.claim_token, now=T0) is None
        assert await uow.clocks.claim_due(T0 + timedelta(days=1), limit=10, lease_seconds=1) == []


async def test_a_firing_rolled_back_leaves_the_clock_pending(sql_store: SqlStore) -> None:
    ids = await tickets(sql_store, 1)
    await clocks(sql_store, ids, T0)
    async with sql_store.unit() as uow:
        [clock] = await uow.clocks.claim_due(T0, limit=10, lease_seconds=60)
    with pytest.raises(RuntimeError):
        async with sql_store.unit() as uow:
            assert await uow.clocks.fire(clock.id or 0, clock.claim_token, now=T0) is not None
            raise RuntimeError("the process died before the commit")
    async with sql_store.unit() as uow:
        [row] = await uow.clocks.for_ticket(ids[0])
        assert row.status == "pending"
        [again] = await uow.clocks.claim_due(T0 + timedelta(minutes=2), limit=10, lease_seconds=60)
    assert again.id == clock.id


async def test_a_cancelled_clock_cannot_fire(sql_store: SqlStore) -> None:
    ids = await tickets(sql_store, 1)
    await clocks(sql_store, ids, T0)
    await clocks(sql_store, ids, T0, kind="resolve")
    async with sql_store.unit() as uow:
        claimed = await uow.clocks.claim_due(T0, limit=10, lease_seconds=60)
    async with sql_store.unit() as uow:
        assert await uow.clocks.cancel(ids[0], ["accept"], now=T0) == 1
    async with sql_store.unit() as uow:
        fired = [await uow.clocks.fire(c.id or 0, c.claim_token, now=T0) for c in claimed]
        counts = await uow.clocks.counts()
    assert [(f.kind if f else None) for f in fired] == [None, "resolve"] or [
        (f.kind if f else None) for f in fired
    ] == ["resolve", None]
    assert counts == {"cancelled": 1, "fired": 1}


async def test_failed_firings_are_retried_later_then_given_up(sql_store: SqlStore) -> None:
    ids = await tickets(sql_store, 1)
    await clocks(sql_store, ids, T0)
    async with sql_store.unit() as uow:
        [clock] = await uow.clocks.claim_due(T0, limit=10, lease_seconds=60)
        await uow.clocks.retry(
            clock.id or 0,
            clock.claim_token,
            error="boom",
            retry_at=T0 + timedelta(minutes=5),
            give_up=False,
        )
    async with sql_store.unit() as uow:
        assert (
            await uow.clocks.claim_due(T0 + timedelta(minutes=4), limit=10, lease_seconds=60) == []
        )
        [clock] = await uow.clocks.claim_due(T0 + timedelta(minutes=5), limit=10, lease_seconds=60)
        await uow.clocks.retry(
            clock.id or 0, clock.claim_token, error="boom", retry_at=T0, give_up=True
        )
    async with sql_store.unit() as uow:
        [row] = await uow.clocks.for_ticket(ids[0])
    assert (row.status, row.attempts, row.last_error) == ("failed", 2, "boom")


async def test_concurrent_claimers_in_two_processes_get_disjoint_clocks(
    sql_store: SqlStore,
) -> None:
    ids = await tickets(sql_store, 40)
    await clocks(sql_store, ids, T0)
    other = Database(sql_store.database.url)  # a second engine: another process's pool
    try:
        stores = [sql_store, SqlStore(other)]

        async def claim(store: SqlStore) -> list[int]:
            got: list[int] = []
            while True:
                async with store.unit() as uow:
                    batch = await uow.clocks.claim_due(T0, limit=3, lease_seconds=60)
                if not batch:
                    return got
                got += [c.id or 0 for c in batch]

        first, second = await asyncio.gather(*(claim(s) for s in stores))
    finally:
        await other.dispose()
    assert not set(first) & set(second)
    assert len(first) + len(second) == 40


async def test_following_is_idempotent_and_copies_to_a_merged_ticket(sql_store: SqlStore) -> None:
    a, b = await tickets(sql_store, 2)
    async with sql_store.unit() as uow:
        assert await uow.followers.add(a, "web", "u1", resident_id=None, via="duplicate", now=T0)
        assert not await uow.followers.add(
            a, "web", "u1", resident_id=None, via="duplicate", now=T0
        )
        assert await uow.followers.add(a, "wechat", "o2", resident_id=None, via="duplicate", now=T0)
        await uow.followers.add(b, "web", "u1", resident_id=None, via="duplicate", now=T0)
    async with sql_store.unit() as uow:
        assert await uow.followers.copy(a, b, via="merge", now=T0) == 1  # u1 already follows b
        followers = [(f.channel, f.user_id) for f in await uow.followers.for_ticket(b)]
        followed = await uow.followers.followed_tickets("web", "u1", statuses=["assigned"])
    assert followers == [("web", "u1"), ("wechat", "o2")]
    assert {t.id for t in followed} == {a, b}


async def test_departments_their_contacts_and_their_part_in_tickets(sql_store: SqlStore) -> None:
    [ticket_id] = await tickets(sql_store, 1)
    async with sql_store.unit() as uow:
        community = await uow.registry.community_by_name("测试社区")
        assert community is not None
        street = await uow.departments.add(Department(name="城管中队", kind="city_management"))
        own = await uow.departments.add(Department(name="物业", community_id=community.id))
        await uow.departments.add_contact(
            DepartmentContact(department_id=street.id or 0, channel="web", user_id="dept-cg")
        )
        other = await uow.registry.add(Community(name="别的社区"))
        await uow.departments.add(Department(name="物业", community_id=other.id))
    with pytest.raises(DuplicateError):
        async with sql_store.unit() as uow:
            await uow.departments.add(Department(name="物业", community_id=community.id))
    with pytest.raises(DuplicateError):
        async with sql_store.unit() as uow:
            await uow.departments.add_contact(
                DepartmentContact(department_id=own.id or 0, channel="web", user_id="dept-cg")
            )
    async with sql_store.unit() as uow:
        serving = [d.name for d in await uow.departments.for_community(community.id)]
        found = await uow.departments.by_contact("web", "dept-cg")
        party, new = await uow.departments.add_party(
            ticket_id, own.id or 0, role="cohandler", added_by="张伟", now=T0
        )
        again, new_again = await uow.departments.add_party(
            ticket_id, own.id or 0, role="lead", added_by="刘洋", now=T0
        )
        active = await uow.departments.active_tickets(own.id or 0, statuses=["assigned"])
    assert serving == ["城管中队", "物业"]
    assert found is not None and found[0].name == "城管中队"
    assert new and not new_again and again.id == party.id and again.role == "lead"
    assert [t.id for t in active] == [ticket_id]


async def test_similar_open_tickets_and_open311_queries(sql_store: SqlStore) -> None:
    same = await tickets(sql_store, 2, building_id=None, category="parking")
    await tickets(sql_store, 1, category="parking", status="closed")
    await tickets(sql_store, 1, category="noise")
    later = T0 + timedelta(days=10)
    await tickets(sql_store, 1, category="parking", status="resolved", created_at=later)
    async with sql_store.unit() as uow:
        similar = await uow.finder.open_similar(
            community_id=None, category="parking", building_id=None, statuses=["assigned"]
        )
        window = await uow.finder.requests(
            categories=["parking"], start=T0, end=T0 + timedelta(days=1)
        )
        closed = await uow.finder.requests(statuses=["closed", "resolved"])
        by_number = await uow.finder.requests(numbers=["mh-20261122-0001"], categories=["noise"])
    assert [t.id for t in similar] == same
    assert len(window) == 3  # the later one is outside the dates
    assert {t.status for t in closed} == {"closed", "resolved"}
    assert [t.number for t in by_number] == ["MH-20261122-0001"]  # numbers override filters


async def test_stale_reminders_are_settled_in_one_statement(sql_store: SqlStore) -> None:
    ids = await tickets(sql_store, 2)
    async with sql_store.unit() as uow:
        for ticket_id, deadline in zip(ids, (T0, T0 + timedelta(hours=1)), strict=True):
            await uow.clocks.add(
                TicketClock(
                    ticket_id=ticket_id,
                    kind="accept_remind",
                    due_at=T0 - timedelta(minutes=2),
                    deadline_at=deadline,
                    started_at=T0,
                )
            )
        await uow.clocks.add(TicketClock(ticket_id=ids[0], kind="accept", due_at=T0, started_at=T0))
    async with sql_store.unit() as uow:
        claimed = await uow.clocks.claim_due(T0, limit=10, lease_seconds=60)
        settled = await uow.clocks.settle_expired(
            [c.id or 0 for c in claimed],
            claimed[0].claim_token,
            kinds=["accept_remind"],
            now=T0,
            outcome="skipped: stale",
        )
    assert len(settled) == 1  # only the reminder whose deadline passed; not the deadline itself
    async with sql_store.unit() as uow:
        rows = {(c.ticket_id, c.kind): c for c in await uow.clocks.for_ticket(ids[0])}
    assert rows[(ids[0], "accept_remind")].outcome == "skipped: stale"
    assert rows[(ids[0], "accept")].status == "pending"
