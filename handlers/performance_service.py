"""The map of buildings and the people's performance (I/O to load, pure to compute).

``map_of`` places every registered building with coordinates on a plane (an equirectangular
projection of its bounding box: a community spans a few hundred metres, where that is exact
enough) with its open, overdue and recent ticket counts, so the console draws an SVG that
needs no tile server. With a tile URL configured, ``tiles`` lists the Web-Mercator tiles
that cover the same box.

``performance`` gives each grid worker and each grid: open load, median accept and resolve
time, overdue share and mean rating over the tickets reported in a window.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from handlers.accounts import Principal
from handlers.flows import category_label
from handlers.guards import require_some
from handlers.lifecycle import OPEN, Status, is_open
from handlers.overdue import Targets, overdue_kind
from handlers.permissions import Action, GridTree, visible_tickets
from handlers.ports import Clock
from handlers.staff_ticket_service import load_names
from storage.admin_types import TicketFilter
from storage.interfaces import Store
from storage.models import Building, Hotspot, Ticket

LIMIT = 20_000
WIDTH, HEIGHT, PAD = 800, 560, 48
HOTSPOT = 3  # tickets reported at a building in the window that make it a hotspot


@dataclass(slots=True)
class Stats:
    """Counts and durations of one worker or grid."""

    name: str
    key: int
    open: int = 0
    total: int = 0
    overdue: int = 0
    accept: list[float] = field(default_factory=list)  # minutes
    resolve: list[float] = field(default_factory=list)  # hours
    ratings: list[int] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {
            "id": self.key,
            "name": self.name,
            "open": self.open,
            "total": self.total,
            "median_accept_minutes": _median(self.accept),
            "median_resolve_hours": _median(self.resolve),
            "overdue_share": round(self.overdue / self.total, 3) if self.total else None,
            "rating": round(statistics.fmean(self.ratings), 2) if self.ratings else None,
            "rated": len(self.ratings),
        }


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def compute(
    tickets: Sequence[Ticket],
    *,
    key: Callable[[Ticket], int | None],
    name: Callable[[int], str],
    now: datetime,
    targets: Targets,
) -> list[dict[str, Any]]:
    """Per-person (or per-grid) figures over the tickets (pure)."""
    out: dict[int, Stats] = {}
    for t in tickets:
        k = key(t)
        if k is None:
            continue
        s = out.setdefault(k, Stats(name(k), k))
        s.total += 1
        s.open += is_open(t.status)
        late = overdue_kind(
            status=t.status,
            category=t.category,
            priority=t.priority,
            created_at=t.created_at,
            assigned_at=t.assigned_at,
            now=now,
            targets=targets,
        )
        accepted_late = bool(
            t.accepted_at
            and t.accepted_at - (t.assigned_at or t.created_at)
            > targets.accept_for(t.category, t.priority)
        )
        s.overdue += bool(late) or accepted_late
        if t.accepted_at:
            s.accept.append((t.accepted_at - (t.assigned_at or t.created_at)).total_seconds() / 60)
        if t.resolved_at:
            s.resolve.append((t.resolved_at - t.created_at).total_seconds() / 3600)
        if t.rating:
            s.ratings.append(t.rating)
    return sorted((s.row() for s in out.values()), key=lambda r: (-r["open"], r["name"]))


COLUMNS = (
    ("name", "姓名/网格"),
    ("open", "在办"),
    ("total", "期间工单"),
    ("median_accept_minutes", "接单中位数（分钟）"),
    ("median_resolve_hours", "办结中位数（小时）"),
    ("overdue_share", "超时占比"),
    ("rating", "平均评价"),
    ("rated", "评价数"),
)


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([label for _, label in COLUMNS])
    for row in rows:
        cells = []
        for key, _ in COLUMNS:
            value = row.get(key)
            if key == "overdue_share" and value is not None:
                value = f"{value:.0%}"
            text = "" if value is None else str(value)
            cells.append("'" + text if text[:1] in ("=", "+", "-", "@") else text)
        writer.writerow(cells)
    return "\ufeff" + buffer.getvalue()


# --- the map -------------------------------------------------------------------------------------


def project(
    buildings: Sequence[Building],
) -> tuple[dict[int, tuple[float, float]], tuple[float, ...]]:
    """Building id → (x, y) in the SVG box, and the (south, west, north, east) box (pure)."""
    placed = [b for b in buildings if b.latitude is not None and b.longitude is not None]
    if not placed:
        return {}, ()
    lats = [float(b.latitude or 0) for b in placed]
    lons = [float(b.longitude or 0) for b in placed]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    # metres per degree differ: scale longitude by cos(latitude) so the map is not stretched
    k = math.cos(math.radians((south + north) / 2))
    span_x = max((east - west) * k, 1e-6)
    span_y = max(north - south, 1e-6)
    scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)
    off_x = (WIDTH - span_x * scale) / 2
    off_y = (HEIGHT - span_y * scale) / 2
    points = {
        b.id or 0: (
            round(off_x + (float(b.longitude or 0) - west) * k * scale, 1),
            round(off_y + (north - float(b.latitude or 0)) * scale, 1),
        )
        for b in placed
    }
    margin_lon = (off_x / scale) / k
    margin_lat = off_y / scale
    return points, (south - margin_lat, west - margin_lon, north + margin_lat, east + margin_lon)


def tiles(box: tuple[float, ...], url: str, *, max_zoom: int = 19) -> list[dict[str, Any]]:
    """Web-Mercator tiles covering the box, placed in the SVG's coordinates (pure).

    The SVG above uses an equirectangular projection; over a few hundred metres the two
    agree to well under a pixel at this size.
    """
    if not box or not url:
        return []
    south, west, north, east = box

    def xy(lat: float, lon: float, z: int) -> tuple[float, float]:
        n = 2**z
        x = (lon + 180) / 360 * n
        y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
        return x, y

    zoom = max_zoom
    while zoom > 1:
        x0, y0 = xy(north, west, zoom)
        x1, y1 = xy(south, east, zoom)
        if (x1 - x0) * 256 <= WIDTH * 1.5:
            break
        zoom -= 1
    x0, y0 = xy(north, west, zoom)
    x1, y1 = xy(south, east, zoom)
    sx, sy = WIDTH / max(x1 - x0, 1e-9), HEIGHT / max(y1 - y0, 1e-9)
    out = []
    for tx in range(int(x0), int(x1) + 1):
        for ty in range(int(y0), int(y1) + 1):
            out.append(
                {
                    "href": url.format(z=zoom, x=tx, y=ty),
                    "x": round((tx - x0) * sx, 1),
                    "y": round((ty - y0) * sy, 1),
                    "w": round(sx, 1),
                    "h": round(sy, 1),
                }
            )
    return out[:64]


class PerformanceDesk:
    """The map and the performance tables of what the principal may see.

    Args:
        store: units of work over the database.
        clock: the time source.
        targets: the SLA targets (overdue).
        tile_url: a tile server template (``https://…/{z}/{x}/{y}.png``); empty: no tiles.
    """

    def __init__(self, store: Store, clock: Clock, targets: Targets, tile_url: str = "") -> None:
        self.store = store
        self.clock = clock
        self.targets = targets
        self.tile_url = tile_url

    async def _tickets(self, p: Principal, days: int) -> tuple[list[Ticket], Any, GridTree]:
        require_some(p.subject, Action.VIEW)
        now = self.clock.now()
        async with self.store.unit() as uow:
            names = await load_names(uow)
            tree = {g.id: g.parent_id for g in names.grids.values() if g.id is not None}
            scope = visible_tickets(p.subject, tree)
            f = TicketFilter(
                community_ids=scope.community_ids,
                grid_ids=scope.grid_ids or (),
                assignee_id=scope.assignee_id,
                created_from=now - timedelta(days=days),
            )
            rows, _ = await uow.ticket_queries.search(f, limit=LIMIT, offset=0)
            # open tickets older than the window still weigh on people and places
            older = TicketFilter(
                community_ids=scope.community_ids,
                grid_ids=scope.grid_ids or (),
                assignee_id=scope.assignee_id,
                created_to=now - timedelta(days=days),
                statuses=tuple(sorted(s.value for s in OPEN)),
            )
            rows2, _ = await uow.ticket_queries.search(older, limit=LIMIT, offset=0)
        return [*rows, *rows2], names, tree

    async def performance(self, p: Principal, *, days: int = 30) -> dict[str, Any]:
        tickets, names, _tree = await self._tickets(p, days)
        now = self.clock.now()
        workers = compute(
            tickets,
            key=lambda t: t.assignee_id,
            name=names.worker,
            now=now,
            targets=self.targets,
        )
        for row in workers:
            worker = names.workers.get(row["id"])
            row["grid"] = names.grid(worker.grid_id) if worker else ""
            row["role"] = worker.role if worker else ""
        grids = compute(
            tickets, key=lambda t: t.grid_id, name=names.grid, now=now, targets=self.targets
        )
        return {"days": days, "workers": workers, "grids": grids}

    async def map(self, p: Principal, *, days: int = 30) -> dict[str, Any]:
        tickets, _names, _tree = await self._tickets(p, days)
        now = self.clock.now()
        scope = visible_tickets(p.subject, _tree).community_ids
        async with self.store.unit() as uow:
            buildings = [
                b
                for b in await uow.registry.buildings()
                if scope is None or b.community_id in scope
            ]
            found = await uow.hotspots.listed(
                community_ids=list(scope) if scope is not None else None,
                since=now - timedelta(days=HOTSPOT_LAYER_DAYS),
            )
        points, box = project(buildings)
        marks = []
        for b in buildings:
            if (b.id or 0) not in points:
                continue
            here = [t for t in tickets if t.building_id == b.id]
            overdue = sum(
                1
                for t in here
                if overdue_kind(
                    status=t.status,
                    category=t.category,
                    priority=t.priority,
                    created_at=t.created_at,
                    assigned_at=t.assigned_at,
                    now=now,
                    targets=self.targets,
                )
            )
            recent = sum(1 for t in here if t.created_at >= now - timedelta(days=days))
            x, y = points[b.id or 0]
            marks.append(
                {
                    "id": b.id,
                    "name": b.name,
                    "x": x,
                    "y": y,
                    "open": sum(1 for t in here if is_open(t.status)),
                    "overdue": overdue,
                    "recent": recent,
                    "hotspot": recent >= HOTSPOT,
                }
            )
        missing = [b.name for b in buildings if (b.id or 0) not in points]
        return {
            "width": WIDTH,
            "height": HEIGHT,
            "buildings": marks,
            "hotspots": hotspot_layer(found, buildings, points),
            "hotspot_days": HOTSPOT_LAYER_DAYS,
            "missing": missing,
            "tiles": tiles(box, self.tile_url),
            "days": days,
        }


HOTSPOT_LAYER_DAYS = 7  # the map shows the hotspots the hotspot page lists


def hotspot_layer(
    hotspots: Sequence[Hotspot],
    buildings: Sequence[Building],
    points: dict[int, tuple[float, float]],
) -> list[dict[str, Any]]:
    """Hotspots (``handlers.hotspots``) placed on the map: a building's at the building, a
    grid's at the middle of its drawn buildings; one without a drawable place is left out."""
    out = []
    for h in hotspots:
        if h.building_id is not None and h.building_id in points:
            x, y = points[h.building_id]
        else:
            spots = [
                points[b.id]
                for b in buildings
                if b.id in points and h.grid_id is not None and b.grid_id == h.grid_id
            ]
            if not spots:
                continue
            x = sum(p[0] for p in spots) / len(spots)
            y = sum(p[1] for p in spots) / len(spots)
        out.append(
            {
                "id": h.id,
                "x": round(x, 1),
                "y": round(y, 1),
                "rule": h.rule,
                "place": h.place,
                "category": h.category,
                "label": category_label(h.category),
                "count": h.count,
                "numbers": list(h.numbers),
            }
        )
    return out


PARTY_LIMIT = 500  # tickets per department looked at for its figures


async def departments_of(store: Store, p: Principal) -> list[dict[str, Any]]:
    """The departments the principal's communities hand tickets to: contacts, aliases, the
    tickets handed to them (in hand and done) and their median time to finish."""
    require_some(p.subject, Action.VIEW)
    async with store.unit() as uow:
        names = await load_names(uow)
        tree = {g.id: g.parent_id for g in names.grids.values() if g.id is not None}
        scope = visible_tickets(p.subject, tree).community_ids
        communities = list(scope) if scope is not None else [*names.communities, None]
        found: dict[int, Any] = {}
        for community_id in communities:
            for d in await uow.departments.for_community(community_id, active_only=False):
                found.setdefault(d.id or 0, d)
        out = []
        for d in sorted(found.values(), key=lambda d: (not d.active, d.name)):
            contacts = await uow.departments.contacts(d.id or 0)
            handed = await uow.departments.active_tickets(
                d.id or 0, statuses=[s.value for s in Status]
            )
            handed = [t for t in handed if scope is None or t.community_id in scope]
            in_hand = done = 0
            hours: list[float] = []
            for ticket in handed[:PARTY_LIMIT]:
                for party in await uow.departments.parties(ticket.id or 0):
                    if party.department_id != d.id:
                        continue
                    if party.status == "done" and party.done_at:
                        done += 1
                        hours.append((party.done_at - party.added_at).total_seconds() / 3600)
                    else:
                        in_hand += 1
            out.append(
                {
                    "id": d.id,
                    "name": d.name,
                    "kind": d.kind,
                    "aliases": list(d.aliases or []),
                    "phone": d.phone,
                    "active": d.active,
                    "community": names.community(d.community_id) if d.community_id else "全街道",
                    "contacts": [
                        {
                            "name": c.name,
                            "channel": c.channel,
                            "reachable": c.reachable,
                        }
                        for c in contacts
                    ],
                    "handed": len(handed),
                    "in_hand": in_hand,
                    "done": done,
                    "median_done_hours": _median(hours),
                }
            )
    return out
