"""Followers of a duplicate get the worker's notes masked; the reporter gets them whole."""

from __future__ import annotations

from typing import Any

from tests.bot.test_chat_api import file_report
from tests.bot.test_lifecycle_e2e import submit, texts


async def test_followers_get_masked_notes_about_the_reporter(start_app: Any) -> None:
    async with start_app() as app:
        number = await file_report(app, "r-first", "6幢电梯按钮坏了，按了没反应")
        await submit(app, "r-second", "6号楼电梯又坏了")
        await app.say("r-second", button="dup:follow")
        await app.say("worker-li", f"接单 {number}")
        await app.say("worker-li", f"进展 {number} 已联系住户王建国，电话13912345678，下午到场")
        reporter = texts(await app.inbox("r-first", expect=2))
        follower = texts(await app.inbox("r-second", expect=2))
        assert "13912345678" in reporter and "王建国" in reporter
        assert "下午到场" in follower
        assert "13912345678" not in follower and "王建国" not in follower
