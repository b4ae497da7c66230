"""Fixtures of the whole-grid tests: a local SMS gateway (Dysms ``SendSms``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.bot.grid.fake_sms import FakeSmsGateway


@pytest.fixture
async def fake_sms() -> AsyncIterator[FakeSmsGateway]:
    fake = FakeSmsGateway()
    app = web.Application()
    app.router.add_post("/", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield fake
    await runner.cleanup()
