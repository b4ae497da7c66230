"""Intents and examples kept in the database: seeding, edits, warnings, flows, YAML in/out."""

from __future__ import annotations

from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import nlu
from tests.bot.admin.helpers import api_token, bearer, demo_ids, login, make_user

NLU_DATA = Path(__file__).resolve().parents[3] / "nlu" / "data"


@dataclass
class Clients:
    app: Any
    ops: httpx.AsyncClient
    liu: httpx.AsyncClient
    zhang: httpx.AsyncClient


@asynccontextmanager
async def clients(start_app: Any, **overrides: Any):  # type: ignore[no-untyped-def]
    async with start_app(**overrides) as app:
        c = app.container
        ids = await demo_ids(c)
        await make_user(c, "ops", "admin")
        await make_user(c, "liu", "community_staff", community_id=ids["community"])
        await make_user(c, "zhang", "grid_worker", worker_id=ids["workers"]["张伟"])
        made = [bearer(app, await api_token(c, n)) for n in ("ops", "liu", "zhang")]
        try:
            yield Clients(app, *made)
        finally:
            for client in made:
                await client.aclose()


async def intents_of(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/v1/admin/intents")
    assert response.status_code == 200, response.text
    return {i["name"]: i for i in response.json()["intents"]}


async def test_training_data_is_seeded_once_with_flows_and_questions(start_app: Any) -> None:
    packaged = Counter(e.intent for e in nlu.load_training_data(NLU_DATA).examples)
    async with clients(start_app) as c:
        listed = await intents_of(c.liu)
        assert {name: i["examples"] for name, i in listed.items()} == dict(packaged)
        elevator = listed["report_elevator"]
        assert elevator["flow"]["kind"] == "report" and elevator["flow"]["label"] == "电梯故障"
        questions = [q["question"] for q in elevator["flow"]["questions"]]
        assert any("哪一幢" in q for q in questions)
        assert elevator["f1"] is not None  # from the active model's held-out evaluation
        assert listed["greet"]["flow"]["kind"] == "conversation"
        detail = (await c.liu.get("/api/v1/admin/intents/report_parking")).json()
        assert any(
            "](building)" in e["markup"] or "building" in e["markup"] for e in detail["examples"]
        )
    # a second start on the same database does not seed again
    async with start_app() as app:
        async with bearer(app, await api_token(app.container, "liu")) as liu:
            again = await intents_of(liu)
        assert again["report_elevator"]["examples"] == packaged["report_elevator"]


async def test_a_new_intent_gets_examples_with_entities_and_warnings(start_app: Any) -> None:
    async with clients(start_app) as c:
        made = await c.liu.post(
            "/api/v1/admin/intents", json={"name": "report_pets", "description": "宠物扰民"}
        )
        assert made.status_code == 201
        added = await c.liu.post(
            "/api/v1/admin/intents/report_pets/examples",
            json={"examples": ["[5幢](building)门口有人遛狗不牵绳", "小区里狗叫了一晚上",
                               "小区里狗叫了一晚上", "邻里纠纷 需要调解"]},
        )  # fmt: skip
        assert added.status_code == 200, added.text
        body = added.json()
        assert body["added"] == 3 and body["skipped"] == ["小区里狗叫了一晚上"]
        assert body["warnings"] == ["“邻里纠纷 需要调解”也是 report_dispute 的例句"]
        pets = (await intents_of(c.liu))["report_pets"]
        assert pets["examples"] == 3 and pets["f1"] is None
        assert pets["flow"]["kind"] == "none" and "其他问题" in pets["flow"]["summary"]
        assert any("少于 10 条" in w for w in pets["warnings"])
        assert any("report_dispute" in w for w in pets["warnings"])
        detail = (await c.liu.get("/api/v1/admin/intents/report_pets")).json()
        first = detail["examples"][0]
        assert first["text"] == "5幢门口有人遛狗不牵绳"
        assert first["entities"] == [{"start": 0, "end": 2, "entity": "building"}]
        assert first["markup"] == "[5幢](building)门口有人遛狗不牵绳"
        shared = next(e for e in detail["examples"] if e["text"] == "邻里纠纷 需要调解")
        assert shared["also_in"] == ["report_dispute"]
        # edit the annotation, move the shared one back, delete one
        edit = await c.liu.put(
            f"/api/v1/admin/examples/{first['id']}",
            json={"markup": '[5号楼]{"entity": "building", "value": "5幢"}门口有人遛狗不牵绳'},
        )
        assert edit.status_code == 200
        moved = await c.liu.put(
            f"/api/v1/admin/examples/{shared['id']}",
            json={"markup": "邻里纠纷 需要调解", "intent": "report_dispute"},
        )
        assert moved.status_code == 409  # report_dispute has it already
        assert (await c.liu.delete(f"/api/v1/admin/examples/{shared['id']}")).status_code == 204
        detail = (await c.liu.get("/api/v1/admin/intents/report_pets")).json()
        assert [e["text"] for e in detail["examples"]] == [
            "5号楼门口有人遛狗不牵绳",
            "小区里狗叫了一晚上",
        ]
        assert detail["examples"][0]["entities"][0]["value"] == "5幢"
        renamed = await c.liu.patch(
            "/api/v1/admin/intents/report_pets", json={"name": "report_pet"}
        )
        assert renamed.json() == {"name": "report_pet"}
        assert (await c.liu.delete("/api/v1/admin/intents/report_pet")).status_code == 204
        assert "report_pet" not in await intents_of(c.liu)


async def test_bad_examples_and_names_get_clear_errors_and_built_ins_stay(start_app: Any) -> None:
    async with clients(start_app) as c:
        before = sum(i["examples"] for i in (await intents_of(c.liu)).values())
        cases = [
            ({"examples": ['[3幢]{"entity": }电梯坏了']}, "实体标注"),
            ({"examples": ["[3幢](Building!)电梯坏了"]}, "实体名"),
            ({"examples": ["电梯坏了", "长" * 501]}, "500"),
            ({"examples": ["   "]}, "至少"),
        ]
        for body, words in cases:
            response = await c.liu.post("/api/v1/admin/intents/report_elevator/examples", json=body)
            assert response.status_code == 422, response.text
            assert words in response.json()["error"]
        assert sum(i["examples"] for i in (await intents_of(c.liu)).values()) == before
        assert (
            await c.liu.post("/api/v1/admin/intents", json={"name": "Report Pets"})
        ).status_code == 422
        assert (
            await c.liu.post("/api/v1/admin/intents", json={"name": "greet"})
        ).status_code == 409
        renamed = await c.liu.patch("/api/v1/admin/intents/report_noise", json={"name": "noise"})
        assert renamed.status_code == 409 and "不能改名" in renamed.json()["error"]
        assert (await c.liu.delete("/api/v1/admin/intents/greet")).status_code == 409
        assert (await c.liu.get("/api/v1/admin/intents/nope")).status_code == 404


async def test_examples_with_markup_attacks_are_shown_as_text(start_app: Any) -> None:
    async with clients(start_app) as c:
        attack = '<script>alert(1)</script>楼道里<img src=x onerror="alert(2)">有人抽烟'
        added = await c.liu.post(
            "/api/v1/admin/intents/report_safety/examples", json={"examples": [attack]}
        )
        assert added.json()["added"] == 1
        await login(c.app.client, "liu")
        page = await c.app.client.get("/admin/intents/report_safety")
        assert page.status_code == 200
        assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        listing = await c.app.client.get("/admin/intents")
        assert "report_safety" in listing.text and "电梯故障" in listing.text


async def test_synonyms_lookups_and_regexes_are_checked_and_exported(start_app: Any) -> None:
    async with clients(start_app) as c:
        ok = await c.liu.put(
            "/api/v1/admin/nlu/tables/synonym/宠物", json={"items": ["狗", "猫", "狗狗", "狗"]}
        )
        assert ok.status_code == 204
        bad = await c.liu.put("/api/v1/admin/nlu/tables/regex/room", json={"items": ["([0-9"]})
        assert bad.status_code == 422 and "正则" in bad.json()["error"]
        assert (
            await c.liu.put("/api/v1/admin/nlu/tables/color/x", json={"items": ["a"]})
        ).status_code == 404
        tables = (await c.liu.get("/api/v1/admin/nlu/tables")).json()
        assert next(t for t in tables["synonym"] if t["name"] == "宠物")["items"] == [
            "狗",
            "猫",
            "狗狗",
        ]
        assert any(t["name"] == "phone" for t in tables["regex"])
        exported = await c.liu.get("/api/v1/admin/nlu/export.yml")
        data = nlu.parse_rasa_yaml(exported.text)
        assert data.synonyms["宠物"] == ["狗", "猫", "狗狗"]
        assert Counter(e.intent for e in data.examples) == Counter(
            e.intent for e in nlu.load_training_data(NLU_DATA).examples
        )
        assert (await c.liu.delete("/api/v1/admin/nlu/tables/synonym/宠物")).status_code == 204


async def test_yaml_import_merges_or_replaces_all_or_nothing(start_app: Any) -> None:
    async with clients(start_app) as c:

        def upload(text: str | bytes, mode: str = "merge") -> Any:
            content = text.encode() if isinstance(text, str) else text
            return c.ops.post(
                "/api/v1/admin/nlu/import",
                data={"mode": mode},
                files={"file": ("nlu.yml", content, "application/x-yaml")},
            )

        before = await intents_of(c.ops)
        merge = (
            'version: "3.1"\nnlu:\n- intent: report_pets\n  examples: |\n'
            "    - [5幢](building)有人遛狗不牵绳\n    - 狗叫了一晚上\n"
            "- intent: greet\n  examples: |\n    - 你好\n    - 哈罗哈罗\n"
            "- lookup: pets\n  examples: |\n    - 狗\n    - 猫\n"
        )
        done = await upload(merge)
        assert done.status_code == 200, done.text
        assert done.json() == {"intents": 1, "examples": 3, "notes": []}
        after = await intents_of(c.ops)
        assert after["report_pets"]["examples"] == 2
        assert after["greet"]["examples"] == before["greet"]["examples"] + 1
        broken = await upload("nlu:\n- intent: x\n  examples: not a list\n  - oops")
        assert broken.status_code == 422 and "YAML" in broken.json()["error"]
        bad_name = await upload('nlu:\n- intent: "Bad Name"\n  examples: |\n    - 你好\n')
        assert bad_name.status_code == 422
        partial = await upload("nlu:\n- intent: greet\n  examples: |\n    - 你好\n", "replace")
        assert partial.status_code == 422 and "report_elevator" in partial.json()["error"]
        assert await intents_of(c.ops) == after
        exported = (await c.ops.get("/api/v1/admin/nlu/export.yml")).text
        replaced = await upload(exported, "replace")
        assert replaced.status_code == 200
        assert {k: v["examples"] for k, v in (await intents_of(c.ops)).items()} == {
            k: v["examples"] for k, v in after.items()
        }
        staff = await c.liu.post(
            "/api/v1/admin/nlu/import", files={"file": ("nlu.yml", merge.encode(), "text/yaml")}
        )
        assert staff.status_code == 403
        limit = c.app.container.settings.admin.max_upload_bytes
        huge = await upload(b"#" * (limit + 1))
        assert huge.status_code == 413


async def test_grid_workers_cannot_touch_training_data(start_app: Any) -> None:
    async with clients(start_app) as c:
        assert (await c.zhang.get("/api/v1/admin/intents")).status_code == 403
        assert (
            await c.zhang.post("/api/v1/admin/intents/greet/examples", json={"examples": ["嗨"]})
        ).status_code == 403
        assert (await c.zhang.get("/api/v1/admin/nlu/export.yml")).status_code == 403


PROJECT_NLU = Path(__file__).resolve().parents[2] / "data" / "rasa_project" / "data" / "nlu.yml"


async def test_a_rasa_projects_retrieval_intents_and_metadata_work_in_the_console(
    start_app: Any,
) -> None:
    async with clients(start_app) as c:
        done = await c.ops.post(
            "/api/v1/admin/nlu/import",
            data={"mode": "merge"},
            files={"file": ("nlu.yml", PROJECT_NLU.read_bytes(), "application/x-yaml")},
        )
        assert done.status_code == 200, done.text
        notes = " ".join(done.json()["notes"])
        assert "不会预测 role/group" in notes and "faq/ask_hours" in notes
        detail = await c.ops.get("/api/v1/admin/intents/faq/ask_hours")
        assert detail.status_code == 200, detail.text
        assert {e["text"] for e in detail.json()["examples"]} >= {"你们几点上班", "周末开门吗"}
        added = await c.ops.post(
            "/api/v1/admin/intents/faq/ask_hours/examples", json={"examples": ["国庆节上班吗"]}
        )
        assert added.status_code == 200 and added.json()["added"] == 1
        await login(c.app.client, "ops")
        page = await c.app.client.get("/admin/intents/faq/ask_hours")
        assert page.status_code == 200 and "国庆节上班吗" in page.text
        listing = await c.app.client.get("/admin/intents")
        assert 'href="/admin/intents/faq/ask_documents"' in listing.text
        exported = nlu.parse_rasa_yaml((await c.ops.get("/api/v1/admin/nlu/export.yml")).text)
        book = [e for e in exported.examples if e.intent == "book_visit"]
        assert book[0].metadata == {"owner": "户籍科", "sentiment": "neutral"}
        moved = next(e for e in exported.examples if e.text == "我要把户口迁到宁波")
        assert [(a.entity, a.role) for a in moved.entities] == [("city", "to"), ("place", None)]
