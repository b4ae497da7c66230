"""Replay protection: a captured signed URL cannot carry a forged body (issue 11)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.wechat.helpers import inbound_count
from tests.bot.wechat.wire import WeChatWire, payload


@pytest.mark.parametrize("aes", [False, True], ids=["plaintext", "aes"])
async def test_captured_signed_url_with_a_forged_body_is_refused(
    wechat_app: Any, aes: bool
) -> None:
    async with wechat_app(aes=aes) as w:
        wire: WeChatWire = w.wire
        params, body = wire.signed(payload("text", openid="oHonest00000", content="你好"))
        first = await wire.post_raw(params, body)
        assert first.status == 200
        stored = await inbound_count(w.container)
        # the attacker reuses the signature, timestamp and nonce with an urgent report
        _, forged = wire.signed(payload("text", openid="oAttacker000", content="2幢楼道着火冒烟了"))
        if not aes:
            replay = await wire.post_raw(params, forged)
            assert replay.status == 403
        # WeChat's own retry (same URL, same body) is still answered, and stored once
        retry = await wire.post_raw(params, body)
        assert retry.status == 200
        assert await inbound_count(w.container) == stored
        async with w.container.store.unit() as uow:
            assert await uow.tickets.search() == []
