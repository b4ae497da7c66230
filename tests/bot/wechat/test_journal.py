"""WeChat's passive path while PostgreSQL is down: the message is kept in the journal and
answered "saved" at once (so WeChat's three tries cannot all fail), then processed and its
answer pushed as a customer-service message when the database is back."""

from __future__ import annotations

from typing import Any

import pytest

from bot.wechat.incoming import say
from handlers.i18n import t
from storage.journal import MemoryInboundJournal
from tests.bot.test_journal import Outage
from tests.bot.wechat.helpers import eventually
from tests.bot.wechat.wire import next_msg_id, payload


async def test_a_message_sent_while_the_database_is_down_is_saved_and_answered_later(
    wechat_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with wechat_app(aes=True) as w:
        service = w.container.service
        service.journal = MemoryInboundJournal()
        outage = Outage(w.container.store, monkeypatch)
        outage.down = True
        msg_id = next_msg_id()
        xml = payload("text", openid="oDown0000000", content="3幢电梯坏了，有人被困", msg_id=msg_id)
        first = await w.wire.post(xml)
        assert first.text == t("journaled", "zh")
        # WeChat's retry (same MsgId) finds no row to read: it waits out its budget and is
        # told the answer follows; the message is kept once
        again = await w.wire.post(xml)
        assert again.text == say("holding")
        assert len(await service.journal.pending(10)) == 1

        outage.down = False
        assert await service.drain_journal() == 1
        answer = await w.wire.follow.pushed("oDown0000000", msg_id, before=0, wait=10)
        assert "电梯" in answer or "被困" in answer
        async with w.container.store.unit() as uow:
            assert len(await uow.tickets.search()) == 1
        # a late retry neither files nor pushes anything again
        pushed = len(w.fake.texts_to("oDown0000000"))
        await w.wire.post(xml)
        await eventually(lambda: True)
        assert len(w.fake.texts_to("oDown0000000")) == pushed
        async with w.container.store.unit() as uow:
            assert len(await uow.tickets.search()) == 1
