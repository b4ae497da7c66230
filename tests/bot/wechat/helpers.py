"""Small helpers of the WeChat tests."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from sqlmodel import func, select

from storage.models import InboundMessage


async def eventually(check: Callable[[], Any], *, wait: float = 5.0, what: str = "") -> Any:
    """Poll until ``check()`` is truthy (the outbox delivers in the background)."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


def ticket_number(text: str | None) -> str:
    match = re.search(r"MH-\d{8}-\d{4}", text or "")
    assert match, f"no ticket number in: {text}"
    return match.group()


async def inbound_count(container: Any, channel: str = "wechat") -> int:
    async with container.database.session() as session:
        result = await session.exec(
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.channel == channel)
        )
        return int(result.one())


async def worker_id(container: Any, name: str) -> int:
    async with container.store.unit() as uow:
        for worker in await uow.registry.workers():
            if worker.name == name:
                return int(worker.id)
    raise AssertionError(f"no worker {name}")


async def bind_worker(container: Any, name: str, openid: str) -> int:
    """What ``minhu wechat bind-worker`` does: WeChat becomes the worker's preferred channel."""
    ident = await worker_id(container, name)
    async with container.store.unit() as uow:
        await uow.registry.bind_worker_identity(ident, "wechat", openid, priority=-1)
    return ident
