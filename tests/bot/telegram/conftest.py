"""Fixtures for the Telegram channel: the fake Bot API and the app wired to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.bot.telegram.fake_api import Call, FakeTelegram
from tests.bot.telegram.updates import TgUser, Updates

TOKEN = "7000000001:AAHfake-token-for-the-local-bot-api"
SECRET = "webhook-secret-0123456789abcdef"
RESIDENT = TgUser(5123456789, "小明")
WORKER = TgUser(5987654321, "张伟")
ENGLISH = TgUser(5111111111, "Tom", "en-GB")


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(TOKEN)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def telegram_settings(fake: FakeTelegram, **overrides: Any) -> dict[str, Any]:
    return {
        "token": TOKEN,
        "webhook_secret": SECRET,
        "api_base": fake.base_url,
        "bot_username": "minhu_test_bot",
        "chat_interval_seconds": 0,  # the real 1 s spacing has its own test
        "card_sync_seconds": 0.2,
        "request_timeout_seconds": 5,
        **overrides,
    }


@dataclass
class TelegramApp:
    """The running app with the Telegram channel pointed at the fake Bot API."""

    client: httpx.AsyncClient
    container: Any
    fake: FakeTelegram
    updates: Updates = field(default_factory=Updates)

    @property
    def runtime(self) -> Any:
        return self.container.extras["telegram"]

    async def post(self, update: dict[str, Any], *, secret: str | None = SECRET) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await self.client.post("/webhooks/telegram", json=update, headers=headers)

    async def send(self, update: dict[str, Any]) -> list[Call]:
        """Deliver an update through the webhook, wait until everything it caused is sent, and
        return the calls made to the Bot API meanwhile."""
        before = len(self.fake.calls)
        response = await self.post(update)
        assert response.status_code == 200, response.text
        await self.settle()
        return self.fake.calls[before:]

    async def say(self, user: TgUser, text: str, **kwargs: Any) -> list[Call]:
        return await self.send(self.updates.text(user, text, **kwargs))

    async def tap(self, user: TgUser, call: Call, title: str) -> list[Call]:
        """Press the button titled ``title`` on the message ``call`` sent."""
        [button] = [b for b in call.buttons if b["text"] == title]
        update = self.updates.callback(user, button["callback_data"], call.message_id)
        return await self.send(update)

    async def settle(self, wait: float = 15.0) -> None:
        """Wait until stored updates are processed and every due outbox item is delivered."""
        deadline = time.monotonic() + wait
        quiet = 0
        while True:
            busy = bool(self.runtime._chains) or await self._backlog()
            quiet = 0 if busy else quiet + 1
            if quiet >= 3:
                return
            if time.monotonic() > deadline:
                raise AssertionError("the app did not settle")
            await asyncio.sleep(0.03)

    async def _backlog(self) -> bool:
        now = self.container.clock.now()
        async with self.container.store.unit() as uow:
            session = uow.session
            received = await session.execute(
                sa.text("SELECT count(*) FROM inboundmessage WHERE status = 'received'")
            )
            pending = await session.execute(
                sa.text(
                    "SELECT count(*) FROM outbox WHERE status = 'pending' AND next_try_at <= :now"
                ),
                {"now": now.astimezone(UTC).replace(tzinfo=None)},
            )
            if received.scalar_one() or pending.scalar_one():
                return True
            # cards whose ticket changed are edited by the channel's sync loop
            stale = await uow.cards.stale("telegram", since=now - timedelta(days=30))
            return bool(stale)


@pytest.fixture
def start_telegram(
    start_app: Callable[..., Any], fake_telegram: FakeTelegram
) -> Callable[..., Any]:
    """``async with start_telegram(**telegram_overrides) as tg:`` — app + fake Bot API."""

    @asynccontextmanager
    async def start(clock: Any = None, **overrides: Any) -> AsyncIterator[TelegramApp]:
        async with start_app(
            clock=clock, telegram=telegram_settings(fake_telegram, **overrides)
        ) as running:
            yield TelegramApp(running.client, running.container, fake_telegram)

    return start
