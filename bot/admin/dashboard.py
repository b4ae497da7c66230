"""The dashboard: tickets by category / grid / status, times to accept and resolve, share
resolved within target, satisfaction and a 30-day trend — over the caller's scope."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.admin.charts import bar_chart, column_chart, line_chart
from bot.admin.tickets import targets_of
from bot.container import Container
from bot.street import street_desk
from handlers.accounts import Principal
from handlers.flows import category_label
from handlers.lifecycle import OPEN_STATUSES
from handlers.notices import LOCAL_TZ
from handlers.overdue import overdue_filter, resolve_targets
from handlers.permissions import visible_tickets
from handlers.staff_words import staff_status as status_text
from handlers.tickets.access import grid_tree_of
from storage.admin_types import CommunityCounts, TicketFilter
from storage.models import Street


def duration_text(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    if minutes < 60:
        return f"{minutes:.0f}分钟"
    hours, rest = divmod(round(minutes), 60)
    if hours < 48:
        return f"{hours}小时{rest}分" if rest else f"{hours}小时"
    return f"{hours / 24:.1f}天"


def _rounded(minutes: float | None) -> float | None:
    return round(minutes, 1) if minutes is not None else None


def _counter(pairs: Iterable[tuple[Any, int]]) -> Counter[Any]:
    # keys enter in the order their first ticket appeared: most_common breaks ties that way
    counter: Counter[Any] = Counter()
    for key, n in pairs:
        counter[key] += n
    return counter


async def stats(
    c: Container, p: Principal, *, days: int = 30, street_id: int | None = None
) -> dict[str, Any]:
    """Figures for the last ``days`` days (tickets reported in that window), of one street
    when ``street_id`` is given (403 outside the caller's area), with a per-street table.

    Raises:
        NotFound, NotAllowed: the street does not exist or is not the caller's.
    """
    now = c.clock.now()
    targets = targets_of(c)
    today = now.astimezone(LOCAL_TZ).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=LOCAL_TZ)
    async with c.store.unit() as uow:
        scope = visible_tickets(p.subject, await grid_tree_of(uow, p.subject.grid_id))
        community_ids = scope.community_ids
        if street_id is not None:
            community_ids = await street_desk(c).scope(uow, p, street_id)
        seen = TicketFilter(
            community_ids=community_ids,
            grid_ids=scope.grid_ids or (),
            assignee_id=scope.assignee_id,
        )
        # aggregated by the database: a city's month is ~150,000 tickets
        counts = await uow.ticket_queries.dashboard(
            replace(seen, created_from=since),
            open_statuses=OPEN_STATUSES,
            targets=resolve_targets(targets),
            zone=LOCAL_TZ.key,
        )
        overdue_now = sum(
            (
                await uow.ticket_queries.count_by(
                    replace(seen, overdue=overdue_filter(now, targets)), "status"
                )
            ).values()
        )
        # names of what the figures count: one community's grids, not the city's thousands
        grid_ids = [g for g, _ in counts.by_grid if g is not None]
        if community_ids is None and grid_ids:
            # the whole city counts nearly every grid: reading them all (3,600: 20 ms) beats
            # naming 3,600 ids in an IN list (170–370 ms)
            grids = await uow.registry.grids()
        else:
            grids = await uow.registry.grids(ids=grid_ids) if grid_ids else ()
        grid_names = {g.id: g.name for g in grids}
        counted = [x.community_id for x in counts.by_community if x.community_id is not None]
        street_of = {
            x.id: x.street_id
            for x in (await uow.registry.communities(ids=counted) if counted else ())
            if x.id is not None
        }
        streets = {s.id: s for s in await uow.streets.all() if s.id is not None}
    by_category = _counter(counts.by_category)
    by_grid = _counter((grid_names.get(g, "") or "未分网格", n) for g, n in counts.by_grid)
    by_status = _counter(counts.by_status)
    ratings = counts.ratings
    rated = sum(ratings.values())
    created_per_day, resolved_per_day = counts.created_per_day, counts.resolved_per_day
    day_list = [first + timedelta(days=i) for i in range(days)]
    return {
        "days": days,
        "street_id": street_id,
        "street": streets[street_id].name if street_id in streets else None,
        "by_street": _by_street(counts.by_community, street_of, streets),
        "from": first.isoformat(),
        "to": today.isoformat(),
        "total": counts.total,
        "open": counts.open,
        "overdue_now": overdue_now,
        "by_category": [
            {"category": k, "label": category_label(k), "count": n}
            for k, n in by_category.most_common()
        ],
        "by_grid": [{"grid": k, "count": n} for k, n in by_grid.most_common()],
        "by_status": [
            {"status": k, "label": status_text(k), "count": n} for k, n in by_status.most_common()
        ],
        "median_accept_minutes": _rounded(counts.median_accept_minutes),
        "median_resolve_minutes": _rounded(counts.median_resolve_minutes),
        "resolved": counts.resolved,
        "resolved_in_time_share": round(counts.resolved_in_time / counts.resolved, 4)
        if counts.resolved
        else None,
        "satisfaction": {
            "rated": rated,
            "average": round(sum(r * n for r, n in ratings.items()) / rated, 2) if rated else None,
            "distribution": {str(s): ratings.get(s, 0) for s in range(1, 6)},
        },
        "trend": [
            {
                "day": d.isoformat(),
                "created": created_per_day.get(d, 0),
                "resolved": resolved_per_day.get(d, 0),
            }
            for d in day_list
        ],
    }


def _by_street(
    communities: list[CommunityCounts],
    street_of: dict[int, int | None],
    streets: dict[int, Street],
) -> list[dict[str, Any]]:
    """One row per street (and one for communities without a street) of what is in scope."""
    groups: dict[int | None, list[CommunityCounts]] = defaultdict(list)
    for c in communities:
        groups[street_of.get(c.community_id or 0)].append(c)
    rows = []
    for sid, items in groups.items():
        resolved = sum(c.resolved for c in items)
        rated = sum(c.rated for c in items)
        rows.append(
            {
                "street_id": sid,
                "street": streets[sid].name if sid in streets else "未归属街道",
                "communities": len({c.community_id for c in items}),
                "total": sum(c.total for c in items),
                "open": sum(c.open for c in items),
                "resolved": resolved,
                "resolved_in_time_share": round(
                    sum(c.resolved_in_time for c in items) / resolved, 4
                )
                if resolved
                else None,
                "average_rating": round(sum(c.rating_sum for c in items) / rated, 2)
                if rated
                else None,
            }
        )
    return sorted(rows, key=lambda r: (r["street_id"] is None, r["street"]))


def to_csv(data: dict[str, Any]) -> str:
    """The dashboard's figures as CSV (UTF-8 with BOM, so Excel reads the Chinese): one row
    per figure, then one per category, grid, status and day."""
    rows: list[tuple[str, str, object]] = [
        ("统计区间", f"{data['from']} 至 {data['to']}", f"近{data['days']}天上报的工单"),
        ("工单", "", data["total"]),
        ("处理中", "", data["open"]),
        ("当前超时", "", data["overdue_now"]),
        ("已办结", "", data["resolved"]),
        ("按时办结率", "", _share(data["resolved_in_time_share"])),
        ("接单时长中位数（分钟）", "", data["median_accept_minutes"]),
        ("办结时长中位数（分钟）", "", data["median_resolve_minutes"]),
        ("评价数", "", data["satisfaction"]["rated"]),
        ("平均评价（满分5星）", "", data["satisfaction"]["average"]),
    ]
    rows += [("按类别", x["label"], x["count"]) for x in data["by_category"]]
    rows += [("按网格", x["grid"], x["count"]) for x in data["by_grid"]]
    rows += [("按街道", x["street"], x["total"]) for x in data.get("by_street") or []]
    rows += [("按状态", x["label"], x["count"]) for x in data["by_status"]]
    rows += [(f"{s}星评价", "", n) for s, n in data["satisfaction"]["distribution"].items()]
    for day in data["trend"]:
        rows.append(("每日新增", day["day"], day["created"]))
        rows.append(("每日办结", day["day"], day["resolved"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["项目", "分项", "数值"])
    for row in rows:
        # a cell starting with = + - @ would be a formula in a spreadsheet
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in map(_cell, row)])
    return "\ufeff" + buffer.getvalue()


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def charts(data: dict[str, Any]) -> dict[str, str]:
    """The SVG charts of :func:`stats`."""
    return {
        "category": bar_chart(
            [(x["label"], x["count"]) for x in data["by_category"]], title="按类别"
        ),
        "grid": bar_chart(
            [(x["grid"], x["count"]) for x in data["by_grid"]], title="按网格", color="#1a7f37"
        ),
        "status": bar_chart(
            [(x["label"], x["count"]) for x in data["by_status"]], title="按状态", color="#8250df"
        ),
        "ratings": column_chart(
            [(f"{s}星", data["satisfaction"]["distribution"][str(s)]) for s in range(1, 6)],
            title="居民评价",
            colors=("#cf222e", "#e16f24", "#bf8700", "#2da44e", "#1a7f37"),
        ),
        "trend": line_chart(
            [d["day"][5:] for d in data["trend"]],
            [
                ("新报事", [d["created"] for d in data["trend"]]),
                ("办结", [d["resolved"] for d in data["trend"]]),
            ],
            title=f"近{data['days']}天趋势",
        ),
    }
