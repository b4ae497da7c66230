"""The registry: grid tree, buildings, workers, CSV import/export, duplicates, roles."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from tests.bot.admin.helpers import (
    Other,
    add_ticket,
    api_token,
    bearer,
    demo_ids,
    login,
    make_user,
    second_community,
)


@dataclass
class Reg:
    app: Any
    ids: dict[str, Any]
    other: Other
    ops: httpx.AsyncClient
    liu: httpx.AsyncClient
    zhang: httpx.AsyncClient


@asynccontextmanager
async def registry_world(start_app: Any):  # type: ignore[no-untyped-def]
    async with start_app() as app:
        c = app.container
        ids = await demo_ids(c)
        other = await second_community(c)
        await make_user(c, "ops", "admin")
        await make_user(c, "liu", "community_staff", community_id=ids["community"])
        await make_user(c, "zhang", "grid_worker", worker_id=ids["workers"]["张伟"])
        clients = [bearer(app, await api_token(c, n)) for n in ("ops", "liu", "zhang")]
        try:
            yield Reg(app, ids, other, *clients)
        finally:
            for client in clients:
                await client.aclose()


async def counts(app: Any) -> tuple[int, int, int]:
    async with app.container.store.unit() as uow:
        return (
            len(await uow.registry.grids()),
            len(await uow.registry.buildings()),
            len(await uow.registry.workers()),
        )


async def test_new_grid_building_and_worker_take_reports_at_once(start_app: Any) -> None:
    async with registry_world(start_app) as r:
        cid = r.ids["community"]
        grid = await r.liu.post(
            "/api/v1/admin/grids",
            json={"community_id": cid, "name": "第四网格", "parent_id": None},
        )
        assert grid.status_code == 201, grid.text
        grid_id = grid.json()["id"]
        building = await r.liu.post(
            "/api/v1/admin/buildings",
            json={"community_id": cid, "name": "13幢", "grid_id": grid_id,
                  "aliases": "13号楼；十三幢", "latitude": 30.27, "longitude": 120.16},
        )  # fmt: skip
        assert building.status_code == 201, building.text
        worker = await r.liu.post(
            "/api/v1/admin/workers",
            json={"community_id": cid, "name": "周敏", "grid_id": grid_id, "phone": "13800000011",
                  "channels": [{"channel": "web", "user_id": "worker-zhou"}]},
        )  # fmt: skip
        assert worker.status_code == 201, worker.text
        listed = (await r.liu.get("/api/v1/admin/registry")).json()
        assert {c["name"] for c in listed["communities"]} == {"阳光花园社区"}
        new = next(b for b in listed["buildings"] if b["name"] == "13幢")
        assert new["aliases"] == ["13号楼", "十三幢"] and new["grid_id"] == grid_id
        zhou = next(w for w in listed["workers"] if w["name"] == "周敏")
        assert zhou["channels"] == [{"channel": "web", "user_id": "worker-zhou"}]
        # a resident's report at the new building goes to the new worker right away
        replies = await r.app.say("resident-reg", "十三幢电梯坏了，有人被困在里面")
        assert "周敏" in "\n".join(x["text"] for x in replies)
        card = await r.app.inbox("worker-zhou")
        assert "13幢" in card[0]["text"]
        async with r.app.container.store.unit() as uow:
            entries, _ = await uow.admin.audit(action="registry.")
        assert [e.action for e in entries] == [
            "registry.worker.create",
            "registry.building.create",
            "registry.grid.create",
        ]


async def test_duplicate_names_and_ambiguous_aliases_are_refused_clearly(start_app: Any) -> None:
    async with registry_world(start_app) as r:
        cid = r.ids["community"]
        before = await counts(r.app)
        cases = [
            ("/api/v1/admin/grids", {"community_id": cid, "name": "第二网格"}, "已存在"),
            ("/api/v1/admin/buildings", {"community_id": cid, "name": "3幢"}, "重复"),
            ("/api/v1/admin/buildings", {"community_id": cid, "name": "新楼", "aliases": ["3号楼"]},
             "3号楼"),
            ("/api/v1/admin/workers", {"community_id": cid, "name": "张伟"}, "张伟"),
            ("/api/v1/admin/workers", {"community_id": cid, "name": "新人",
                                       "channels": [{"channel": "web", "user_id": "worker-li"}]},
             "已绑定"),
            ("/api/v1/admin/communities", {"name": "明月社区"}, "已存在"),
        ]  # fmt: skip
        for path, body, words in cases:
            response = await r.ops.post(path, json=body)
            assert response.status_code == 409, (path, response.text)
            assert words in response.json()["error"], response.json()
        bad_grid = await r.ops.post(
            "/api/v1/admin/buildings",
            json={"community_id": cid, "name": "新楼", "grid_id": r.other.grid_id},
        )
        assert bad_grid.status_code == 422 and "不属于该社区" in bad_grid.json()["error"]
        assert await counts(r.app) == before
        # the same building name is fine in another community
        ok = await r.ops.post(
            "/api/v1/admin/buildings", json={"community_id": r.other.community_id, "name": "3幢"}
        )
        assert ok.status_code == 201


async def test_staff_manage_only_their_community_and_workers_not_at_all(start_app: Any) -> None:
    async with registry_world(start_app) as r:
        other = r.other.community_id
        assert (
            await r.liu.post("/api/v1/admin/buildings", json={"community_id": other, "name": "X幢"})
        ).status_code == 403
        assert (
            await r.liu.get("/api/v1/admin/registry", params={"community_id": other})
        ).status_code == 404
        assert (
            await r.liu.delete(f"/api/v1/admin/buildings/{r.other.building_id}")
        ).status_code == 403
        assert (
            await r.liu.patch(f"/api/v1/admin/workers/{r.other.worker_id}", json={"on_duty": False})
        ).status_code == 403
        assert (
            await r.liu.post("/api/v1/admin/communities", json={"name": "新社区"})
        ).status_code == 403
        assert (await r.zhang.get("/api/v1/admin/registry")).status_code == 403
        assert (
            await r.zhang.post(
                "/api/v1/admin/grids", json={"community_id": r.ids["community"], "name": "X"}
            )
        ).status_code == 403
        exported = (await r.liu.get("/api/v1/admin/exports/workers.csv")).text
        assert "张伟" in exported and "孙丽" not in exported


BUILDINGS_OK = (
    "社区,楼栋,网格,别名,纬度,经度\n"
    "阳光花园社区,13幢,第三网格,13号楼；十三幢,30.2760,120.1570\n"
    "阳光花园社区,3幢,第一网格B微网格,3号楼；三幢；三号楼,,\n"
)
BUILDINGS_BAD = (
    "社区,楼栋,网格,别名,纬度,经度\n"
    "阳光花园社区,14幢,第九网格,,,\n"  # no such grid
    "阳光花园社区,15幢,,5号楼,,\n"  # alias of 5幢
    "阳光花园社区,16幢,,,north,\n"  # bad latitude
    "阳光花园社区,17幢,,,,\n"
    "阳光花园社区,17幢,,,,\n"  # duplicate in the file
    "明月社区,18幢,,,,\n"  # liu may not touch 明月社区
    "阳光花园社区,19幢,,,,\n"  # fine, but nothing is written
)


async def upload(client: httpx.AsyncClient, kind: str, content: bytes) -> httpx.Response:
    return await client.post(
        f"/api/v1/admin/imports/{kind}", files={"file": (f"{kind}.csv", content, "text/csv")}
    )


async def test_building_csv_import_is_all_or_nothing_with_row_errors(start_app: Any) -> None:
    async with registry_world(start_app) as r:
        before = await counts(r.app)
        bad = await upload(r.liu, "buildings", BUILDINGS_BAD.encode())
        assert bad.status_code == 422
        body = bad.json()
        assert "未导入任何数据" in body["error"]
        rows = {d["row"]: d["message"] for d in body["detail"]}
        assert set(rows) == {2, 3, 4, 6, 7}
        assert "第九网格" in rows[2] and "5号楼" in rows[3] and "latitude" in rows[4]
        assert "第 5 行" in rows[6] and "明月社区" in rows[7]
        assert await counts(r.app) == before

        good = await upload(r.liu, "buildings", BUILDINGS_OK.encode("gb18030"))  # Excel, GBK
        assert good.status_code == 200, good.text
        assert good.json() == {"created": 1, "updated": 1}
        exported = await r.liu.get("/api/v1/admin/exports/buildings.csv")
        text = exported.content.decode("utf-8-sig")
        assert "13幢,第三网格,13号楼；十三幢,30.276,120.157" in text
        again = await upload(r.liu, "buildings", exported.content)  # the export re-imports as is
        assert again.json() == {"created": 0, "updated": 13}


async def test_worker_csv_import_binds_channels_and_reports_every_bad_row(start_app: Any) -> None:
    async with registry_world(start_app) as r:
        before = await counts(r.app)
        bad = (
            "姓名,角色,网格,电话,在岗,渠道\n"
            "周敏,网格员,第一网格,13800000011,是,web:worker-zhou\n"
            "吴刚,网格长,第二网格,13800000012,也许,web:worker-wu\n"  # bad flag
            "郑洁,网格员,,abc,是,\n"  # bad phone
            "钱程,网格员,,,是,web worker-qian\n"  # bad channel format
            "孙悦,网格员,,,是,web:worker-li\n"  # 李娜's web id
            "周敏,网格员,,,是,\n"  # duplicate row
            "冯达,城管,,,是,\n"  # unknown role
        )
        response = await upload(r.liu, "workers", bad.encode())
        assert response.status_code == 422
        rows = {d["row"]: d["message"] for d in response.json()["detail"]}
        assert set(rows) == {3, 4, 5, 6, 7, 8}
        assert "也许" in rows[3] and "worker-li" in rows[6] and "第 2 行" in rows[7]
        assert await counts(r.app) == before
        good = (
            "姓名,角色,网格,电话,在岗,渠道\n"
            "周敏,网格员,第一网格,13800000011,是,web:worker-zhou；telegram:5550001\n"
            "赵强,网格员,第三网格,13800000004,是,\n"  # back on duty, channels kept
        )
        done = await upload(r.liu, "workers", good.encode())
        assert done.json() == {"created": 1, "updated": 1}
        listed = (await r.liu.get("/api/v1/admin/registry")).json()["workers"]
        zhou = next(w for w in listed if w["name"] == "周敏")
        assert [ch["channel"] for ch in zhou["channels"]] == ["web", "telegram"]
        zhao = next(w for w in listed if w["name"] == "赵强")
        assert zhao["on_duty"] is True and zhao["channels"] == [
            {"channel": "web", "user_id": "worker-zhao"}
        ]


async def test_oversized_or_garbage_uploads_get_clear_errors(start_app: Any) -> None:
    async with registry_world(start_app) as r:
        limit = r.app.container.settings.admin.max_upload_bytes
        before = await counts(r.app)
        big = await upload(r.liu, "buildings", b"name\n" + b"x" * (limit + 100))
        assert big.status_code == 413 and "KB" in big.json()["error"]
        empty = await upload(r.liu, "buildings", b"")
        assert empty.status_code == 422 and "空" in empty.json()["error"]
        no_header = await upload(r.liu, "buildings", "甲,乙\n1,2\n".encode())
        assert no_header.status_code == 422 and "表头" in no_header.json()["error"]
        binary = await upload(r.liu, "buildings", b"\xff\xfe\x00\x81" * 10)
        assert binary.status_code == 422
        assert (await upload(r.liu, "tickets", b"name\nx\n")).status_code == 404
        assert await counts(r.app) == before


async def test_rows_in_use_cannot_be_deleted(start_app: Any) -> None:
    async with registry_world(start_app) as r:
        cid = r.ids["community"]
        await add_ticket(
            r.app.container,
            community_id=cid,
            building_id=r.ids["buildings"]["6幢"],
            assignee_id=r.ids["workers"]["李娜"],
        )
        used = await r.liu.delete(f"/api/v1/admin/buildings/{r.ids['buildings']['6幢']}")
        assert used.status_code == 409 and "关联" in used.json()["error"]
        worker = await r.liu.delete(f"/api/v1/admin/workers/{r.ids['workers']['李娜']}")
        assert worker.status_code == 409 and "停用" in worker.json()["error"]
        grid = await r.liu.delete(f"/api/v1/admin/grids/{r.ids['grids']['第二网格']}")
        assert grid.status_code == 409
        free = await r.liu.delete(f"/api/v1/admin/buildings/{r.ids['buildings']['12幢']}")
        assert free.status_code == 204
        # a worker nobody assigned anything to can go, with their channel bindings
        zhao = r.ids["workers"]["赵强"]
        assert (await r.liu.delete(f"/api/v1/admin/workers/{zhao}")).status_code == 204
        async with r.app.container.store.unit() as uow:
            ident = await uow.registry.identity("web", "worker-zhao")
            assert ident is None or ident.worker_id is None


async def test_console_registry_page_shows_the_tree_and_import_errors(start_app: Any) -> None:
    async with registry_world(start_app) as r:
        client = r.app.client
        csrf = await login(client, "liu")
        page = await client.get("/admin/registry")
        assert page.status_code == 200
        assert (
            "第一网格A微网格" in page.text and "陈静" in page.text and "明月社区" not in page.text
        )
        added = await client.post(
            "/admin/registry/buildings",
            data={"csrf_token": csrf, "community_id": str(r.ids["community"]),
                  "name": "<b>20幢</b>", "aliases": "二十幢"},
        )  # fmt: skip
        assert added.status_code == 303
        shown = await client.get(added.headers["location"])
        assert "&lt;b&gt;20幢&lt;/b&gt;" in shown.text and "<b>20幢</b>" not in shown.text
        failed = await client.post(
            "/admin/registry/import/buildings",
            data={"csrf_token": csrf, "community_id": str(r.ids["community"])},
            files={"file": ("b.csv", BUILDINGS_BAD.encode(), "text/csv")},
        )
        assert failed.status_code == 422
        assert "未导入任何数据" in failed.text and "第九网格" in failed.text
        cells = re.findall(r'<td class="num">(\d+)</td>', failed.text)
        assert cells == ["2", "3", "4", "6", "7"]


async def resident_of(app: Any, user_id: str, community_id: int) -> None:
    """A resident who has written to the bot and belongs to a community."""
    async with app.container.store.unit() as uow:
        resident, _ = await uow.registry.ensure_resident("web", user_id)
        resident.community_id = community_id
        await uow.registry.save(resident)


async def test_staff_cannot_bind_a_resident_of_another_community_as_a_worker(
    start_app: Any,
) -> None:
    async with registry_world(start_app) as r:
        cid = r.ids["community"]
        await resident_of(r.app, "resident-moon", r.other.community_id)
        await resident_of(r.app, "resident-sun", cid)
        before = await counts(r.app)
        taken = await r.liu.post(
            "/api/v1/admin/workers",
            json={"community_id": cid, "name": "卧底",
                  "channels": [{"channel": "web", "user_id": "resident-moon"}]},
        )  # fmt: skip
        assert taken.status_code == 403 and "其他社区" in taken.json()["error"]
        imported = await upload(
            r.liu, "workers", "姓名,角色,渠道\n卧底,网格员,web:resident-moon\n".encode()
        )
        assert imported.status_code == 422
        assert "其他社区" in imported.json()["detail"][0]["message"]
        assert await counts(r.app) == before
        async with r.app.container.store.unit() as uow:
            ident = await uow.registry.identity("web", "resident-moon")
            assert ident is not None and ident.worker_id is None
        # their own community's resident may become a worker; an admin may bind anyone
        own = await r.liu.post(
            "/api/v1/admin/workers",
            json={"community_id": cid, "name": "孙阳",
                  "channels": [{"channel": "web", "user_id": "resident-sun"}]},
        )  # fmt: skip
        assert own.status_code == 201, own.text
        admin = await r.ops.post(
            "/api/v1/admin/workers",
            json={"community_id": cid, "name": "明月调来的",
                  "channels": [{"channel": "web", "user_id": "resident-moon"}]},
        )  # fmt: skip
        assert admin.status_code == 201, admin.text


async def test_a_large_worker_import_reads_the_communitys_lists_once(start_app: Any) -> None:
    """4,000 workers city-wide come in by CSV: the grid and worker lists of a community are read
    once per file, not once per row (the statements do not grow with the rows)."""

    def csv_of(n: int, start: int) -> bytes:
        rows = [f"导入员{start + i},网格员,第一网格,1380001{start + i:04d},是," for i in range(n)]
        return ("姓名,角色,网格,电话,在岗,渠道\n" + "\n".join(rows) + "\n").encode()

    async with registry_world(start_app) as r:
        reads: dict[int, int] = {}
        for n, start in ((3, 0), (40, 100)):
            statements: list[str] = []

            def record(
                conn: Any, cursor: Any, statement: str, *args: Any, into: list[str] = statements
            ) -> None:
                into.append(" ".join(statement.split()))

            # every engine: the import runs as a job, on the job runner's own engine
            sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
            try:
                done = await upload(r.liu, "workers", csv_of(n, start))
            finally:
                sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
            assert done.json() == {"created": n, "updated": 0}, done.text
            reads[n] = sum(
                s.startswith("SELECT") and ("FROM grid " in s or "FROM gridworker " in s)
                for s in statements
            )
        assert reads[40] == reads[3], reads
