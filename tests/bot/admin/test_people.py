"""The map (buildings from registry coordinates, no tile server) and the performance tables
with their CSV export, limited to what the caller may see."""

from __future__ import annotations

import csv
import io
from typing import Any

from handlers.performance_service import project, tiles
from storage.models import Building
from tests.bot.admin.helpers import fresh_client, login
from tests.bot.admin.test_tickets import world


def test_buildings_are_placed_inside_the_box_without_stretching() -> None:
    buildings = [
        Building(id=1, community_id=1, name="1幢", latitude=30.2741, longitude=120.1551),
        Building(id=2, community_id=1, name="2幢", latitude=30.2747, longitude=120.1575),
        Building(id=3, community_id=1, name="3幢"),  # no coordinates: not drawn
    ]
    points, box = project(buildings)
    assert set(points) == {1, 2}
    for x, y in points.values():
        assert 0 <= x <= 800 and 0 <= y <= 560
    assert points[2][0] > points[1][0] and points[2][1] < points[1][1]  # east and north
    assert tiles(box, "") == []
    laid = tiles(box, "http://127.0.0.1:9/{z}/{x}/{y}.png")
    assert laid and all(t["href"].startswith("http://127.0.0.1:9/") for t in laid)


async def test_map_and_performance_show_what_the_caller_may_see(start_app: Any) -> None:
    async with world(start_app) as w:
        liu, moon = w.clients["liu"], w.clients["moon"]
        m = (await liu.get("/api/v1/map")).json()
        by_name = {b["name"]: b for b in m["buildings"]}
        assert by_name["3幢"]["open"] == 1 and by_name["6幢"]["overdue"] == 1
        assert "明月1幢" not in by_name and m["tiles"] == []
        assert [b["name"] for b in (await moon.get("/api/v1/map")).json()["buildings"]] == []

        perf = (await liu.get("/api/v1/performance")).json()
        workers = {r["name"]: r for r in perf["workers"]}
        assert workers["张伟"]["open"] == 1 and workers["李娜"]["overdue_share"] == 1.0
        assert "孙丽" not in workers
        assert {r["name"] for r in perf["grids"]} >= {"第二网格"}

        staff = fresh_client(w.app)
        await login(staff, "liu")
        page = (await staff.get("/admin/people")).text
        assert "接单中位数" in page and "张伟" in page and "100%" in page
        exported = await staff.get("/admin/people/export.csv?by=worker")
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["姓名/网格", "在办", "期间工单"]
        assert any(r[0] == "李娜" and r[5] == "100%" for r in rows[1:])
        svg = (await staff.get("/admin/map")).text
        assert "<svg" in svg and 'data-building="3幢"' in svg and "http" not in svg.split("<svg")[1]
