"""The public JSON chat API: conversations, worker commands, bad input, retries, privacy."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import pytest

from bot.logs import configure_logging


def number_in(replies: list[dict[str, Any]]) -> str:
    match = re.search(r"MH-\d{8}-\d{4}", "\n".join(r["text"] for r in replies))
    assert match, replies
    return match.group()


async def file_report(app: Any, user: str, text: str, building: str = "6号楼") -> str:
    """A normal (non-urgent) report through the whole form, returning its number."""
    replies = await app.say(user, text)
    for _ in range(8):
        last = replies[-1]
        payloads = [b["payload"] for b in last["buttons"]]
        if "confirm" in payloads:
            replies = await app.say(user, button="confirm")
            return number_in(replies)
        if last["text"].startswith("请问") and "哪一幢" in last["text"]:
            replies = await app.say(user, building)
        elif "skip" in payloads:
            replies = await app.say(user, button="skip")
        else:
            raise AssertionError(f"unexpected question: {last}")
    raise AssertionError("form did not finish")


async def test_retry_of_the_same_message_id_gets_the_same_answer_and_one_ticket(
    start_app: Any,
) -> None:
    async with start_app() as app:
        body = {"user_id": "r-retry", "text": "2幢楼道着火冒烟了", "message_id": "wx-1"}
        first = await app.client.post("/api/v1/messages", json=body)
        second = await app.client.post("/api/v1/messages", json=body)
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json()
        async with app.container.store.unit() as uow:
            tickets = await uow.tickets.search()
        assert len(tickets) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"user_id": "r1"}, 422),  # nothing to say
        ({"user_id": "bad id with spaces", "text": "hi"}, 422),
        ({"user_id": "r1", "text": "x" * 20_001}, 422),
        ({"user_id": "r1", "media": ["file:///etc/passwd"]}, 422),
    ],
)
async def test_invalid_requests_get_a_json_error_not_a_500(
    start_app: Any, body: dict[str, Any], status: int
) -> None:
    async with start_app() as app:
        response = await app.client.post("/api/v1/messages", json=body)
        assert response.status_code == status
        assert "error" in response.json()


async def test_malformed_json_gets_a_json_error(start_app: Any) -> None:
    async with start_app() as app:
        response = await app.client.post(
            "/api/v1/messages", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert response.json()["error"] == "invalid request"


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("   ", "空消息"),
        ("😀😀😀", "抱歉"),
        ("<script>alert(1)</script>", "抱歉"),
    ],
)
async def test_odd_messages_get_a_polite_reply(start_app: Any, text: str, expect: str) -> None:
    async with start_app() as app:
        replies = await app.say("r-odd", text)
        assert expect in replies[0]["text"]


async def test_ten_thousand_characters_are_accepted_with_a_notice(start_app: Any) -> None:
    async with start_app() as app:
        replies = await app.say("r-long", "楼上漏水" + "，水一直往下滴" * 1500)
        assert "我已收到前2000个字" in replies[0]["text"]
        assert len(replies) >= 2


async def test_unknown_button_and_unknown_worker_command_get_clear_replies(start_app: Any) -> None:
    async with start_app() as app:
        replies = await app.say("r-btn", button="launch:missiles")
        assert "没太明白" in replies[0]["text"]
        worker = await app.say("worker-li", "帮我订个外卖")
        assert "没有识别出指令" in worker[0]["text"] and "接单" in worker[0]["text"]


async def test_worker_with_several_tasks_must_name_the_ticket(start_app: Any) -> None:
    async with start_app() as app:
        first = await file_report(app, "r-a", "6幢楼下有辆车堵住了消防通道")
        second = await file_report(app, "r-b", "7号楼垃圾桶满了好几天没人清")
        await app.inbox("worker-li", expect=2)
        replies = await app.say("worker-li", "接单")
        assert "您有2个待办工单" in replies[0]["text"]
        assert {b["payload"] for b in replies[0]["buttons"]} == {
            f"accept:{first}",
            f"accept:{second}",
        }
        accepted = await app.say("worker-li", button=f"accept:{second}")
        assert f"已接单 {second}" in accepted[0]["text"]
        tasks = await app.say("worker-li", "任务")
        assert first in tasks[0]["text"] and "等待接单" in tasks[0]["text"]


async def test_worker_cannot_touch_someone_elses_ticket(start_app: Any) -> None:
    async with start_app() as app:
        number = await file_report(app, "r-c", "6幢门口路灯坏了")
        replies = await app.say("worker-zhang", f"办结 {number} 搞定")
        assert "不在您的待办中" in replies[0]["text"]
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
        assert ticket is not None and ticket.status == "assigned"


async def test_transfer_hands_the_ticket_to_another_grid_and_tells_everyone(start_app: Any) -> None:
    async with start_app() as app:
        number = await file_report(app, "r-t", "5幢楼顶有人私自加盖铁皮房")
        await app.inbox("worker-li", expect=1)
        replies = await app.say("worker-li", f"转派 {number}")
        assert {b["title"] for b in replies[0]["buttons"]} >= {"第一网格", "第三网格", "张伟"}
        done = await app.say("worker-li", button=f"transfer:{number}:第三网格")
        assert "已转派给王芳" in done[0]["text"]
        card = await app.inbox("worker-wang", expect=1)
        assert "转派任务" in card[0]["text"] and number in card[0]["text"]
        resident = await app.inbox("r-t", expect=1)
        assert "已转交网格员王芳" in resident[0]["text"]
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None and ticket.status == "transferred"
            events = [e.kind for e in await uow.tickets.events(ticket.id or 0)]
        assert events[-1] == "transfer"


async def test_unsatisfied_rating_reopens_escalates_and_tells_the_worker(start_app: Any) -> None:
    async with start_app() as app:
        number = await file_report(app, "r-u", "8幢晚上十一点还有人在装修，太吵了")
        await app.say("worker-li", f"接单 {number}")
        await app.say("worker-li", f"办结 {number} 已劝导停止施工")
        updates = await app.inbox("r-u", expect=2)
        assert "请为这次处理打分" in updates[-1]["text"]
        replies = await app.say("r-u", "不满意，还是在吵")
        assert "已重新打开" in replies[0]["text"] and "网格长陈静" in replies[0]["text"]
        pushed = await app.inbox("worker-li", expect=2)
        assert any("工单重开" in m["text"] and "陈静" in m["text"] for m in pushed)
        leader = await app.inbox("leader-chen", expect=1)
        assert "不满意重开" in leader[0]["text"] and number in leader[0]["text"]
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None
            kinds = [e.kind for e in await uow.tickets.events(ticket.id or 0)]
        assert ticket.status == "escalated" and ticket.rating == 2
        assert kinds[-2:] == ["reopen", "escalate"]


async def test_my_tickets_lists_open_tickets_with_plain_status(start_app: Any) -> None:
    async with start_app() as app:
        number = await file_report(app, "r-s", "6幢门禁卡刷不开")
        replies = await app.say("r-s", "我的工单")
        assert number in replies[0]["text"]
        assert "已派给网格员，等待接单" in replies[0]["text"]


async def test_phone_is_remembered_for_the_next_report(start_app: Any) -> None:
    async with start_app() as app:
        await app.say("r-p", "6幢电梯按钮坏了")
        replies = await app.say("r-p", "3单元")
        assert "手机号" in replies[-1]["text"]
        replies = await app.say("r-p", "13912345678")
        assert replies[-1]["buttons"][0]["payload"] == "confirm"
        await app.say("r-p", button="confirm")
        replies = await app.say("r-p", "6幢楼道灯不亮")
        texts = "\n".join(r["text"] for r in replies)
        while "skip" in [b["payload"] for b in replies[-1]["buttons"]]:
            replies = await app.say("r-p", button="skip")
            texts += "\n".join(r["text"] for r in replies)
        assert "手机号" not in texts
        assert "139****5678" in replies[-1]["text"]


async def test_full_phone_numbers_never_reach_the_log(start_app: Any) -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", stream)
    try:
        async with start_app() as app:
            # some sites use the phone number itself as the chat user id
            await app.say("13812345678", "1幢电梯困人了，电话13812345678")
            await app.inbox("worker-zhang", expect=1)
    finally:
        logging.getLogger().removeHandler(handler)
    output = stream.getvalue()
    assert "handled channel=web" in output
    assert "13812345678" not in output


async def test_healthz_reports_the_model(start_app: Any) -> None:
    async with start_app() as app:
        response = await app.client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["nlu_model"] == "v-test-1"


async def test_chat_page_and_demo_registry_are_served(start_app: Any) -> None:
    async with start_app() as app:
        page = await app.client.get("/")
        assert page.status_code == 200 and "民呼" in page.text
        registry = (await app.client.get("/api/v1/demo")).json()
        assert len(registry["buildings"]) == 12
        three = next(b for b in registry["buildings"] if b["name"] == "3幢")
        assert {"3号楼", "三幢", "3栋"} <= set(three["aliases"])
        assert {w["web_user_id"] for w in registry["workers"]} >= {"worker-zhang", "leader-chen"}


async def test_a_message_that_fails_gets_an_apology_and_is_recovered_later(
    start_app: Any,
) -> None:
    async with start_app(
        lock_timeout_seconds=0.2, reliability={"recovery_backoff_seconds": 0}
    ) as app:
        sessions = app.container.sessions
        # another process is stuck holding this resident's conversation
        async with sessions.lock("conv:web:r-stuck", timeout=1):
            replies = await app.say("r-stuck", "9幢楼下的井盖丢了，很危险")
        assert replies[0]["text"].startswith("抱歉，系统刚才出了点问题，您的消息已保存")
        async with app.container.store.unit() as uow:
            [row] = await uow.inbound.recent_for_user("web", "r-stuck")
        assert row.status == "failed" and "LockTimeout" in row.error
        assert row.payload["text"] == "9幢楼下的井盖丢了，很危险"

        recovered = await app.container.service.recover()
        assert recovered == 1
        pushed = await app.inbox("r-stuck", expect=1)
        assert "照片" in pushed[0]["text"]  # the safety form goes on where it stopped
        async with app.container.store.unit() as uow:
            [row] = await uow.inbound.recent_for_user("web", "r-stuck")
        assert row.status == "done"


async def test_readyz_checks_database_redis_and_model(start_app: Any) -> None:
    async with start_app() as app:
        response = await app.client.get("/readyz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ready"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["model"] == "ok"
        assert body["checks"]["redis"] in ("ok", "not configured")
        assert body["checks"]["objects"] == "ok"  # the local directory


async def test_readyz_is_503_when_the_database_is_down(start_app: Any) -> None:
    async with start_app() as app:
        container = app.container
        original = container.database.ping

        async def down() -> None:
            from storage.errors import StorageError

            raise StorageError("database unreachable")

        container.database.ping = down
        try:
            response = await app.client.get("/readyz")
        finally:
            container.database.ping = original
        assert response.status_code == 503
        assert response.json()["checks"]["database"] == "error: StorageError"
        assert (await app.client.get("/healthz")).status_code == 200


async def test_a_worker_can_answer_in_plain_words(start_app: Any) -> None:
    """ "收到" accepts the one waiting ticket; "搞定了…" is confirmed, then resolves it with
    those words; progress words go to the resident as progress once confirmed."""
    async with start_app() as app:
        number = await file_report(app, "r-plain", "6幢楼道灯坏了，晚上很黑")
        await app.inbox("worker-li", expect=1)
        accepted = await app.say("worker-li", "收到，马上去看")
        assert f"已接单 {number}" in accepted[0]["text"]
        # "not mine" shows where it can go; nothing moves until one is chosen
        choices = await app.say("worker-li", "这个不归我管")
        assert any(b["payload"].startswith(f"transfer:{number}:") for b in choices[0]["buttons"])

        asked = await app.say("worker-li", "已联系物业电工，下午过来")
        assert number in asked[0]["text"] and "进展" in asked[0]["text"]
        assert "已联系物业电工，下午过来" in asked[0]["text"]
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
        assert ticket is not None and ticket.status == "accepted"  # nothing yet: not confirmed
        done = await app.say("worker-li", "确认")
        assert f"{number}" in done[0]["text"] and "进展" in done[0]["text"]
        told = await app.inbox("r-plain", expect=2, wait=3)
        assert any("已联系物业电工，下午过来" in m["text"] for m in told)

        asked = await app.say("worker-li", "搞定了，换了个新灯泡")
        payloads = [b["payload"] for b in asked[0]["buttons"]]
        assert payloads == ["pending:yes", "pending:progress", "tasks"]
        cancelled = await app.say("worker-li", "取消")
        assert "已取消" in cancelled[0]["text"]
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
        assert ticket is not None and ticket.status == "in_progress"

        await app.say("worker-li", "搞定了，换了个新灯泡")
        resolved = await app.say("worker-li", button="pending:yes")
        assert f"{number} 已办结" in resolved[0]["text"]
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
        assert ticket is not None and ticket.status == "resolved"
        told = await app.inbox("r-plain", expect=1, wait=3)
        assert any("换了个新灯泡" in m["text"] and "已办结" in m["text"] for m in told)

        # nothing waiting any more: an acknowledgement shows the list, not a wall of commands
        after = await app.say("worker-li", "好的")
        assert "没有识别出指令" not in after[0]["text"]


async def test_a_workers_plain_words_with_several_tickets_ask_which(start_app: Any) -> None:
    async with start_app() as app:
        first = await file_report(app, "r-p1", "6幢楼下有辆车堵住了消防通道")
        second = await file_report(app, "r-p2", "7号楼垃圾桶满了好几天没人清")
        await app.inbox("worker-li", expect=2)
        replies = await app.say("worker-li", "修好了")
        assert "要办结哪一个" in replies[0]["text"]
        assert {b["payload"] for b in replies[0]["buttons"]} == {
            f"resolve:{first}",
            f"resolve:{second}",
        }
        async with app.container.store.unit() as uow:
            for number in (first, second):
                ticket = await uow.tickets.by_number(number)
                assert ticket is not None and ticket.status == "assigned"
