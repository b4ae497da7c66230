"""Train → evaluate → activate from the console: background jobs, fair comparison, refusal
of a worse model unless forced, hot swap in every process, rollback."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bot.admin.helpers import api_token, bearer, demo_ids, login, make_user

PETS = [
    "小区里有人遛狗不牵绳，吓到小孩了",
    "楼下的狗天天半夜叫，吵得睡不着",
    "有人在草坪上遛狗，狗屎也不捡",
    "邻居家的大型犬没拴绳在小区里乱跑",
    "流浪猫在地下车库里生了一窝小猫",
    "[5幢](building)有户人家在阳台上养了好多鸽子，味道很大",
    "小区里的流浪狗越来越多，晚上不敢出门",
    "遛狗的人不牵绳，狗冲过来扑人",
    "楼道里有狗尿，肯定是楼上那家的狗",
    "宠物狗在电梯里随地大小便",
    "小区里有条狗咬伤了人，狗主人找不到了",
    "遛狗不拴绳，狗在儿童游乐场乱跑",
    "狗主人遛狗从来不牵绳子",
    "小区花园里到处是狗屎，遛狗的人从来不捡",
    "[3幢](building)楼下有只流浪狗很凶，见人就叫",
    "养狗的不办证，还不栓绳",
    "邻居养的猫总跑到我家阳台上",
    "有人在小区里喂流浪猫，猫越来越多",
    "有人在小区里遛烈性犬，狗没戴嘴套也不牵绳",
    "宠物狗乱叫扰民，一叫就是一晚上",
]
PROBE = "小区里有人遛狗不拴绳"


@asynccontextmanager
async def console(start_app: Any, models: Path, **overrides: Any):  # type: ignore[no-untyped-def]
    async with start_app(models=models, **overrides) as app:
        c = app.container
        ids = await demo_ids(c)
        await make_user(c, "ops", "admin")
        await make_user(c, "liu", "community_staff", community_id=ids["community"])
        await make_user(c, "zhang", "grid_worker", worker_id=ids["workers"]["张伟"])
        made = {n: bearer(app, await api_token(c, n)) for n in ("ops", "liu", "zhang")}
        try:
            yield app, made
        finally:
            for client in made.values():
                await client.aclose()


async def finish(client: httpx.AsyncClient, job_id: int, limit: float = 240) -> dict[str, Any]:
    """Poll the job like the console does; return its final state (and every stage seen)."""
    seen: list[str] = []
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        state = (await client.get(f"/api/v1/admin/nlu/jobs/{job_id}")).json()
        if not seen or seen[-1] != state["stage"]:
            seen.append(state["stage"])
        if state["status"] in ("done", "failed"):
            state["seen"] = seen
            return state
        assert asyncio.get_running_loop().time() < deadline, f"training did not finish: {state}"
        await asyncio.sleep(0.2)


async def test_train_evaluate_activate_swaps_every_process_and_rolls_back(
    start_app: Any, models_copy: Path
) -> None:
    async with console(start_app, models_copy) as (app, c):
        ops, liu = c["ops"], c["liu"]
        await app.say("resident-pets", PROBE)
        async with app.container.store.unit() as uow:
            rows = await uow.inbound.recent_for_user("web", "resident-pets")
        assert rows[0].intent != "report_pets"  # the old model has no such intent
        await app.say("resident-pets", "取消")
        assert (
            await liu.post("/api/v1/admin/intents", json={"name": "report_pets"})
        ).status_code == 201
        added = await liu.post(
            "/api/v1/admin/intents/report_pets/examples", json={"examples": PETS}
        )
        assert added.json()["added"] == len(PETS)

        started = await liu.post("/api/v1/admin/nlu/train")
        assert started.status_code == 202
        job = await finish(liu, started.json()["id"])
        assert job["status"] == "done", job["error"]
        assert "candidate" in job["seen"] or "final" in job["seen"]
        version = job["version"]
        verdict = job["result"]["verdict"]
        assert verdict in ("better", "same"), job["result"]["weak_intents"]  # may be activated
        assert "report_pets" in job["result"]["per_intent_f1"]

        evaluation = (await liu.get(f"/api/v1/admin/nlu/versions/{version}/evaluation")).json()
        assert evaluation["baseline_version"] == "v-test-1" and evaluation["baseline_fair"]
        pets = next(r for r in evaluation["per_intent"] if r["intent"] == "report_pets")
        assert pets["baseline_f1"] == 0.0 and pets["support"] >= 1  # the old model can't know it
        tolerance = evaluation["tolerance"]
        assert evaluation["macro_f1"]["candidate"] >= evaluation["macro_f1"]["baseline"] - tolerance
        assert evaluation["candidate"]["labels"] and evaluation["candidate"]["confusion"]
        assert isinstance(evaluation["candidate"]["misclassified"], list)
        png = await liu.get(f"/api/v1/admin/nlu/versions/{version}/confusion.png")
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        listed = (await liu.get("/api/v1/admin/intents")).json()["intents"]
        assert next(i for i in listed if i["name"] == "report_pets")["f1"] is not None

        assert (
            await liu.post("/api/v1/admin/nlu/activate", json={"version": version})
        ).status_code == 403
        async with start_app(models=models_copy) as other:  # a second process on the same data
            assert other.container.interpreter.version == "v-test-1"
            done = await ops.post("/api/v1/admin/nlu/activate", json={"version": version})
            assert done.status_code == 200, done.text
            assert done.json() == {
                "active": version, "previous": "v-test-1", "verdict": verdict, "forced": False,
            }  # fmt: skip
            assert app.container.interpreter.version == version  # this process: at once
            for _ in range(50):  # the other process follows the ACTIVE pointer
                if other.container.interpreter.version == version:
                    break
                await asyncio.sleep(0.1)
            assert other.container.interpreter.version == version

        await app.say("resident-pets-2", PROBE)
        async with app.container.store.unit() as uow:
            rows = await uow.inbound.recent_for_user("web", "resident-pets-2")
        assert rows[0].intent == "report_pets"

        back = await ops.post("/api/v1/admin/nlu/rollback", json={"reason": "先观察"})
        assert back.json() == {"active": "v-test-1", "previous": version}
        assert app.container.interpreter.version == "v-test-1"
        assert (await ops.post("/api/v1/admin/nlu/rollback", json={})).status_code == 409
        history = (await ops.get("/api/v1/admin/nlu/versions")).json()
        assert [(a["kind"], a["version"]) for a in history["activations"]] == [
            ("rollback", "v-test-1"),
            ("activate", version),
        ]
        audit = (await ops.get("/api/v1/admin/audit", params={"action": "nlu."})).json()["entries"]
        assert [e["action"] for e in audit][:3] == ["nlu.rollback", "nlu.activate", "nlu.train"]


async def test_a_worse_model_is_refused_unless_forced_with_a_reason(
    start_app: Any, models_copy: Path
) -> None:
    async with console(start_app, models_copy) as (app, c):
        ops = c["ops"]
        # strip two intents down to a few examples: the new model gets worse on them
        async with app.container.store.unit() as uow:
            for name in ("report_noise", "report_parking", "report_property"):
                intent = await uow.nlu_data.intent_by_name(name)
                for row in list(await uow.nlu_data.examples(intent.id))[3:]:
                    await uow.nlu_data.delete_example(row.id)
        job = await finish(ops, (await ops.post("/api/v1/admin/nlu/train")).json()["id"])
        assert job["status"] == "done", job["error"]
        version = job["version"]
        assert job["result"]["verdict"] == "worse"
        refused = await ops.post("/api/v1/admin/nlu/activate", json={"version": version})
        assert refused.status_code == 409 and "强制启用" in refused.json()["error"]
        assert refused.json()["detail"]["verdict"] == "worse"
        no_reason = await ops.post(
            "/api/v1/admin/nlu/activate", json={"version": version, "force": True}
        )
        assert no_reason.status_code == 422 and "原因" in no_reason.json()["error"]
        assert app.container.models.active_version() == "v-test-1"
        forced = await ops.post(
            "/api/v1/admin/nlu/activate",
            json={"version": version, "force": True, "reason": "试运行一天，明早回滚"},
        )
        assert forced.status_code == 200 and forced.json()["forced"] is True
        assert app.container.models.active_version() == version
        audit = (await ops.get("/api/v1/admin/audit", params={"action": "nlu.activate"})).json()
        entry = audit["entries"][0]
        assert entry["action"] == "nlu.activate.forced" and "试运行一天" in entry["summary"]
        versions = (await ops.get("/api/v1/admin/nlu/versions")).json()
        assert versions["activations"][0]["forced"] is True
        assert versions["activations"][0]["reason"] == "试运行一天，明早回滚"
        # going back to the better old version needs no force: it is compared afresh
        back = await ops.post("/api/v1/admin/nlu/activate", json={"version": "v-test-1"})
        assert back.status_code == 200 and back.json()["forced"] is False


async def test_training_refuses_what_it_cannot_do(start_app: Any, models_copy: Path) -> None:
    async with console(start_app, models_copy) as (_, c):
        ops, zhang = c["ops"], c["zhang"]
        assert (await zhang.post("/api/v1/admin/nlu/train")).status_code == 403
        assert (await zhang.get("/api/v1/admin/nlu/versions")).status_code == 403
        first = await ops.post("/api/v1/admin/nlu/train")
        second = await ops.post("/api/v1/admin/nlu/train")
        assert second.status_code == 409 and "已有训练" in second.json()["error"]
        assert (await ops.get("/api/v1/admin/nlu/jobs/9999")).status_code == 404
        assert (
            await ops.post("/api/v1/admin/nlu/activate", json={"version": "../../etc"})
        ).status_code == 404
        assert (
            await ops.post("/api/v1/admin/nlu/activate", json={"version": "v-test-1"})
        ).status_code == 409
        assert (await ops.post("/api/v1/admin/nlu/rollback", json={})).status_code == 409
        await finish(ops, first.json()["id"])


async def test_console_pages_show_progress_evaluation_and_activate(
    start_app: Any, models_copy: Path
) -> None:
    async with console(start_app, models_copy) as (app, _):
        client = app.client
        csrf = await login(client, "ops")
        page = await client.get("/admin/nlu")
        assert page.status_code == 200 and "开始训练" in page.text and "v-test-1" in page.text
        started = await client.post("/admin/nlu/train", data={"csrf_token": csrf})
        assert started.status_code == 303
        job_page = await client.get(started.headers["location"])
        job_id = int(started.headers["location"].rsplit("/", 1)[1])
        assert 'data-job="' in job_page.text or "训练完成" in job_page.text
        job = await finish(client, job_id)  # the page's own polling, with the session cookie
        version = job["version"]
        done_page = await client.get(f"/admin/nlu/jobs/{job_id}")
        assert "训练完成" in done_page.text and version in done_page.text
        report = await client.get(f"/admin/nlu/versions/{version}")
        assert report.status_code == 200
        assert (
            "各意图 F1" in report.text
            and "混淆矩阵" in report.text
            and "report_elevator" in report.text
        )
        image = await client.get(f"/admin/nlu/versions/{version}/confusion.png")
        assert image.headers["content-type"] == "image/png"
        activated = await client.post(
            "/admin/nlu/activate",
            data={"csrf_token": csrf, "version": version, "force": "1", "reason": "页面测试"},
        )
        assert activated.status_code == 303
        assert "已启用模型" in (await client.get("/admin/nlu")).text
        assert app.container.models.active_version() == version


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_model_trained_and_activated_on_one_replica_is_served_by_another_via_s3(
    start_app: Any, models_copy: Path, tmp_path: Path, s3_settings: dict[str, Any]
) -> None:
    async with console(start_app, models_copy, s3=s3_settings) as (_app, c):
        ops, liu = c["ops"], c["liu"]
        assert (
            await liu.post("/api/v1/admin/intents", json={"name": "report_pets"})
        ).status_code == 201
        await liu.post("/api/v1/admin/intents/report_pets/examples", json={"examples": PETS})
        job = await finish(liu, (await liu.post("/api/v1/admin/nlu/train")).json()["id"])
        assert job["status"] == "done", job["error"]
        version = job["version"]
        # a replica on another machine: its own, empty models directory; the same bucket
        async with start_app(models=tmp_path / "replica-b", s3=s3_settings) as other:
            assert other.container.interpreter.version == "v-test-1"  # published by A
            done = await ops.post("/api/v1/admin/nlu/activate", json={"version": version})
            assert done.status_code == 200, done.text
            for _ in range(100):
                if other.container.interpreter.version == version:
                    break
                await asyncio.sleep(0.1)
            assert other.container.interpreter.version == version
            await other.say("resident-pets-b", PROBE)
            async with other.container.store.unit() as uow:
                rows = await uow.inbound.recent_for_user("web", "resident-pets-b")
            assert rows[0].intent == "report_pets"
            # the console's evaluation travelled with the version
            assert (tmp_path / "replica-b" / version / "evaluation.json").is_file()


MISLABELLED = [
    "电梯又坏了，麻烦来看看",
    "楼上又在装修，吵死了",
    "有辆车停在我家门口不走",
    "厨房天花板在漏水",
    "电梯门关不上",
    "半夜有人在楼下大声唱歌",
    "消防通道被车堵了",
    "卫生间的水管漏了",
]


async def test_a_new_intent_the_model_cannot_learn_is_refused_and_the_pages_say_why(
    start_app: Any, models_copy: Path
) -> None:
    async with console(start_app, models_copy) as (app, c):
        ops = c["ops"]
        assert (await ops.post("/api/v1/admin/intents", json={"name": "report_misc"})).status_code
        await ops.post("/api/v1/admin/intents/report_misc/examples", json={"examples": MISLABELLED})
        job = await finish(ops, (await ops.post("/api/v1/admin/nlu/train")).json()["id"])
        assert job["status"] == "done", job["error"]
        version = job["version"]
        weak = job["result"]["weak_intents"]
        assert [(w["intent"], w["change"]) for w in weak] == [("report_misc", "new")]
        assert weak[0]["f1"] < 0.5
        assert job["result"]["verdict"] in ("weak", "worse")
        refused = await ops.post("/api/v1/admin/nlu/activate", json={"version": version})
        assert refused.status_code == 409 and "强制启用" in refused.json()["error"]
        assert refused.json()["detail"]["weak_intents"][0]["intent"] == "report_misc"
        assert app.container.models.active_version() == "v-test-1"

        client = app.client
        await login(client, "ops")
        report = (await client.get(f"/admin/nlu/versions/{version}")).text
        assert "新增或改动的意图识别太差" in report and "report_misc" in report
        assert "本页的 macro-F1、各意图 F1" in report and "两者都没训练过的" in report
        listing = (await client.get("/admin/nlu")).text
        assert "对比评估集：本版本与 v-test-1 各自留出" in listing  # the new version's number
        assert "本版本的留出评估集" in listing  # v-test-1: its own held-out examples
        intents = (await client.get("/admin/intents")).text
        assert f"“上次评估 F1”：训练任务 #{job['id']}（版本 {version}）的对比评估集" in intents
