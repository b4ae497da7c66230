"""Fixtures of the WeChat channel tests: the fake API server and the app wired to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import func, select

from storage.models import InboundMessage, Outbox
from tests.app_fixtures import Running
from tests.bot.wechat.fake_wechat import FakeWeChat
from tests.bot.wechat.wire import WeChatWire, wechat_config


@pytest.fixture
async def fake_wechat() -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat().running() as fake:
        yield fake


@dataclass
class Follow:
    """Waits for the answer pushed after a holding reply: the message handled and every reply
    of it delivered to the fake, then returns those texts as the resident reads them."""

    fake: FakeWeChat
    container: Any

    async def pushed(self, openid: str, msg_id: str, before: int, wait: float = 60.0) -> str:
        deadline = asyncio.get_running_loop().time() + wait
        while asyncio.get_running_loop().time() < deadline:
            async with self.container.database.session() as session:
                inbound = (
                    await session.exec(
                        select(InboundMessage).where(
                            InboundMessage.channel == "wechat", InboundMessage.message_id == msg_id
                        )
                    )
                ).first()
                waiting = 0
                if inbound is not None:
                    waiting = (
                        await session.exec(
                            select(func.count())
                            .select_from(Outbox)
                            .where(
                                Outbox.dedupe_key.like(f"reply:{inbound.id}:%"),  # type: ignore[union-attr]
                                Outbox.status == "pending",
                            )
                        )
                    ).one()
            if inbound is not None and inbound.status == "done" and not waiting:
                texts = self.fake.texts_to(openid)[before:]
                if texts:
                    return "\n".join(texts)
            await asyncio.sleep(0.1)
        raise AssertionError(f"no pushed answer to message {msg_id} within {wait} s")


@dataclass
class WeChatApp:
    app: Running
    wire: WeChatWire
    fake: FakeWeChat

    @property
    def container(self) -> Any:
        return self.app.container


@pytest.fixture
def wechat_app(start_app: Any, fake_wechat: FakeWeChat) -> Callable[..., Any]:
    """``async with wechat_app(aes=True, reply_mode="push") as w:`` — app + wire + fake."""

    @asynccontextmanager
    async def start(
        *, aes: bool = False, clock: Any = None, compatible: bool = False, **wechat: Any
    ) -> AsyncIterator[WeChatApp]:
        config = wechat_config(fake_wechat.base_url, aes=aes, **wechat)
        async with start_app(clock=clock, wechat=config) as running:
            wire = WeChatWire(running.client, aes=aes, compatible=compatible)
            wire.follow = Follow(fake_wechat, running.container)
            yield WeChatApp(running, wire, fake_wechat)

    return start


@pytest.fixture
def two_wechat_apps(
    tmp_path: Any,
    trained_models: Any,
    fresh_postgres_url: Callable[[], str],
    redis_url: str,
    redis_prefix: str,
    fake_wechat: FakeWeChat,
) -> Callable[..., Any]:
    """Two app instances (two replicas) sharing one PostgreSQL database and one Redis."""
    import httpx

    from bot.app import create_app
    from tests.factories import make_settings

    database_url = fresh_postgres_url()

    @asynccontextmanager
    async def start(*, aes: bool = False, **wechat: Any) -> AsyncIterator[list[WeChatApp]]:
        apps: list[WeChatApp] = []
        async with contextlib.AsyncExitStack() as stack:
            for i in range(2):  # one after the other: the first loads the demo community
                (tmp_path / f"replica{i}").mkdir(exist_ok=True)
                settings = make_settings(
                    tmp_path / f"replica{i}",
                    models=trained_models,
                    database_url=database_url,
                    redis_url=redis_url,
                    redis_prefix=redis_prefix,
                    wechat=wechat_config(fake_wechat.base_url, aes=aes, **wechat),
                )
                app = create_app(settings)
                await stack.enter_async_context(app.router.lifespan_context(app))
                client = await stack.enter_async_context(
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app), base_url=f"http://replica{i}.test"
                    )
                )
                running = Running(client=client, container=app.state.container, app=app)
                apps.append(WeChatApp(running, WeChatWire(client, aes=aes), fake_wechat))
            yield apps

    return start
