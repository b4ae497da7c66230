"""SLA clocks end to end at the service level, with an injected clock (nothing sleeps), on
SQLite and on PostgreSQL: reminders, escalation up the ladder, catch-up after downtime,
office hours, unrated closing, overdue notices, concurrent sweepers and a killed sweep."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handlers.lifecycle import Actor, Move
from handlers.sla_service import SlaSweeper
from handlers.ticket_service import TicketService
from storage.db import Database
from storage.models import GridWorker
from storage.repositories import SqlStore
from tests.factories import FakeClock
from tests.handlers.lifecycle_support import (
    desk,
    escalations_per_ticket,
    events_of,
    file_ticket,
    outbox_texts,
)

ROOT = Path(__file__).resolve().parents[2]


async def sla_texts(store: SqlStore, recipient: str) -> list[str]:
    """What the SLA clocks sent someone (several reports about one lift in one building also
    raise a hotspot alert to the leader: tests/handlers/test_hotspots.py covers those)."""
    return [m for m in await outbox_texts(store, recipient) if not m.startswith("【热点预警】")]


async def test_the_accept_deadline_escalates_to_the_grid_leader_then_community_staff(
    sql_store: SqlStore,
) -> None:
    d = await desk(sql_store)
    number = await file_ticket(d)

    d.clock.advance(minutes=7)
    assert (await d.sweeper.run_once()).claimed == 0  # nothing due yet

    d.clock.advance(minutes=1)  # 80 % of 10 minutes: a reminder to 张伟
    result = await d.sweeper.run_once()
    assert (result.fired, result.skipped) == (1, 0)
    assert any(
        "接单提醒" in m and number in m for m in await outbox_texts(sql_store, "worker-zhang")
    )

    d.clock.advance(minutes=2)  # the deadline: 陈静 is told, and 张伟 sees it
    assert (await d.sweeper.run_once()).fired == 1
    leader = await sla_texts(sql_store, "leader-chen")
    assert len(leader) == 1 and "超时上报" in leader[0] and "10分钟" in leader[0]
    assert any(
        "已上报网格长陈静" in m and "您仍可接单" in m
        for m in await outbox_texts(sql_store, "worker-zhang")
    )
    assert any("网格长陈静督办" in m for m in await outbox_texts(sql_store, "resident-1"))

    d.clock.advance(minutes=10)  # still nobody: community staff
    assert (await d.sweeper.run_once()).fired == 1
    staff = await outbox_texts(sql_store, "staff-liu")
    assert len(staff) == 1 and number in staff[0]

    # next rung: the street; this community has no street staff, so the timeline says so
    d.clock.advance(minutes=10)
    assert (await d.sweeper.run_once()).fired == 1
    d.clock.advance(hours=1)
    assert (await d.sweeper.run_once()).fired == 0  # the top of the ladder: no more accept clocks
    events = await events_of(sql_store, number)
    escalations = [e for e in events if e.kind == "escalate"]
    assert [e.data["level"] for e in escalations] == [1, 2]
    assert all(e.actor_type == "system" and e.note == "超过10分钟未接单" for e in escalations)
    assert events[-1].kind == "escalation_failed" and events[-1].data == {"level": 3}
    assert events[-1].to_status == "escalated"


async def test_nobody_accepting_climbs_past_the_community_to_the_street(
    sql_store: SqlStore,
) -> None:
    d = await desk(sql_store)
    async with sql_store.unit() as uow:
        [community] = await uow.registry.communities()
        zhou = GridWorker(
            name="周敏",
            role="street_staff",
            community_id=community.id or 0,
            street_id=community.street_id,
        )
        await uow.registry.save(zhou)
        await uow.registry.bind_worker_identity(zhou.id or 0, "web", "street-zhou")
    number = await file_ticket(d)
    for _ in range(3):  # leader, community staff, then the street (10 minutes each: urgent)
        d.clock.advance(minutes=10)
        assert (await d.sweeper.run_once()).fired == 1
    [card] = await sla_texts(sql_store, "street-zhou")
    assert card.startswith(f"【超时上报】{number} 超过10分钟无人接单")
    assert any("街道工作人员" in m for m in await sla_texts(sql_store, "resident-1"))
    escalations = [e for e in await events_of(sql_store, number) if e.kind == "escalate"]
    assert [e.data["level"] for e in escalations] == [1, 2, 3]
    assert escalations[-1].data["names"] == ["周敏"]
    async with sql_store.unit() as uow:
        ticket = await uow.tickets.by_number(number)
        assert ticket is not None and ticket.tier == "street"
    d.clock.advance(hours=1)
    assert (await d.sweeper.run_once()).fired == 0  # the street decides: back down or 12345


async def test_accepting_in_time_stops_the_clock(sql_store: SqlStore) -> None:
    d = await desk(sql_store)
    number = await file_ticket(d)
    d.clock.advance(minutes=5)
    async with sql_store.unit() as uow:
        ticket = await uow.tickets.by_number(number, for_update=True)
        worker = next(w for w in await uow.registry.workers() if w.name == "张伟")
        assert ticket is not None
        await d.tickets.accept(uow, ticket, worker, Actor.worker(worker.id, worker.name))
    d.clock.advance(minutes=30)
    result = await d.sweeper.run_once()
    assert result.claimed == 0
    assert await sla_texts(sql_store, "leader-chen") == []
    async with sql_store.unit() as uow:
        ticket = await uow.tickets.by_number(number)
        assert ticket is not None
        states = {(c.kind, c.status) for c in await uow.clocks.for_ticket(ticket.id or 0)}
    assert ("accept", "cancelled") in states and ("accept_remind", "cancelled") in states
    assert ("resolve", "pending") in states


async def test_after_downtime_due_clocks_fire_once_and_stale_reminders_are_skipped(
    sql_store: SqlStore,
) -> None:
    d = await desk(sql_store)
    numbers = [await file_ticket(d, user=f"r{i}") for i in range(3)]
    d.clock.advance(hours=3)  # the whole app was down
    result = await d.sweeper.run_once()
    assert (result.fired, result.skipped) == (3, 3)  # three escalations, three stale reminders
    assert (await d.sweeper.run_once()).claimed == 0  # caught up: nothing fires twice
    assert all(count == 1 for count in (await escalations_per_ticket(sql_store)).values())
    assert len(await sla_texts(sql_store, "leader-chen")) == 3
    for number in numbers:
        kinds = [e.kind for e in await events_of(sql_store, number)]
        assert kinds.count("remind") == 0 and kinds.count("escalate") == 1
    # the next level gets a full window from the escalation, not from the report
    d.clock.advance(minutes=9)
    assert (await d.sweeper.run_once()).claimed == 0
    d.clock.advance(minutes=1)
    assert (await d.sweeper.run_once()).fired == 3


async def test_office_hours_pause_normal_clocks_but_not_urgent_ones(sql_store: SqlStore) -> None:
    d = await desk(sql_store, FakeClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC)))  # Fri 17:00
    async with sql_store.unit() as uow:
        [community] = await uow.registry.communities()
        community.settings = {
            "working_hours": {"days": [1, 2, 3, 4, 5], "hours": ["08:30-12:00", "13:30-17:30"]}
        }
        await uow.registry.save(community)
    parking = await file_ticket(
        d, building="6幢", category="parking", priority="normal", description="6幢门口堵车"
    )
    urgent = await file_ticket(d, user="r2")
    due = {}
    for number in (parking, urgent):
        async with sql_store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None
            [accept] = [
                c for c in await uow.clocks.for_ticket(ticket.id or 0) if c.kind == "accept"
            ]
            due[number] = accept.due_at
    # 17:00–17:30 Friday, then Monday 08:30 + 1 h 30
    assert due[parking] == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert due[urgent] == datetime(2026, 11, 20, 9, 10, tzinfo=UTC)
    d.clock.advance(days=1)  # Saturday: the parking report is not overdue
    await d.sweeper.run_once()
    kinds = [e.kind for e in await events_of(sql_store, parking)]
    assert "escalate" not in kinds


async def test_no_rating_in_three_days_closes_the_ticket_as_unrated(sql_store: SqlStore) -> None:
    d = await desk(sql_store)
    number = await file_ticket(d, building="6幢", category="noise", priority="normal")
    async with sql_store.unit() as uow:
        ticket = await uow.tickets.by_number(number, for_update=True)
        worker = next(w for w in await uow.registry.workers() if w.name == "李娜")
        assert ticket is not None
        actor = Actor.worker(worker.id, worker.name)
        await d.tickets.accept(uow, ticket, worker, actor)
        await d.tickets.apply(uow, ticket, Move.RESOLVE, actor, note="已劝导")
    d.clock.advance(hours=71)
    await d.sweeper.run_once()
    d.clock.advance(hours=1)
    assert (await d.sweeper.run_once()).fired == 1
    async with sql_store.unit() as uow:
        ticket = await uow.tickets.by_number(number)
    assert ticket is not None and ticket.status == "closed" and ticket.rating is None
    last = (await events_of(sql_store, number))[-1]
    assert (last.kind, last.actor_type, last.note) == ("close", "system", "居民3天未评价，自动关闭")
    assert any("未收到您的评价" in m for m in await outbox_texts(sql_store, "resident-1"))


async def test_a_missed_resolution_deadline_tells_supervisors_and_keeps_the_worker_on_it(
    sql_store: SqlStore,
) -> None:
    d = await desk(sql_store)
    number = await file_ticket(d, building="6幢", category="sanitation", priority="normal")
    async with sql_store.unit() as uow:
        ticket = await uow.tickets.by_number(number, for_update=True)
        worker = next(w for w in await uow.registry.workers() if w.name == "李娜")
        assert ticket is not None
        await d.tickets.accept(uow, ticket, worker, Actor.worker(worker.id, worker.name))
    d.clock.advance(days=3)
    await d.sweeper.run_once()
    assert any("超期督办" in m for m in await sla_texts(sql_store, "leader-chen"))
    assert any("已上报网格长陈静督办" in m for m in await outbox_texts(sql_store, "worker-li"))
    d.clock.advance(hours=24)
    await d.sweeper.run_once()
    assert any("超期督办" in m for m in await outbox_texts(sql_store, "staff-liu"))
    async with sql_store.unit() as uow:
        ticket = await uow.tickets.by_number(number)
    assert ticket is not None and ticket.status == "accepted" and ticket.assignee_id == worker.id


async def test_a_firing_that_keeps_failing_is_retried_then_marked_failed(
    sql_store: SqlStore,
) -> None:
    d = await desk(sql_store)
    await file_ticket(d)
    sweeper = SlaSweeper(
        sql_store,
        _Exploding(store=sql_store, clock=d.clock),
        d.clock,
        max_attempts=2,
        retry_seconds=30,
    )
    d.clock.advance(minutes=8)
    assert (await sweeper.run_once()).failed == 1
    assert (await sweeper.run_once()).claimed == 0  # waits before trying again
    d.clock.advance(seconds=31)
    assert (await sweeper.run_once()).failed == 1
    async with sql_store.unit() as uow:
        counts = await uow.clocks.counts()
    assert counts.get("failed") == 1


class _Exploding(TicketService):
    """A ticket service whose reminders fail (a bug, a broken notifier …)."""

    async def remind(self, *args: object, **kwargs: object) -> str:
        raise RuntimeError("notifier exploded")


async def test_two_processes_sweeping_at_once_escalate_each_ticket_once(
    sql_store: SqlStore,
) -> None:
    d = await desk(sql_store)
    numbers = [await file_ticket(d, user=f"r{i}") for i in range(24)]
    d.clock.advance(minutes=11)
    other = Database(sql_store.database.url)  # a second process: its own engine and pool
    try:
        store_b = SqlStore(other)
        sweeper_b = SlaSweeper(
            store_b, TicketService(store=store_b, clock=d.clock), d.clock, batch=5
        )
        first, second = await asyncio.gather(d.sweeper.run_once(), sweeper_b.run_once())
    finally:
        await other.dispose()
    assert first.fired + second.fired == 24
    assert first.failed == second.failed == 0
    counts = await escalations_per_ticket(sql_store)
    assert len(counts) == 24 and set(counts.values()) == {1}
    assert len(await sla_texts(sql_store, "leader-chen")) == len(numbers)


@pytest.mark.slow
async def test_a_sweep_killed_midway_loses_nothing_and_doubles_nothing(
    sql_store: SqlStore, tmp_path: Path
) -> None:
    d = await desk(sql_store)
    total = 120
    for i in range(total):
        await file_ticket(d, user=f"r{i}")
    d.clock.advance(minutes=11)
    env = {
        **os.environ,
        "MINHU_DATABASE_URL": sql_store.database.url,
        "MINHU_DATA_DIR": str(tmp_path),
    }
    command = [
        sys.executable,
        "-c",
        "from bot.cli import main; main()",
        "sla",
        "sweep",
        "--now",
        d.clock.now().isoformat(),
        "--batch",
        "5",
        "--lease",
        "60",
    ]
    # a real process, killed with SIGKILL mid-sweep: no cleanup, no rollback code runs
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    fired = 0
    while time.monotonic() < deadline and process.returncode is None:
        async with sql_store.unit() as uow:
            fired = (await uow.clocks.counts()).get("fired", 0)
        if fired >= 10:
            break
        await asyncio.sleep(0.02)
    assert process.returncode is None, "the sweep finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    await asyncio.wait_for(process.wait(), timeout=10)
    assert 10 <= fired < 2 * total

    # restart: the dead process's leases run out, then any process finishes the job
    d.clock.advance(seconds=61)
    await d.sweeper.run_once()
    assert (await d.sweeper.run_once()).claimed == 0
    counts = await escalations_per_ticket(sql_store)
    assert len(counts) == total and set(counts.values()) == {1}
    assert len(await sla_texts(sql_store, "leader-chen")) == total
    async with sql_store.unit() as uow:
        states = await uow.clocks.counts()
    assert states.get("failed", 0) == 0
    assert states["fired"] == 2 * total  # every reminder and every deadline, once


async def test_invalid_staff_moves_are_refused_and_change_nothing(sql_store: SqlStore) -> None:
    from handlers.errors import InvalidTransition, PermissionDenied, TicketNotFound

    d = await desk(sql_store)
    number = await file_ticket(d)
    before = await events_of(sql_store, number)
    with pytest.raises(InvalidTransition, match="cannot close a ticket that is assigned"):
        await d.tickets.close(number, actor=Actor.admin("liu"), reason="test")
    with pytest.raises(InvalidTransition):
        await d.tickets.merge(number, number, actor=Actor.admin("liu"))
    with pytest.raises(TicketNotFound):
        await d.tickets.add_note("MH-20991231-0001", "x", actor=Actor.admin("liu"))
    async with sql_store.unit() as uow:
        wang = next(w for w in await uow.registry.workers() if w.name == "王芳")
    with pytest.raises(PermissionDenied):  # 王芳 works in another grid
        await d.tickets.add_note(number, "x", actor=Actor.worker(wang.id, wang.name))
    after = await events_of(sql_store, number)
    assert [e.id for e in after] == [e.id for e in before]
    async with sql_store.unit() as uow:
        ticket = await uow.tickets.by_number(number)
    assert ticket is not None and ticket.status == "assigned"
