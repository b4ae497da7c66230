"""The dashboard: counts, medians, share in time, satisfaction, trend — scoped, and drawn."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from tests.bot.admin.helpers import (
    add_ticket,
    api_token,
    bearer,
    demo_ids,
    login,
    make_user,
    second_community,
)
from tests.factories import FakeClock


async def _set(container: Any, number: str, **fields: Any) -> None:
    async with container.store.unit() as uow:
        ticket = await uow.tickets.by_number(number)
        for key, value in fields.items():
            setattr(ticket, key, value)
        await uow.tickets.save(ticket)


async def test_dashboard_figures_are_right_and_scoped(start_app: Any) -> None:
    clock = FakeClock()
    now = clock.now()
    # "resolved within target" uses the SLA targets: urgent tickets here must be done in 4 h
    async with start_app(clock=clock, sla={"urgent": {"resolve_hours": 4}}) as app:
        c = app.container
        ids = await demo_ids(c)
        other = await second_community(c)
        cid, grids, workers = ids["community"], ids["grids"], ids["workers"]
        t1 = await add_ticket(
            c, community_id=cid, category="noise", assignee_id=workers["李娜"],
            grid_id=grids["第二网格"], created_at=now - timedelta(days=2),
        )  # fmt: skip
        created = now - timedelta(days=2)
        await _set(
            c, t1, status="closed", accepted_at=created + timedelta(minutes=30),
            resolved_at=created + timedelta(hours=10), rating=5,
        )  # fmt: skip
        t2 = await add_ticket(
            c, community_id=cid, category="elevator", priority="urgent",
            assignee_id=workers["张伟"], grid_id=grids["第一网格B微网格"],
            created_at=now - timedelta(days=1),
        )  # fmt: skip
        created = now - timedelta(days=1)
        await _set(
            c, t2, status="closed", accepted_at=created + timedelta(minutes=20),
            resolved_at=created + timedelta(hours=6), rating=2,
        )  # fmt: skip
        await add_ticket(
            c, community_id=cid, category="parking", assignee_id=workers["张伟"],
            grid_id=grids["第一网格B微网格"], created_at=now - timedelta(hours=3),
        )  # fmt: skip
        t4 = await add_ticket(
            c, community_id=other.community_id, category="noise", assignee_id=other.worker_id,
            grid_id=other.grid_id, created_at=now - timedelta(days=5),
        )  # fmt: skip
        await _set(c, t4, status="closed", resolved_at=now - timedelta(days=4), rating=1)
        old = await add_ticket(c, community_id=cid, created_at=now - timedelta(days=40))
        await _set(c, old, status="closed")
        await make_user(c, "ops", "admin")
        await make_user(c, "liu", "community_staff", community_id=cid)
        await make_user(c, "zhang", "grid_worker", worker_id=workers["张伟"])
        ops, liu, zhang = [bearer(app, await api_token(c, n)) for n in ("ops", "liu", "zhang")]

        everything = (await ops.get("/api/v1/admin/dashboard")).json()
        assert everything["total"] == 4
        assert everything["satisfaction"]["distribution"] == {
            "1": 1,
            "2": 1,
            "3": 0,
            "4": 0,
            "5": 1,
        }

        mine = (await liu.get("/api/v1/admin/dashboard")).json()
        assert mine["total"] == 3 and mine["open"] == 1
        assert mine["overdue_now"] == 1  # the parking ticket: 3 hours without acceptance
        assert {x["category"]: x["count"] for x in mine["by_category"]} == {
            "noise": 1, "elevator": 1, "parking": 1,
        }  # fmt: skip
        assert {x["grid"]: x["count"] for x in mine["by_grid"]} == {
            "第二网格": 1, "第一网格B微网格": 2,
        }  # fmt: skip
        assert {x["status"]: x["count"] for x in mine["by_status"]} == {"closed": 2, "assigned": 1}
        assert mine["median_accept_minutes"] == 25.0
        assert mine["median_resolve_minutes"] == 480.0
        assert mine["resolved"] == 2 and mine["resolved_in_time_share"] == 0.5  # urgent: 6h > 4h
        assert mine["satisfaction"]["average"] == 3.5 and mine["satisfaction"]["rated"] == 2
        trend = mine["trend"]
        assert len(trend) == 30 and trend[-1]["day"] == now.date().isoformat()
        assert sum(d["created"] for d in trend) == 3 and sum(d["resolved"] for d in trend) == 2
        # local days (UTC+8): t1 created two days ago, resolved overnight; t2 yesterday
        assert (trend[-3]["created"], trend[-3]["resolved"]) == (1, 0)
        assert (trend[-2]["created"], trend[-2]["resolved"]) == (1, 2)

        own = (await zhang.get("/api/v1/admin/dashboard")).json()
        assert own["total"] == 2
        week = (await liu.get("/api/v1/admin/dashboard", params={"days": 7})).json()
        assert len(week["trend"]) == 7
        exported = await liu.get("/api/v1/exports/dashboard.csv")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.content.startswith("\ufeff".encode())  # Excel reads it as UTF-8
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        figures = {(r[0], r[1]): r[2] for r in rows[1:]}
        assert rows[0] == ["项目", "分项", "数值"]
        assert figures[("工单", "")] == "3" and figures[("当前超时", "")] == "1"
        assert figures[("按时办结率", "")] == "50%"
        assert figures[("接单时长中位数（分钟）", "")] == "25.0"
        assert figures[("按网格", "第一网格B微网格")] == "2"
        assert figures[("每日新增", trend[-3]["day"])] == "1"  # the same figures as the page
        assert figures[("平均评价（满分5星）", "")] == "3.5"
        assert (await zhang.get("/api/v1/exports/dashboard.csv")).text.count("\n") < len(rows)
        assert (await liu.get("/api/v1/admin/dashboard", params={"days": 0})).status_code == 422
        assert (await app.client.get("/api/v1/admin/dashboard")).status_code == 401
        for client in (ops, liu, zhang):
            await client.aclose()

        async with c.store.unit() as uow:
            grid = await uow.registry.grid(grids["第二网格"])
            grid.name = "<script>alert(1)</script>"
            await uow.registry.save(grid)
        await login(app.client, "liu")
        page = await app.client.get("/admin")
        assert page.status_code == 200
        assert page.text.count("<svg") == 5
        assert "噪音" in page.text or "噪声" in page.text
        assert 'href="/admin/export.csv?days=30"' in page.text
        export = await app.client.get("/admin/export.csv", params={"days": 7})
        assert export.status_code == 200 and "&lt;script" not in export.text
        assert "<script>alert(1)</script>" in export.text  # CSV is data: the file holds it as is
        assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text
        assert "25分钟" in page.text and "8小时" in page.text and "50%" in page.text
