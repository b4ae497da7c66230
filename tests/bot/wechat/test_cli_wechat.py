"""``minhu wechat qrcodes | menu | bind-worker`` against the fake WeChat API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from bot.cli import app
from bot.cli_wechat import find_cjk_font
from tests.bot.wechat.fake_wechat import APP_ID, SECRET, FakeWeChat
from tests.bot.wechat.wire import TOKEN


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeWeChat]:
    fake = FakeWeChat()
    with fake.in_thread():
        monkeypatch.delenv("MINHU_REDIS_URL", raising=False)  # the CLI's token: in-process
        for name, value in {
            "MINHU_ENV": "test",
            "MINHU_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "MINHU_DATA_DIR": str(tmp_path),
            "MINHU_WECHAT__APP_ID": APP_ID,
            "MINHU_WECHAT__SECRET": SECRET,
            "MINHU_WECHAT__TOKEN": TOKEN,
            "MINHU_WECHAT__API_BASE": fake.base_url,
        }.items():
            monkeypatch.setenv(name, value)
        yield fake


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_qrcodes_creates_one_permanent_code_per_building_and_writes_printable_pngs(
    fake_api: FakeWeChat, tmp_path: Path
) -> None:
    assert run("demo")[0] == 0
    out = tmp_path / "codes"
    code, output = run("wechat", "qrcodes", "--out", str(out))
    assert code == 0, output
    scenes = [q["action_info"]["scene"]["scene_str"] for q in fake_api.qrcodes]
    assert {q["action_name"] for q in fake_api.qrcodes} == {"QR_LIMIT_STR_SCENE"}
    assert len(scenes) == 12 and len(set(scenes)) == 12
    assert all(s.startswith("b1.") and len(s) <= 64 for s in scenes)
    files = sorted(out.glob("*.png"))
    assert len(files) == 12
    assert any(
        f.name.endswith(f"-{scenes[2].replace('.', '_')}.png") and "3幢" in f.name for f in files
    )
    # the registry rebuilt from scratch: every building gets the code printed for it before
    assert run("demo", "--reset")[0] == 0
    fake_api.qrcodes.clear()
    assert run("wechat", "qrcodes", "--out", str(tmp_path / "again"))[0] == 0
    assert [q["action_info"]["scene"]["scene_str"] for q in fake_api.qrcodes] == scenes
    with Image.open(files[0]) as image:
        assert image.format == "PNG" and image.width >= 400
        # printable: the building's name under the code (when the machine has a Chinese font)
        assert image.height > image.width or find_cjk_font() is None
    assert "阳光花园社区3幢" in output and "12" in output


def test_menu_installs_report_my_tickets_and_help(fake_api: FakeWeChat) -> None:
    code, output = run("wechat", "menu")
    assert code == 0, output
    [menu] = fake_api.menus
    assert [(b["type"], b["name"], b["key"]) for b in menu["button"]] == [
        ("click", "我要报", "report"),
        ("click", "我的工单", "status"),
        ("click", "使用帮助", "help"),
    ]


def test_bind_worker_makes_wechat_the_workers_preferred_channel(fake_api: FakeWeChat) -> None:
    import asyncio

    from storage.db import Database
    from storage.repositories import SqlStore

    assert run("demo")[0] == 0
    code, output = run("wechat", "bind-worker", "--worker-id", "1", "--openid", "oWkr0123456789")
    assert code == 0 and "张伟" in output, output
    assert run("wechat", "bind-worker", "--worker-id", "999", "--openid", "oX123456")[0] == 1
    assert run("wechat", "bind-worker", "--worker-id", "1", "--openid", "bad id!")[0] == 2

    async def channels() -> list[str]:
        import os

        database = Database(os.environ["MINHU_DATABASE_URL"])
        try:
            async with SqlStore(database).unit() as uow:
                return [i.channel for i in await uow.registry.worker_identities(1)]
        finally:
            await database.dispose()

    assert asyncio.run(channels())[0] == "wechat"
    # WeCom joins as the fallback, after the channels the worker has
    code, output = run("wechat", "bind-worker", "--worker-id", "1", "--wecom-user", "zhangwei")
    assert code == 0 and "企业微信" in output, output
    assert asyncio.run(channels())[-1] == "wecom"
    both = ("--openid", "oWkr0123456789", "--wecom-user", "zhangwei")
    assert run("wechat", "bind-worker", "--worker-id", "1", *both)[0] == 2


def test_commands_explain_when_wechat_is_not_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MINHU_WECHAT__APP_ID", raising=False)
    monkeypatch.setenv("MINHU_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    code, output = run("wechat", "menu")
    assert code == 2 and "MINHU_WECHAT__APP_ID" in output


def test_an_api_error_is_reported_plainly(fake_api: FakeWeChat) -> None:
    fake_api.fail_next("menu", 40018)
    code, output = run("wechat", "menu")
    assert code == 1 and "40018" in output and "Traceback" not in output
