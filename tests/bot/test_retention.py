"""Retention: what residents sent is anonymised after the configured days (issue 11)."""

from __future__ import annotations

from typing import Any

from handlers.retention_service import purge
from tests.factories import FakeClock

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_old_messages_and_photos_are_anonymised_and_recent_ones_kept(
    start_app: Any,
) -> None:
    clock = FakeClock()
    async with start_app(clock=clock) as app:
        uploaded = await app.client.post(
            "/api/v1/uploads",
            data={"user_id": "r-old"},
            files={"file": ("p.png", PNG, "image/png")},
        )
        ref = uploaded.json()["media"]
        await app.say("r-old", "我叫张建国，电话13912345678，6幢电梯坏了")
        clock.advance(days=181)
        await app.say("r-new", "你好")
        done = await purge(app.container.store, now=clock.now(), days=180)
        assert done.messages == 1 and done.photos == 1
        assert "已匿名化" in done.text()
        async with app.container.store.unit() as uow:
            assert await uow.inbound.recent_for_user("web", "r-old") == []
            recent = await uow.inbound.recent_for_user("web", "r-new")
            photo = await uow.attachments.get(int(ref.removeprefix("attachment:")))
        assert [r.payload["text"] for r in recent] == ["你好"]
        assert photo is not None and photo.content == b"" and photo.object_key == ""
        # running it again finds nothing more
        again = await purge(app.container.store, now=clock.now(), days=180)
        assert (again.messages, again.photos) == (0, 0)
