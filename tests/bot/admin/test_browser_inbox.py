"""The handoff inbox in a real browser: a resident asks for a person in the web chat, staff
take the conversation in the console, answer live, read the resident's answer without a
reload, and turn it into a ticket the resident is told about. No request leaves 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.bot.admin.browser_support import Offline, login, shooter
from tests.bot.admin.test_browser import browser, live_server  # noqa: F401 -- fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_resident_asks_for_a_person_staff_answer_live_and_file_a_ticket(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from bot.admin.accounts import DEMO_PASSWORD, DEMO_USERNAME

    shots = Path(os.environ.get("MINHU_BROWSER_SCREENSHOTS") or tmp_path / "screens")
    shots.mkdir(parents=True, exist_ok=True)
    offline = Offline()
    errors: list[str] = []

    # the resident, in the web chat
    resident_ctx = browser.new_context(viewport={"width": 1100, "height": 800}, locale="zh-CN")
    offline.watch(resident_ctx)
    chat = resident_ctx.new_page()
    chat.set_default_timeout(30_000)
    chat.on("pageerror", lambda exc: errors.append(str(exc)))
    chat.goto(f"{live_server}/")
    chat.wait_for_selector("[data-testid=worker-id] option", state="attached")  # the script runs
    chat.fill("[data-testid=resident-id]", "browser-handoff")
    log = chat.locator("[data-testid=resident-log]")

    def say(text: str) -> None:
        chat.fill("[data-testid=resident-input]", text)
        chat.press("[data-testid=resident-input]", "Enter")

    say("转人工")
    log.locator(".msg.bot", has_text="手机号").wait_for()
    say("13812345678")
    log.locator(".msg.bot", has_text="已为您转接社区工作人员").wait_for()
    say("3幢楼道灯坏了一个星期了")
    log.locator(".msg.bot", has_text="社区工作人员接入后会在这里回复您").wait_for()

    # staff, in the console
    staff_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    offline.watch(staff_ctx)
    page = staff_ctx.new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shot = shooter(page, shots)
    login(page, live_server, DEMO_USERNAME, DEMO_PASSWORD)
    page.click("nav.main >> text=人工接待")
    row = page.locator("#inbox tbody tr", has_text="3幢楼道灯坏了")
    row.wait_for()
    assert "等待接入" in row.inner_text()
    clock = row.locator(".clock")
    first = clock.inner_text()
    page.wait_for_timeout(1500)
    assert clock.inner_text() != first, "the waiting clock runs"
    shot("inbox")
    row.locator("a.button").click()
    page.wait_for_selector("h1:has-text('人工会话')")
    assert page.locator("text=转人工").count() >= 1  # the chat with the bot before it
    page.click("button:has-text('接入会话')")
    page.wait_for_selector(".flash.ok:has-text('已接入')")
    log.locator(".msg", has_text="已接入，正在为您处理").wait_for()

    # staff write; the resident reads it in the web chat
    page.fill("#reply-form textarea", "您好，今天下午安排电工上门查看。")
    page.click("button:has-text('发送给居民')")
    page.wait_for_selector("#reply-state:has-text('已发送')")
    log.locator(".msg", has_text="今天下午安排电工上门查看").wait_for()

    # the resident answers; staff see it live, without reloading the page
    url_before = page.url
    say("好的，我下午在家")
    page.locator("#live-chat .msg.in", has_text="我下午在家").wait_for()
    assert page.url == url_before
    assert chat.locator(".msg.bot", has_text="我下午在家").count() == 0
    shot("handoff")

    # turn it into a ticket: the resident gets its number
    page.select_option("select[name=category]", "property")
    page.fill("textarea[name=description]", "3幢楼道灯坏了一周，居民下午在家")
    page.click("button:has-text('登记工单')")
    flash = page.locator(".flash.ok", has_text="已转为工单")
    flash.wait_for()
    number = flash.inner_text().split("已转为工单")[1].split("，")[0].strip()
    log.locator(".msg", has_text=f"已为您登记工单 {number}").wait_for()
    chat.screenshot(path=str(shots / "handoff-chat.png"), full_page=True)

    # hand back to the bot
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('交还智能助手')")
    page.wait_for_selector(".flash.ok:has-text('居民已回到智能助手')")
    log.locator(".msg", has_text="接下来由智能助手为您服务").wait_for()

    assert not errors, errors
    assert offline.leaks == [], offline.leaks
    staff_ctx.close()
    resident_ctx.close()
