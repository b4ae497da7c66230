"""Withdrawing (撤销) one's own report through the HTTP API: confirmed first, the worker told,
refused once resolved and for other residents' tickets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.test_chat_api import file_report

pytestmark = pytest.mark.slow


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


async def status_of(app: Any, number: str) -> str:
    async with app.container.store.unit() as uow:
        ticket = await uow.tickets.by_number(number)
        assert ticket is not None
        return ticket.status


async def test_a_resident_withdraws_their_report_and_the_worker_is_told(start_app: Any) -> None:
    async with start_app() as app:
        number = await file_report(app, "r-w", "6幢楼道灯不亮")
        await app.inbox("worker-li", expect=1)
        asked = await app.say("r-w", f"撤销 {number} 灯已经修好了")
        assert asked[-1]["text"].startswith(f"确定撤销工单 {number}（物业服务，6幢）吗？")
        assert [b["payload"] for b in asked[-1]["buttons"]] == [
            f"withdraw_yes:{number}",
            f"withdraw_no:{number}",
        ]
        assert await status_of(app, number) == "assigned"  # nothing happens before the yes
        done = await app.say("r-w", button=f"withdraw_yes:{number}")
        assert done[-1]["text"] == (
            f"已撤销工单 {number}（物业服务）。如问题仍在，随时可以重新报事。"
        )
        assert await status_of(app, number) == "cancelled"
        worker = await app.inbox("worker-li", expect=1)
        assert f"【居民撤销】工单 {number}（物业服务，6幢）已被居民撤销" in texts(worker)
        assert "原因：灯已经修好了" in texts(worker)
        # the worker cannot go on with it
        refused = await app.say("worker-li", f"进展 {number} 去看看")
        assert "不能进展" in refused[0]["text"]


async def test_with_several_reports_the_resident_chooses_and_may_keep_it(start_app: Any) -> None:
    async with start_app() as app:
        first = await file_report(app, "r-w", "6幢楼道灯不亮")
        second = await file_report(app, "r-w", "7幢门口垃圾没人清", building="7幢")
        asked = await app.say("r-w", "撤销")
        assert asked[-1]["text"] == "要撤销哪个工单？"
        payloads = [b["payload"] for b in asked[-1]["buttons"]]
        assert set(payloads) == {f"withdraw:{first}", f"withdraw:{second}"}
        confirm = await app.say("r-w", button=f"withdraw:{second}")
        assert f"确定撤销工单 {second}" in confirm[-1]["text"]
        kept = await app.say("r-w", button=f"withdraw_no:{second}")
        assert kept[-1]["text"] == f"好的，工单 {second} 继续处理。"
        assert await status_of(app, second) == "assigned"


async def test_a_resolved_or_someone_elses_report_cannot_be_withdrawn(start_app: Any) -> None:
    async with start_app() as app:
        number = await file_report(app, "r-w", "6幢楼道灯不亮")
        forged = await app.say("r-other", button=f"withdraw_yes:{number}")
        assert f"没有找到您的工单 {number}" in forged[-1]["text"]
        await app.say("worker-li", f"接单 {number}")
        await app.say("worker-li", f"办结 {number} 换了灯泡")
        late = await app.say("r-w", button=f"withdraw_yes:{number}")
        assert f"没有找到您的工单 {number}" in late[-1]["text"] or "不能撤销" in late[-1]["text"]
        assert await status_of(app, number) == "resolved"
        nothing = await app.say("r-w", "撤销")
        assert "当前没有正在填写的报事" in nothing[-1]["text"]
