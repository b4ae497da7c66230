"""`minhu telegram set-webhook / info / delete-webhook` against the fake Bot API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from tests.bot.telegram.conftest import SECRET, TOKEN
from tests.bot.telegram.fake_api import FakeTelegram


@pytest.fixture
def threaded_fake() -> Iterator[FakeTelegram]:
    """The fake on its own event loop in a thread (the CLI runs its own asyncio.run)."""
    loop = asyncio.new_event_loop()
    fake = FakeTelegram(TOKEN)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fake.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def env(fake: FakeTelegram, **extra: str) -> dict[str, str]:
    return {
        "MINHU_TELEGRAM__TOKEN": TOKEN,
        "MINHU_TELEGRAM__API_BASE": fake.base_url,
        "MINHU_PUBLIC_BASE_URL": "https://minhu.example.org",
        **extra,
    }


def test_set_webhook_registers_the_url_the_secret_and_the_menu(threaded_fake: FakeTelegram) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["telegram", "set-webhook"],
        env=env(threaded_fake, MINHU_TELEGRAM__WEBHOOK_SECRET=SECRET),
    )
    assert result.exit_code == 0, result.output
    assert "https://minhu.example.org/webhooks/telegram" in result.output
    hook = threaded_fake.webhook
    assert hook["url"] == "https://minhu.example.org/webhooks/telegram"
    assert hook["secret_token"] == SECRET
    assert hook["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
    menus = threaded_fake.of("setMyCommands")
    assert [m.params.get("language_code") for m in menus] == [None, "en"]
    assert {c["command"] for c in menus[0].params["commands"]} >= {"start", "status", "cancel"}

    info = runner.invoke(cli, ["telegram", "info"], env=env(threaded_fake))
    assert info.exit_code == 0, info.output
    assert "@minhu_test_bot" in info.output and "minhu.example.org" in info.output

    deleted = runner.invoke(cli, ["telegram", "delete-webhook"], env=env(threaded_fake))
    assert deleted.exit_code == 0 and threaded_fake.webhook == {}


def test_set_webhook_refuses_to_run_without_a_secret(threaded_fake: FakeTelegram) -> None:
    result = CliRunner().invoke(cli, ["telegram", "set-webhook"], env=env(threaded_fake))
    assert result.exit_code == 2
    assert "WEBHOOK_SECRET" in result.output
    assert threaded_fake.webhook == {}


def test_a_malformed_token_is_a_configuration_error_not_a_traceback() -> None:
    result = CliRunner().invoke(cli, ["telegram", "info"], env={"MINHU_TELEGRAM__TOKEN": "abc"})
    assert result.exit_code == 2
    assert "not a bot token" in result.output
