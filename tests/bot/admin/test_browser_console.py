"""The console as a street office uses it, in a real browser: the ticket page with running
clocks, the API docs offline, and every console page at 375 px without sideways overflow.
Every request must stay on 127.0.0.1."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.bot.admin.browser_support import Offline, login, overflow, shooter
from tests.bot.admin.test_browser import browser, live_server  # noqa: F401 -- fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = (
    "/admin",
    "/admin/tickets",
    "/admin/inbox",
    "/admin/map",
    "/admin/people",
    "/admin/departments",
    "/admin/review",
    "/admin/intents",
    "/admin/nlu",
    "/admin/registry",
    "/admin/users",
    "/admin/audit",
    "/admin/notices",
    "/admin/hotspots",
    "/admin/streets",
    "/admin/helpers",
    "/admin/desk",
    "/admin/deliveries",
)


def test_ticket_page_clocks_docs_offline_and_every_page_at_375_px(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from bot.admin.accounts import DEMO_PASSWORD, DEMO_USERNAME

    shots = Path(os.environ.get("MINHU_BROWSER_SCREENSHOTS") or tmp_path / "screens")
    shots.mkdir(parents=True, exist_ok=True)
    offline = Offline()
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    offline.watch(context)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shot = shooter(page, shots)

    # a resident reports through the public API: an urgent ticket with a 10-minute clock
    said = page.request.post(
        f"{live_server}/api/v1/messages",
        data={"user_id": "browser-clock", "text": "3幢电梯坏了，有人被困在里面"},
    ).json()
    number = re.search(r"MH-\d{8}-\d{4}", str(said)).group()  # type: ignore[union-attr]

    login(page, live_server, DEMO_USERNAME, DEMO_PASSWORD)
    page.wait_for_selector("h1:has-text('概览')")
    shot("dashboard")
    page.click("nav.main >> text=工单")
    page.click(f"a:has-text('{number}')")
    page.wait_for_selector("h2:has-text('时限与承办')")
    clock = page.locator("ul.clocks li", has_text="接单时限").locator(".clock")
    first = clock.inner_text()
    assert first.startswith("剩余"), first
    page.wait_for_timeout(1500)
    assert clock.inner_text() != first, "the deadline clock runs"
    assert "第1级（网格员）" in page.inner_text("section.board")
    for action in ("交给部门", "上报上一级", "合并到该工单", "撤销工单", "转派", "关闭工单"):
        assert page.locator(f"button:has-text('{action}')").count() == 1, action
    shot("ticket")

    # the map of buildings drawn from registry coordinates, with no tile server
    page.click("nav.main >> text=地图")
    page.wait_for_selector("svg.map g.bldg")
    assert page.locator("svg.map g.bldg").count() >= 10
    assert page.locator("svg.map g.bldg.open[data-building='3幢']").count() == 1
    assert page.locator("svg.map image").count() == 0
    shot("map")
    # the performance table
    page.click("nav.main >> text=人员绩效")
    row = page.locator("table.perf[data-by=worker] tbody tr", has_text="张伟")
    assert row.locator("td").nth(2).inner_text() == "1"  # one ticket in hand
    shot("people")

    # the API docs render with no internet; the favicon is ours
    page.goto(f"{live_server}/docs")
    page.wait_for_selector(".swagger-ui .info .title:has-text('Minhu')")
    page.wait_for_selector(".opblock-summary-path:has-text('/api/v1/handoffs')")
    shot("docs", full=False)
    page.goto(f"{live_server}/redoc")
    page.wait_for_selector("redoc h1, .api-info h1")
    icon = page.request.get(f"{live_server}/favicon.ico")
    assert icon.ok and icon.headers["content-type"].startswith("image/")

    # every console page on a phone: a menu, no sideways overflow outside scrolling tables
    phone = browser.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN")
    offline.watch(phone)
    mobile = phone.new_page()
    mobile.set_default_timeout(30_000)
    mobile.on("pageerror", lambda exc: errors.append(str(exc)))
    login(mobile, live_server, DEMO_USERNAME, DEMO_PASSWORD)
    problems: dict[str, list[str]] = {}
    for path in (*PAGES, f"/admin/tickets/{number}"):
        mobile.goto(f"{live_server}{path}")
        mobile.wait_for_selector("nav.main")
        assert mobile.locator("nav.main a").first.is_visible()
        name = "mobile" + (path.replace("/admin", "").replace("/", "-") or "-dashboard")
        mobile.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        found = overflow(mobile)
        if found:
            problems[path] = found
    assert problems == {}, problems
    assert not errors, errors
    assert offline.leaks == [], offline.leaks
    phone.close()
    context.close()
