"""WeCom (企业微信) as a notification target for grid workers, against a local fake WeCom API."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

CORP_ID = "ww4f2b6c8d0e1a3579"
CORP_SECRET = "Qm7vX2pL9sT4wK8zR1nB6cY3hJ5dF0gA"
AGENT_ID = 1000002


@dataclass
class FakeWeCom:
    """Speaks ``/cgi-bin/gettoken`` and ``/cgi-bin/message/send`` like WeCom does."""

    token: str | None = None
    token_fetches: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    failures: deque[int] = field(default_factory=deque)
    invalid_users: set[str] = field(default_factory=set)
    base_url: str = ""

    async def gettoken(self, request: web.Request) -> web.Response:
        if request.query.get("corpid") != CORP_ID or request.query.get("corpsecret") != CORP_SECRET:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        self.token_fetches += 1
        self.token = self.token or "WECOM_" + secrets.token_hex(12)
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": self.token, "expires_in": 7200}
        )

    async def send(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") != self.token:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        if self.failures:
            code = self.failures.popleft()
            return web.json_response({"errcode": code, "errmsg": f"fake {code}"})
        body = json.loads(await request.read())
        if body["touser"] in self.invalid_users:
            return web.json_response({"errcode": 0, "errmsg": "ok", "invaliduser": body["touser"]})
        self.sent.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": f"m{len(self.sent)}"})

    def to(self, user: str) -> list[str]:
        return [m["text"]["content"] for m in self.sent if m["touser"] == user]


@pytest.fixture
async def fake_wecom() -> AsyncIterator[FakeWeCom]:
    fake = FakeWeCom()
    app = web.Application()
    app.router.add_get("/cgi-bin/gettoken", fake.gettoken)
    app.router.add_post("/cgi-bin/message/send", fake.send)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield fake
    await runner.cleanup()


def wecom(fake: FakeWeCom) -> dict[str, Any]:
    return {
        "corp_id": CORP_ID,
        "agent_id": AGENT_ID,
        "secret": CORP_SECRET,
        "api_base": fake.base_url,
    }


async def bind(container: Any, worker: str, user: str, priority: int) -> None:
    async with container.store.unit() as uow:
        ident = next(w.id for w in await uow.registry.workers() if w.name == worker)
        await uow.registry.bind_worker_identity(ident, "wecom", user, priority=priority)


async def wait_for(check: Any, wait: float = 5.0) -> Any:
    for _ in range(int(wait / 0.05)):
        if value := check():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_worker_preferring_wecom_gets_the_task_there(
    start_app: Any, fake_wecom: FakeWeCom
) -> None:
    async with start_app(wecom=wecom(fake_wecom)) as app:
        await bind(app.container, "张伟", "zhangwei", priority=-1)
        replies = await app.say("resident-wecom", "3幢电梯坏了，有人被困在里面")
        number = re.search(r"MH-\d{8}-\d{4}", replies[1]["text"]).group()  # type: ignore[union-attr]
        [card] = await wait_for(lambda: fake_wecom.to("zhangwei"))
        assert number in card and "【紧急】" in card and "公众号或网页工作台" in card
        assert fake_wecom.sent[0]["agentid"] == AGENT_ID
        assert fake_wecom.sent[0]["msgtype"] == "text"


async def test_an_expired_token_is_refreshed_by_wechatpy_and_the_task_delivered(
    start_app: Any, fake_wecom: FakeWeCom
) -> None:
    async with start_app(wecom=wecom(fake_wecom)) as app:
        await bind(app.container, "张伟", "zhangwei", priority=-1)
        await app.say("resident-wecom", "3幢电梯坏了，有人被困在里面")
        await wait_for(lambda: fake_wecom.to("zhangwei"))
        fake_wecom.token = None  # WeCom expired the token the client holds: 42001
        await app.say("resident-wecom-2", "4幢电梯坏了，有人被困在里面")
        await wait_for(lambda: len(fake_wecom.to("zhangwei")) >= 2)
        assert fake_wecom.token_fetches == 2


async def test_a_member_wecom_cannot_reach_gets_the_task_on_the_next_channel(
    start_app: Any, fake_wecom: FakeWeCom
) -> None:
    fake_wecom.invalid_users.add("zhangwei")
    async with start_app(wecom=wecom(fake_wecom)) as app:
        await bind(app.container, "张伟", "zhangwei", priority=-1)
        await app.say("resident-wecom", "3幢电梯坏了，有人被困在里面")
        task = await app.inbox("worker-zhang")
        assert "电梯" in task[0]["text"]
        async with app.container.store.unit() as uow:
            dead = await uow.outbox.items(status="dead")
            ident = await uow.registry.identity("wecom", "zhangwei")
        assert [d.channel for d in dead] == ["wecom"] and "invalid user" in dead[0].last_error
        assert ident is not None and ident.reachable is False


async def test_rate_limits_on_wecom_are_retried_later(
    start_app: Any, fake_wecom: FakeWeCom
) -> None:
    fake_wecom.failures.append(45009)
    async with start_app(wecom=wecom(fake_wecom)) as app:
        await bind(app.container, "张伟", "zhangwei", priority=-1)
        await app.say("resident-wecom", "3幢电梯坏了，有人被困在里面")

        async def retried() -> Any:
            async with app.container.store.unit() as uow:
                items = [i for i in await uow.outbox.items() if i.channel == "wecom"]
            return items if items and items[0].attempts == 1 else None

        for _ in range(100):
            items = await retried()
            if items:
                break
            await asyncio.sleep(0.05)
        assert items and items[0].status == "pending" and "45009" in items[0].last_error
        assert fake_wecom.sent == []
