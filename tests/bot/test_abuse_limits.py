"""Abuse limits on the public chat API: floods, invented ids, uploads, retries (issue 11)."""

from __future__ import annotations

import re
from typing import Any

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LIMITS = {"rate_limits": {"enabled": True}}


async def _upload(app: Any, user_id: str) -> Any:
    return await app.client.post(
        "/api/v1/uploads",
        data={"user_id": user_id},
        files={"file": ("p.png", PNG, "image/png")},
    )


async def test_invented_ids_cannot_flood_urgent_tickets_from_one_address(
    start_app: Any,
) -> None:
    async with start_app(**LIMITS) as app:
        answers = [await app.say(f"invented-{i}", "2幢楼道着火冒烟了") for i in range(20)]
        async with app.container.store.unit() as uow:
            tickets = await uow.tickets.search()
        assert 1 <= len(tickets) <= 10
        refused = ["\n".join(r["text"] for r in a) for a in answers]
        refused = [text for text in refused if "已经提交了几件报事" in text]
        assert len(refused) == 20 - len(tickets)
        assert "119" in refused[0]  # an emergency still knows where to call


async def test_one_identity_sending_too_fast_gets_a_polite_answer(start_app: Any) -> None:
    # a slow refill, so a busy test machine cannot refill the bucket between messages
    limits = {"enabled": True, "messages_per_minute": 1, "message_burst": 5}
    async with start_app(rate_limits=limits) as app:
        texts = [(await app.say("fast-one", "你好"))[-1]["text"] for _ in range(7)]
        assert not any("您发送得有点快" in text for text in texts[:5])
        assert all("您发送得有点快" in text for text in texts[5:])
        # somebody else is not slowed down by it
        assert "您发送得有点快" not in (await app.say("calm-one", "你好"))[-1]["text"]


async def test_uploads_are_limited_per_identity_with_a_chinese_answer(start_app: Any) -> None:
    async with start_app(**LIMITS) as app:
        statuses = [(await _upload(app, "photo-fan")).status_code for _ in range(7)]
        assert statuses[:6] == [200] * 6
        refused = await _upload(app, "photo-fan")
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        assert "照片上传得太频繁" in refused.json()["error"]


async def test_another_users_upload_cannot_be_attached_by_id(start_app: Any) -> None:
    async with start_app() as app:
        ref = (await _upload(app, "owner-a")).json()["media"]
        stolen = await app.client.post(
            "/api/v1/messages", json={"user_id": "thief-b", "media": [ref]}
        )
        assert stolen.status_code == 403
        mine = await app.client.post(
            "/api/v1/messages", json={"user_id": "owner-a", "media": [ref]}
        )
        assert mine.status_code == 200


async def test_a_reused_message_id_from_another_user_is_a_new_message(start_app: Any) -> None:
    async with start_app() as app:
        first = await app.client.post(
            "/api/v1/messages",
            json={"user_id": "victim", "text": "2幢楼道着火冒烟了", "message_id": "m-1"},
        )
        number = re.search(r"MH-\d{8}-\d{4}", first.text)
        assert number
        other = await app.client.post(
            "/api/v1/messages", json={"user_id": "snoop", "text": "你好", "message_id": "m-1"}
        )
        assert other.status_code == 200
        assert number.group() not in other.text and other.json() != first.json()
        # the victim's own retry still gets the first answer
        again = await app.client.post(
            "/api/v1/messages",
            json={"user_id": "victim", "text": "2幢楼道着火冒烟了", "message_id": "m-1"},
        )
        assert again.json() == first.json()
