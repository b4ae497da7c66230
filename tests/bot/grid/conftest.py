"""Fixtures of the whole-grid tests: the fake 12345 hotline and a local SMS gateway (Dysms
``SendSms``), each on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.bot.grid.fake12345 import Fake12345
from tests.bot.grid.fake_sms import FakeSmsGateway


async def _serve(app: web.Application, fake: Any) -> web.AppRunner:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    return runner


@pytest.fixture
async def fake_12345() -> AsyncIterator[Fake12345]:
    fake = Fake12345()
    app = web.Application()
    app.router.add_post("/api/workorders", fake.work_order)
    runner = await _serve(app, fake)
    yield fake
    await runner.cleanup()


@pytest.fixture
async def fake_sms() -> AsyncIterator[FakeSmsGateway]:
    fake = FakeSmsGateway()
    app = web.Application()
    app.router.add_post("/", fake.handle)
    runner = await _serve(app, fake)
    yield fake
    await runner.cleanup()
