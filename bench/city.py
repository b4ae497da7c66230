"""City-scale data: generate a whole city into its own PostgreSQL database and time the queries
a city's load puts on it, printing p50/p99 per figure against its target.

    python bench/city.py                     # the full city: 23.5 min to generate here (README)
    python bench/city.py --scale 0.002       # a few seconds (the CI smoke runs 0.0005)
    python bench/city.py --scale 0.1 --keep  # keep the database (minhu_city) for EXPLAIN work

Full scale (``--scale 1``): 40 streets, 400 communities, 3,600 grids, 40,000 buildings,
4,000 workers, 1,000,000 residents and 5,000,000 tickets over the last three years. Rows are
made inside PostgreSQL (``INSERT … SELECT … FROM generate_series``, chunked, no client
round trip per row) after ``minhu db upgrade`` created the schema with every index; the
ticket table's secondary indexes are rebuilt once afterwards, and the dashboard's daily counts
(``ticketdaily``) once from all the tickets (its trigger is off during the load).

Measured, each through the code the app runs (the service's repositories and pure functions):
building match ("3幢" in the resident's community, and "<小区>3幢" without one), routing a new
ticket, filing a ticket, the console dashboard (30 days), the ticket list with filters and with
a full-text search, Open311 ``requests.json`` and ``requests/{id}.json``, one SLA sweep of due
clocks, and a resident with no known community asking for "3幢" (the choices offered).
The database URL's server is used (MINHU_DATABASE_URL, default the local one); the database
``--database`` is dropped and created.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FULL = {
    "streets": 40,
    "communities": 400,
    "grids_per_community": 9,
    "buildings_per_community": 100,
    "workers_per_community": 10,
    "residents": 1_000_000,
    "tickets": 5_000_000,
}
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DAYS = 3 * 365  # the tickets' history
CHUNK = 250_000  # tickets per INSERT: progress shows, and a slow machine can be stopped early

STREET_WORDS = [
    "东湖",
    "西溪",
    "南山",
    "北苑",
    "中山",
    "人民",
    "解放",
    "建设",
    "和平",
    "胜利",
    "长江",
    "黄河",
    "青年",
    "光明",
    "新华",
    "文化",
    "迎宾",
    "朝阳",
    "红旗",
    "幸福",
]
PLACE_WORDS = [
    "阳光",
    "金桂",
    "翠竹",
    "紫荆",
    "锦绣",
    "碧水",
    "蓝天",
    "春晓",
    "秋实",
    "明月",
    "清风",
    "海棠",
    "丁香",
    "玉兰",
    "枫林",
    "梧桐",
    "星河",
    "云杉",
    "天和",
    "安居",
]
PLACE_KINDS = ["花园", "小区", "家园", "苑"]
# (category, phrases): what residents write, for the ticket texts the search looks through
PROBLEMS = {
    "elevator": ["电梯坏了", "电梯困人", "电梯异响", "电梯门关不上", "电梯按钮失灵"],
    "sanitation": ["垃圾没人清理", "楼道堆满杂物", "垃圾桶满了", "有老鼠", "化粪池堵了"],
    "utilities": ["停水了", "水管漏水", "楼道灯不亮", "停电", "暖气不热"],
    "noise": ["广场舞太吵", "半夜装修噪音", "楼上噪音扰民", "狗一直叫"],
    "parking": ["消防通道被占", "车位被占", "乱停车堵路", "电动车堵门口"],
    "property": ["外墙脱落", "屋顶漏雨", "门禁坏了", "单元门锁坏了"],
    "safety": ["飞线充电", "楼道里有煤气味", "井盖丢了", "护栏松了"],
    "illegal_construction": ["楼顶违建", "私搭乱建", "占用绿地"],
    "dispute": ["邻里纠纷", "楼上漏水不处理"],
    "other": ["路灯坏了", "树枝断了挡路", "流浪猫太多"],
}
DETAILS = [
    "好几天了",
    "一直没人管",
    "麻烦尽快处理",
    "老人出行不方便",
    "晚上特别明显",
    "已经第二次反映了",
    "影响孩子休息",
    "请派人来看看",
    "",
    "",
]


@dataclass(frozen=True, slots=True)
class Scale:
    streets: int
    communities: int
    grids_per_community: int
    buildings_per_community: int
    workers_per_community: int
    residents: int
    tickets: int

    @classmethod
    def of(cls, factor: float) -> Scale:
        def n(key: str, least: int) -> int:
            return max(least, round(FULL[key] * factor))

        return cls(
            streets=n("streets", 1),
            communities=n("communities", 2),
            grids_per_community=FULL["grids_per_community"],
            buildings_per_community=FULL["buildings_per_community"],
            workers_per_community=FULL["workers_per_community"],
            residents=n("residents", 100),
            tickets=n("tickets", 1000),
        )

    @property
    def grids(self) -> int:
        return self.communities * self.grids_per_community

    @property
    def buildings(self) -> int:
        return self.communities * self.buildings_per_community

    @property
    def workers(self) -> int:
        return self.communities * self.workers_per_community


def community_names(count: int) -> list[str]:
    names: list[str] = []
    for i in range(count):
        word = PLACE_WORDS[i % len(PLACE_WORDS)]
        second = STREET_WORDS[(i // len(PLACE_WORDS)) % len(STREET_WORDS)]
        kind = PLACE_KINDS[(i // (len(PLACE_WORDS) * len(STREET_WORDS))) % len(PLACE_KINDS)]
        names.append(f"{second}{word}{kind}")
    return names


# --- generation (server side) -----------------------------------------------------------------


def _sql_array(values: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def generate(
    conn: psycopg.Connection[Any], scale: Scale, now: datetime, say: Callable[[str], None]
) -> None:
    """Fill the registry and the ticket history; every step prints its time."""
    cur = conn.cursor()
    cur.execute("SELECT setseed(0.42)")

    def step(label: str, sql: str, params: dict[str, Any] | None = None) -> None:
        started = time.perf_counter()
        cur.execute(sql, params or {})
        conn.commit()
        say(f"  {label}: {time.perf_counter() - started:.1f} s")

    streets = [
        f"{STREET_WORDS[i % len(STREET_WORDS)]}{'' if i < 20 else '新'}街道"
        for i in range(scale.streets)
    ]
    names = community_names(scale.communities)
    with cur.copy(
        "COPY community (id, name, street, hotline, settings, created_at) FROM STDIN"
    ) as copy:
        for i, name in enumerate(names, start=1):
            street = streets[(i - 1) % len(streets)]
            copy.write_row((i, name, street, f"0571-8{i:07d}", "{}", now))
    conn.commit()
    gpc, bpc, wpc = (
        scale.grids_per_community,
        scale.buildings_per_community,
        scale.workers_per_community,
    )
    step(
        f"{scale.grids:,} grids",
        """INSERT INTO grid (id, community_id, parent_id, name, level)
           SELECT g, (g - 1) / %(gpc)s + 1, NULL, '第' || ((g - 1) %% %(gpc)s + 1) || '网格', 'grid'
           FROM generate_series(1, %(n)s::int) g""",
        {"gpc": gpc, "n": scale.grids},
    )
    step(
        f"{scale.buildings:,} buildings",
        """INSERT INTO building (id, community_id, grid_id, name, aliases, latitude, longitude,
                                 code)
           SELECT b, c, (c - 1) * %(gpc)s + (k - 1) %% %(gpc)s + 1, k || '幢',
                  json_build_array(k || '号楼', k || '栋'),
                  30.2 + (c %% 20) * 0.01 + (k %% 10) * 0.0004,
                  120.1 + (c / 20) * 0.01 + (k / 10) * 0.0004,
                  -- storage.registry_repository.building_code: the stairwell QR code
                  'b1.' || left(encode(sha256(convert_to(
                      community.name || chr(31) || k || '幢', 'UTF8')), 'hex'), 16)
           FROM (SELECT b, (b - 1) / %(bpc)s + 1 AS c, (b - 1) %% %(bpc)s + 1 AS k
                 FROM generate_series(1, %(n)s::int) b) s
           JOIN community ON community.id = s.c""",
        {"gpc": gpc, "bpc": bpc, "n": scale.buildings},
    )
    # per community: one grid worker per grid (every tenth off duty), then community staff
    step(
        f"{scale.workers:,} workers",
        """INSERT INTO gridworker (id, name, role, community_id, grid_id, phone, on_duty, active,
                                   created_at)
           SELECT w, '网格员' || w,
                  CASE WHEN k <= %(gpc)s THEN 'grid_worker' ELSE 'community_staff' END, c,
                  CASE WHEN k <= %(gpc)s THEN (c - 1) * %(gpc)s + k END,
                  '139' || lpad(w::text, 8, '0'), w %% 10 <> 0, true, %(now)s
           FROM (SELECT w, (w - 1) / %(wpc)s + 1 AS c, (w - 1) %% %(wpc)s + 1 AS k
                 FROM generate_series(1, %(n)s::int) w) s""",
        {"gpc": gpc, "wpc": wpc, "n": scale.workers, "now": now},
    )
    step(
        f"{scale.residents:,} residents",
        """INSERT INTO resident (id, display_name, phone, community_id, building_id, unit, room,
                                 locale, created_at)
           SELECT r, '', '137' || lpad(r::text, 8, '0'), (b - 1) / %(bpc)s + 1, b,
                  (1 + r %% 4)::text, (100 * (1 + r %% 18) + 1 + r %% 4)::text, 'zh', %(now)s
           FROM (SELECT r, 1 + (r::bigint * 7919) %% %(nb)s AS b
                 FROM generate_series(1, %(n)s::int) r) s""",
        {"bpc": bpc, "nb": scale.buildings, "n": scale.residents, "now": now},
    )
    # bulk load: the ticket table's secondary indexes are built once afterwards, not row by row
    cur.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ticket' "
        "AND indexdef NOT LIKE 'CREATE UNIQUE%%'"
    )
    secondary = cur.fetchall()
    for name, _ in secondary:
        cur.execute(f'DROP INDEX "{name}"')
    # the dashboard's daily counts (migration 0021): rebuilt once from the loaded tickets
    # instead of a trigger upserting five counts per row
    cur.execute("ALTER TABLE ticket DISABLE TRIGGER ticketdaily_insert_delete")
    conn.commit()
    categories = list(PROBLEMS)
    phrases = [(c, p) for c in categories for p in PROBLEMS[c]]
    span = DAYS * 86400.0
    if scale.tickets / DAYS >= 9000:
        raise SystemExit("more than 9,000 tickets a day do not fit MH-YYYYMMDD-NNNN")
    local = now.astimezone(LOCAL_TZ)
    end = datetime.combine(local.date(), datetime.min.time(), tzinfo=LOCAL_TZ).astimezone(UTC)
    for start in range(1, scale.tickets + 1, CHUNK):
        stop = min(scale.tickets, start + CHUNK - 1)
        step(
            f"tickets {start:,}–{stop:,}",
            f"""
            INSERT INTO ticket (number, community_id, category, priority, status, description,
                building_id, building_name, unit, room, location_note, grid_id, assignee_id,
                resident_id, channel, channel_user_id, contact_phone, extra, rating,
                rating_comment, reopen_count, tier, created_at, updated_at, assigned_at,
                accepted_at, resolved_at, closed_at, source_message_id)
            SELECT 'MH-' || to_char(at AT TIME ZONE 'UTC' AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD')
                    || '-' || lpad((i %% 10000)::text, 4, '0'),
                b.community_id, ({_sql_array([c for c, _ in phrases])})[p],
                CASE WHEN r1 < 0.03 THEN 'urgent' WHEN r1 < 0.15 THEN 'high' ELSE 'normal' END,
                st, b.name || ({_sql_array([p for _, p in phrases])})[p] || '，'
                    || ({_sql_array(DETAILS)})[d],
                b.id, b.name, (1 + i %% 4)::text, (100 * (1 + i %% 18) + 1 + i %% 4)::text,
                '', b.grid_id, (b.community_id - 1) * %(wpc)s + 1 + (b.grid_id - 1) %% %(gpc)s,
                1 + (i * 31) %% %(nr)s, 'wechat', 'o' || (1 + (i * 31) %% %(nr)s),
                '137' || lpad((1 + (i * 31) %% %(nr)s)::text, 8, '0'), '{{}}',
                CASE WHEN st = 'closed' AND r2 < 0.6 THEN 3 + (i %% 3) END, '', 0, '',
                at, at + interval '1 hour', at + interval '1 minute',
                CASE WHEN st NOT IN ('submitted', 'assigned', 'cancelled')
                     THEN at + (5 + r2 * 115) * interval '1 minute' END,
                CASE WHEN st IN ('resolved', 'closed')
                     THEN at + (1 + r2 * 70) * interval '1 hour' END,
                CASE WHEN st = 'closed' THEN at + (2 + r2 * 70) * interval '1 hour' END,
                ''
            FROM (
                SELECT i, at, r1, r2, p, d, 1 + floor(random() * %(nb)s)::int AS bid,
                    CASE
                        WHEN at < %(now)s - interval '10 days'
                            THEN CASE WHEN r1 < 0.95 THEN 'closed' ELSE 'cancelled' END
                        WHEN r1 < 0.30 THEN 'closed' WHEN r1 < 0.45 THEN 'resolved'
                        WHEN r1 < 0.55 THEN 'assigned' WHEN r1 < 0.70 THEN 'accepted'
                        WHEN r1 < 0.85 THEN 'in_progress' WHEN r1 < 0.90 THEN 'submitted'
                        WHEN r1 < 0.95 THEN 'escalated' ELSE 'cancelled'
                    END AS st
                FROM (
                    SELECT i,
                        %(end)s - (%(n)s::int - i + 1) * %(step)s::float8 * interval '1 second'
                            AS at,
                        random() AS r1, random() AS r2,
                        1 + floor(random() * {len(phrases)})::int AS p,
                        1 + floor(random() * {len(DETAILS)})::int AS d
                    FROM generate_series(%(start)s::int, %(stop)s::int) i
                ) raw
            ) s JOIN building b ON b.id = s.bid
            ORDER BY i""",
            {
                "start": start,
                "stop": stop,
                "n": scale.tickets,
                "step": span / scale.tickets,
                "now": now,
                "end": end,
                "nb": scale.buildings,
                "nr": scale.residents,
                "wpc": wpc,
                "gpc": gpc,
            },
        )
    for name, definition in secondary:
        step(f"index {name}", definition)
    step("daily counts (ticketdaily_rebuild)", "SELECT ticketdaily_rebuild()")
    cur.execute("ALTER TABLE ticket ENABLE TRIGGER ticketdaily_insert_delete")
    conn.commit()
    # numbers MH-YYYYMMDD-NNNN: a day's tickets are consecutive (fewer than 10,000 a day), so
    # i mod 10,000 is unique within the day; history ends at local midnight, today starts at 1
    # open tickets: a resolve clock each, due within three days; the sweep fires the due ones
    step(
        "SLA clocks",
        """INSERT INTO ticketclock (ticket_id, kind, level, status, due_at, target_seconds,
                                    started_at, attempts, claim_token, outcome, last_error)
           SELECT id, 'resolve', 1, 'pending', %(now)s + (id %% 4320) * interval '1 minute',
                  259200, created_at, 0, '', '', ''
           FROM ticket WHERE status IN ('submitted', 'assigned', 'accepted', 'in_progress',
                                        'escalated', 'reopened', 'transferred')""",
        {"now": now},
    )
    for table in (
        "community",
        "grid",
        "building",
        "gridworker",
        "resident",
        "ticket",
        "ticketclock",
    ):
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )
    conn.commit()
    conn.autocommit = True
    started = time.perf_counter()
    cur.execute("VACUUM ANALYZE")
    say(f"  vacuum analyze: {time.perf_counter() - started:.1f} s")
    conn.autocommit = False


# --- measurements -------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    target_ms: float | None
    samples: list[float] = field(default_factory=list)
    note: str = ""

    def pct(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        p50, p99 = statistics.median(self.samples), self.pct(0.99)
        target = f"≤ {self.target_ms:g}" if self.target_ms is not None else "—"
        verdict = "" if self.target_ms is None else ("ok" if p99 <= self.target_ms else "MISSED")
        return (
            f"{self.name:<34} {len(self.samples):>5} {p50:>9.2f} {p99:>9.2f} {target:>8} "
            f"{verdict:<6} {self.note}"
        )


HEADER = f"{'figure':<34} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'target':>8} verdict"


async def timed(figure: Figure, runs: int, action: Callable[[int], Awaitable[Any]]) -> None:
    for i in range(runs):
        started = time.perf_counter()
        await action(i)
        figure.samples.append((time.perf_counter() - started) * 1000)
    print(f"  … {figure.name}: p50 {statistics.median(figure.samples):.1f} ms", flush=True)


async def measure(url: str, scale: Scale, runs: int, now: datetime) -> list[Figure]:
    from bot.admin import dashboard
    from handlers.accounts import Principal, Role
    from handlers.address import resolve_building
    from handlers.conversations.context import RegistryCache
    from handlers.dialogue.prompts import building_buttons
    from handlers.lifecycle import Actor
    from handlers.sla_service import SlaSweeper
    from handlers.ticket_service import TicketService
    from handlers.tickets.common import LifecycleConfig
    from storage.admin_types import TicketFilter
    from storage.db import Database
    from storage.models import Ticket
    from storage.repositories import SqlStore

    class Clock:
        def now(self) -> datetime:
            return now + timedelta(seconds=time.perf_counter() - started)

    started = time.perf_counter()
    database = Database(url)
    store = SqlStore(database)
    clock = Clock()
    tickets = TicketService(store=store, clock=clock, config=LifecycleConfig())
    rng = random.Random(7)
    names = community_names(scale.communities)
    figures: list[Figure] = []

    registry_load = Figure("registry load + index", None)
    await timed(registry_load, 3, lambda _: RegistryCache(store, 0).get())
    cache = RegistryCache(store, 0)  # every get() asks the database whether it changed
    registry = await cache.get()
    registry_check = Figure("registry unchanged (digest)", None)
    await timed(registry_check, 10, lambda _: cache.get())
    figures += [registry_load, registry_check]

    match = Figure("building match, own community", 5)

    async def match_own(_: int) -> None:
        cid = rng.randint(1, scale.communities)
        k = rng.randint(1, scale.buildings_per_community)
        found = resolve_building(f"{k}号楼", registry.buildings, community_id=cid)
        if len(found) != 1 or found[0].community_id != cid:
            raise SystemExit(f"building match wrong: {k}号楼 in {cid}: {found}")

    await timed(match, runs * 10, match_own)
    figures.append(match)

    named = Figure("building match, '<小区>3幢'", 5)

    async def match_named(_: int) -> None:
        cid = rng.randint(1, scale.communities)
        found = resolve_building(f"{names[cid - 1]}3幢", registry.buildings)
        if len(found) != 1 or found[0].community_id != cid:
            raise SystemExit(f"building match wrong: {names[cid - 1]}3幢: {found}")

    await timed(named, runs * 10, match_named)
    figures.append(named)

    nobody = Figure("no community: '3幢' (choices)", None)
    offered: list[int] = []

    async def match_nowhere(_: int) -> None:
        found = resolve_building("3幢", registry.buildings)
        offered.append(len(building_buttons(found)))

    await timed(nobody, runs, match_nowhere)
    nobody.note = f"{len(registry.buildings.for_key('3幢'))} matches → {max(offered)} buttons"
    figures.append(nobody)

    routing = Figure("routing", 5)

    async def route_one(_: int) -> None:
        b = rng.randint(1, scale.buildings)
        cid = (b - 1) // scale.buildings_per_community + 1
        grid = (cid - 1) * scale.grids_per_community + (b - 1) % scale.grids_per_community + 1
        async with store.unit() as uow:
            decision = await tickets.route(
                uow, Ticket(number="x", category="other", community_id=cid, grid_id=grid)
            )
        if decision.worker is None:
            raise SystemExit("routing found nobody")

    await timed(routing, runs, route_one)
    figures.append(routing)

    create = Figure("ticket creation (file + route)", None)

    async def create_one(i: int) -> None:
        b = rng.randint(1, scale.buildings)
        cid = (b - 1) // scale.buildings_per_community + 1
        async with store.unit() as uow:
            building = await uow.registry.building(b)
            assert building is not None
            await tickets.find_duplicate(
                uow,
                category="elevator",
                community_id=cid,
                building_id=b,
                latitude=None,
                longitude=None,
                channel="wechat",
                user_id=f"bench{i}",
            )
            number = await uow.tickets.next_number(clock.now().strftime("%Y%m%d"))
            ticket = Ticket(
                number=number,
                community_id=cid,
                category="elevator",
                description="电梯坏了（压测）",
                building_id=b,
                building_name=building.name,
                grid_id=building.grid_id,
                channel="wechat",
                channel_user_id=f"bench{i}",
            )
            await tickets.file(uow, ticket, actor=Actor.resident(None))

    await timed(create, runs, create_one)
    figures.append(create)

    c = SimpleNamespace(clock=clock, store=store, service=SimpleNamespace(tickets=tickets))
    admin = Principal(user_id=1, username="admin", display_name="", role=Role.ADMIN)
    staff = Principal(
        user_id=2, username="staff", display_name="", role=Role.COMMUNITY_STAFF, community_id=1
    )
    board = Figure("dashboard, whole city (30 days)", 300)
    await timed(board, max(3, runs // 20), lambda _: dashboard.stats(c, admin))  # type: ignore[arg-type]
    figures.append(board)
    board_c = Figure("dashboard, one community", 300)
    await timed(board_c, max(3, runs // 10), lambda _: dashboard.stats(c, staff))  # type: ignore[arg-type]
    figures.append(board_c)

    async def search(f: TicketFilter) -> None:
        # what the console's list asks: a page of 50, matches counted up to 1,000 ("1000+ 条")
        async with store.unit() as uow:
            await uow.ticket_queries.page(f, limit=50, count_up_to=1000)

    listing = Figure("ticket list: community + open", 100)
    open_statuses = ("submitted", "assigned", "accepted", "in_progress", "escalated")
    await timed(
        listing,
        runs // 2,
        lambda _: search(
            TicketFilter(statuses=open_statuses, community_ids=(rng.randint(1, scale.communities),))
        ),
    )
    figures.append(listing)
    async with database.engine.connect() as conn:
        number, phone = (
            await conn.execute(
                sa.text(
                    "SELECT number, contact_phone FROM ticket WHERE contact_phone <> '' "
                    "ORDER BY id DESC LIMIT 1"
                )
            )
        ).one()
    # a ticket number and a phone number (a handful of matches), phrases residents write
    # (each in ~2 % of all tickets), and a two-character word (no trigram: a full scan)
    terms = [number, phone, "电梯门关不上", "飞线充电", "消防通道", "漏水"]
    for term in terms:
        found = Figure(f"ticket search '{term}' (city)", 100)
        await timed(found, max(3, runs // 10), lambda _, q=term: search(TicketFilter(query=q)))
        figures.append(found)
    scoped = Figure("ticket search, one community", 100)
    await timed(
        scoped,
        runs // 2,
        lambda _: search(
            TicketFilter(
                query=rng.choice(terms[2:5]), community_ids=(rng.randint(1, scale.communities),)
            )
        ),
    )
    figures.append(scoped)

    o311 = Figure("Open311 requests.json (90 days)", None)
    start_date = (now - timedelta(days=80)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end_date = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await timed(
        o311,
        runs // 4,
        lambda _: tickets.open311_requests(
            {
                "service_code": rng.choice(list(PROBLEMS)),
                "start_date": start_date,
                "end_date": end_date,
            }
        ),
    )
    figures.append(o311)
    async with store.unit() as uow:
        recent = [t.number for t in await uow.tickets.search(limit=200)]
    one = Figure("Open311 requests/{id}.json", None)
    await timed(one, runs // 2, lambda i: tickets.open311_request(recent[i % len(recent)], {}))
    figures.append(one)

    async with database.engine.begin() as conn:
        due = max(10, min(200, scale.tickets // 1000))
        # only the clocks marked here are due, however long ago the city was generated
        await conn.execute(
            sa.text(
                "UPDATE ticketclock SET due_at = :later WHERE status = 'pending' AND due_at <= :now"
            ),
            {
                "later": (now + timedelta(days=3)).replace(tzinfo=None),
                "now": now.replace(tzinfo=None),
            },
        )
        await conn.execute(
            sa.text(
                "UPDATE ticketclock SET due_at = :at WHERE id IN "
                "(SELECT id FROM ticketclock WHERE status = 'pending' ORDER BY id LIMIT :n)"
            ),
            {"at": (now - timedelta(minutes=1)).replace(tzinfo=None), "n": due},
        )
    sweeper = SlaSweeper(store, tickets, clock, batch=100)
    sweep = Figure(f"SLA sweep ({due} due clocks)", None)
    fired: list[int] = []

    async def sweep_once(_: int) -> None:
        result = await sweeper.run_once()
        fired.append(result.claimed)

    await timed(sweep, 1, sweep_once)
    idle = Figure("SLA sweep, nothing due", None)
    await timed(idle, runs // 4, sweep_once)
    sweep.note = f"claimed {fired[0]}"
    figures += [sweep, idle]
    await database.dispose()
    return figures


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1 = the full city; 0.002 = a smoke"
    )
    parser.add_argument(
        "--runs", type=int, default=200, help="samples per figure (fewer for slow ones)"
    )
    parser.add_argument("--database", default="minhu_city", help="dropped and created")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="measure an existing city (skip generation)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # workers without channels: not what is measured

    server = make_url(
        os.environ.get("MINHU_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    url = server.set(database=args.database).render_as_string(hide_password=False)
    admin_url = server.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    scale = Scale.of(args.scale)
    say = lambda line: print(line, flush=True)  # noqa: E731
    say(
        f"city scale {args.scale:g}: {scale.streets} streets, {scale.communities} communities, "
        f"{scale.grids:,} grids, {scale.buildings:,} buildings, {scale.workers:,} workers, "
        f"{scale.residents:,} residents, {scale.tickets:,} tickets"
    )
    say(f"load average before: {_load()} ({os.cpu_count()} cores)")
    now = datetime.now(UTC).replace(microsecond=0)
    if not args.reuse:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{args.database}"')
    from storage.db import upgrade

    try:
        if not args.reuse:
            started = time.perf_counter()
            upgrade(url)
            say(f"  schema (minhu db upgrade): {time.perf_counter() - started:.1f} s")
            city = server.set(drivername="postgresql", database=args.database)
            with psycopg.connect(city.render_as_string(hide_password=False)) as conn:
                generate(conn, scale, now, say)
            say(f"generated in {time.perf_counter() - started:.1f} s")
        else:
            upgrade(url)  # new indexes land on the kept city (pass the --scale it was made with)
        figures = asyncio.run(measure(url, scale, args.runs, now))
    finally:
        # a failed run drops its city too (unless kept or reused)
        if not args.keep and not args.reuse:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    say("")
    say(HEADER)
    for figure in figures:
        say(figure.line())
    say(f"load average after: {_load()}")
    missed = [f.name for f in figures if f.target_ms is not None and f.pct(0.99) > f.target_ms]
    if missed:
        say(f"missed targets: {', '.join(missed)}")


if __name__ == "__main__":
    main()
