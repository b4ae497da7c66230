"""The dashboard: tickets by category / grid / status, times to accept and resolve, share
resolved within target, satisfaction and a 30-day trend — over the caller's scope."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.admin.charts import bar_chart, column_chart, line_chart
from bot.admin.tickets import targets_of
from bot.container import Container
from handlers.accounts import Principal
from handlers.flows import category_label
from handlers.lifecycle import OPEN_STATUSES
from handlers.notices import LOCAL_TZ
from handlers.overdue import overdue_filter, resolve_targets
from handlers.permissions import visible_tickets
from handlers.staff_ticket_service import load_names
from handlers.staff_words import staff_status as status_text
from storage.admin_types import TicketFilter


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


async def stats(c: Container, p: Principal, *, days: int = 30) -> dict[str, Any]:
    """Figures for the last ``days`` days (tickets reported in that window)."""
    now = c.clock.now()
    targets = targets_of(c)
    today = now.astimezone(LOCAL_TZ).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=LOCAL_TZ)
    async with c.store.unit() as uow:
        names = await load_names(uow)
        tree = {g.id: g.parent_id for g in names.grids.values() if g.id is not None}
        scope = visible_tickets(p.subject, tree)
        seen = TicketFilter(
            community_ids=scope.community_ids,
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
        _, overdue_now = await uow.ticket_queries.search(
            replace(seen, overdue=overdue_filter(now, targets)), limit=1
        )
    by_category = _counter(counts.by_category)
    by_grid = _counter((names.grid(g) or "未分网格", n) for g, n in counts.by_grid)
    by_status = _counter(counts.by_status)
    ratings = counts.ratings
    rated = sum(ratings.values())
    created_per_day, resolved_per_day = counts.created_per_day, counts.resolved_per_day
    day_list = [first + timedelta(days=i) for i in range(days)]
    return {
        "days": days,
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
