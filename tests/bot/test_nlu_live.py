"""A running service swaps in a newly activated model without a restart; bad models fail early."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import nlu
from bot.nlu_runtime import ModelRepository
from tests.app_fixtures import NLU_DATA
from tests.factories import make_settings

pytestmark = pytest.mark.slow

MESSAGE = "太感谢了"


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


@pytest.fixture(scope="module")
def thanks_means_help(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second model version, trained on data where thanking means asking for help."""
    data = nlu.load_training_data(NLU_DATA)
    relabelled = nlu.TrainingData(
        [
            nlu.Example(e.text, "help" if e.intent == "thanks" else e.intent, e.entities)
            for e in data.examples
        ],
        data.synonyms,
        data.regexes,
        data.lookups,
    )
    directory = tmp_path_factory.mktemp("v2") / "v-test-2"
    nlu.train(relabelled, version="v-test-2").save(directory)
    return directory


async def wait_for_version(app: Any, version: str, seconds: float) -> float:
    """Poll /healthz until the app serves ``version``; return how long it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        health = (await app.client.get("/healthz")).json()
        if health["nlu_model"] == version:
            return loop.time() - started
        assert loop.time() - started < seconds, f"still serving {health['nlu_model']}"
        await asyncio.sleep(0.05)


async def test_answer_changes_without_restart_when_a_new_model_is_activated(
    start_app: Any, models_copy: Path, thanks_means_help: Path
) -> None:
    shutil.copytree(thanks_means_help, models_copy / "v-test-2")
    async with start_app(models=models_copy) as app:
        before = texts(await app.say("resident-live", MESSAGE))
        assert "不客气" in before

        ModelRepository(models_copy).activate("v-test-2", force=True, reason="live swap test")
        interval = app.container.settings.model_watch_seconds
        # polling interval plus the time to load the model (jieba's dictionary) on this machine
        took = await wait_for_version(app, "v-test-2", seconds=interval + 15)

        after = texts(await app.say("resident-live", MESSAGE))
        assert "使用方法" in after and "不客气" not in after
        assert took >= 0.0


async def test_every_instance_follows_when_several_share_the_models_directory(
    start_app: Any, models_copy: Path, thanks_means_help: Path, tmp_path: Path
) -> None:
    shutil.copytree(thanks_means_help, models_copy / "v-test-2")
    async with (
        start_app(models=models_copy, data_dir=tmp_path / "a") as first,
        start_app(models=models_copy, data_dir=tmp_path / "b") as second,
    ):
        for app in (first, second):
            assert "不客气" in texts(await app.say("resident-multi", MESSAGE))
        ModelRepository(models_copy).activate("v-test-2", force=True, reason="two instances")
        for app in (first, second):
            await wait_for_version(app, "v-test-2", seconds=20)
            assert "使用方法" in texts(await app.say("resident-multi", MESSAGE))
        # and back again, by rollback
        ModelRepository(models_copy).rollback()
        for app in (first, second):
            await wait_for_version(app, "v-test-1", seconds=20)
            assert "不客气" in texts(await app.say("resident-multi", MESSAGE))


async def test_running_service_keeps_its_model_when_the_activated_one_is_damaged(
    start_app: Any, models_copy: Path, thanks_means_help: Path
) -> None:
    shutil.copytree(thanks_means_help, models_copy / "v-test-2")
    async with start_app(models=models_copy) as app:
        (models_copy / "v-test-2" / "arrays.npz").write_bytes(b"damaged after activation")
        # Written behind the repository's back (activate() would refuse a damaged model).
        (models_copy / "ACTIVE").write_text("v-test-2\n", "utf-8")
        await asyncio.sleep(app.container.settings.model_watch_seconds * 4)
        health = (await app.client.get("/healthz")).json()
        assert health["nlu_model"] == "v-test-1"
        assert "不客气" in texts(await app.say("resident-damaged", MESSAGE))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda root: (root / "ACTIVE").unlink(), "no active NLU model"),
        (lambda root: (root / "v-test-1" / "arrays.npz").write_bytes(b"x"), "corrupt"),
        (lambda root: (root / "v-test-1" / "model.json").unlink(), "model.json is missing"),
        (lambda root: shutil.rmtree(root / "v-test-1"), "does not exist"),
    ],
)
async def test_app_startup_fails_with_a_clear_message_when_the_model_is_missing_or_corrupt(
    models_copy: Path, tmp_path: Path, damage: Any, message: str
) -> None:
    from bot.app import create_app

    damage(models_copy)
    app = create_app(make_settings(tmp_path, models=models_copy))
    with pytest.raises(nlu.ModelLoadError, match=message):
        async with app.router.lifespan_context(app):
            pass


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda root: (root / "ACTIVE").unlink(), "no active NLU model"),
        (lambda root: (root / "v-test-1" / "arrays.npz").write_bytes(b"x"), "corrupt"),
    ],
)
def test_serve_prints_the_model_error_without_a_traceback_when_the_model_is_bad(
    models_copy: Path, tmp_path: Path, damage: Any, message: str
) -> None:
    damage(models_copy)
    env = {
        **os.environ,
        "MINHU_DATA_DIR": str(tmp_path),
        "MINHU_MODEL_DIR": str(models_copy),
        "MINHU_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "MINHU_PORT": "1",  # never reached: the model check comes first
    }
    env.pop("MINHU_REDIS_URL", None)
    minhu = Path(sys.executable).parent / "minhu"
    done = subprocess.run(
        [str(minhu), "serve"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


async def test_dialogue_asks_back_when_confidence_is_below_the_models_clarify_threshold(
    start_app: Any, models_copy: Path
) -> None:
    # The same model with a clarify threshold no parse reaches: the dialogue must ask back
    # instead of starting the elevator report, because it reads the active model's threshold.
    model = nlu.load_model(models_copy / "v-test-1")
    confidence = model.parse("电梯坏了，门打不开").intent.confidence
    assert confidence >= model.thresholds.clarify  # acted on by the trained threshold
    clarify = round(confidence + (1.0 - confidence) / 2, 7)
    strict = model.with_thresholds(nlu.Thresholds(clarify=clarify, out_of_scope=0.01))
    strict.save(models_copy / "v-strict")
    async with start_app(models=models_copy) as app:
        assert "请问是哪一幢楼" in texts(await app.say("resident-a", "电梯坏了，门打不开"))
        ModelRepository(models_copy).activate("v-strict", force=True, reason="threshold test")
        for _ in range(400):  # the polling interval plus loading time
            if app.container.interpreter.thresholds.clarify == clarify:
                break
            await asyncio.sleep(0.05)
        assert app.container.interpreter.thresholds.clarify == clarify
        replies = await app.say("resident-b", "电梯坏了，门打不开")
        assert "您要反映的是哪类问题" in texts(replies)
