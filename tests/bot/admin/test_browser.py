"""The console in a real browser: Playwright drives Debian's chromium (never a downloaded one)
against the app served over real HTTP on 127.0.0.1.

Log in, create an intent and add examples, train, read the evaluation, activate, then send a
message in the web chat and see the new model's answer. Screenshots go to
``MINHU_BROWSER_SCREENSHOTS`` (default: the test's temporary directory).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot.admin.test_training import PETS, PROBE
from tests.factories import make_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path, models_copy: Path) -> Iterator[str]:
    """The whole app under uvicorn in a background thread, on a free loopback port."""
    import uvicorn

    from bot.app import create_app

    settings = make_settings(tmp_path, models=models_copy)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium fonts-noto-cjk)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield instance
        finally:
            instance.close()


def test_staff_teach_train_activate_and_the_chat_answers_with_the_new_model(
    live_server: str, browser: Any, tmp_path: Path
) -> None:
    from bot.admin.accounts import DEMO_PASSWORD, DEMO_USERNAME

    shots = Path(os.environ.get("MINHU_BROWSER_SCREENSHOTS") or tmp_path / "screens")
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    # log in (the demo account the README names)
    page.goto(f"{live_server}/admin")
    assert "/admin/login" in page.url
    page.fill("input[name=username]", DEMO_USERNAME)
    page.fill("input[name=password]", DEMO_PASSWORD)
    shot("01-login")
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('概览')")
    assert page.locator("svg").count() == 5
    shot("02-dashboard")

    # a new intent with examples
    page.click("nav.main >> text=意图与例句")
    page.wait_for_selector("h1:has-text('意图与例句')")
    shot("03-intents")
    page.fill("input[name=name]", "report_pets")
    page.fill("input[name=description]", "宠物扰民、遛狗不牵绳")
    page.click("button:has-text('新建')")
    page.wait_for_selector("h1:has-text('report_pets')")
    page.fill("textarea[name=examples]", "\n".join(PETS))
    page.click("button:has-text('添加例句')")
    page.wait_for_selector(f".flash.ok:has-text('已添加 {len(PETS)} 条例句')")
    assert page.locator("input[name=markup]").count() == len(PETS)
    assert (
        page.locator("input[value='[5幢](building)有户人家在阳台上养了好多鸽子，味道很大']").count()
        == 1
    )
    shot("04-intent-examples")

    # train in the background, watch the progress, read the evaluation
    page.click("nav.main >> text=训练与模型")
    page.click("button:has-text('开始训练')")
    page.wait_for_selector("h1:has-text('训练任务')")
    shot("05-training")
    page.wait_for_selector("text=训练完成", timeout=300_000)
    shot("06-trained")
    page.click("text=查看评估并启用")
    page.wait_for_selector("h2:has-text('各意图 F1')")
    row = page.locator("table.list tr", has_text="report_pets").first
    assert row.is_visible()
    image_width = page.eval_on_selector("img.confusion", "img => img.complete && img.naturalWidth")
    assert image_width and image_width > 100
    shot("07-evaluation")

    # activate (forcing with a reason only if the page says a plain activation is refused)
    if page.locator("text=普通启用会被拒绝").count():
        page.check("input[name=force]")
        page.fill("input[name=reason]", "新增宠物类意图，浏览器测试")
    page.click("button:has-text('启用此模型')")
    page.wait_for_selector(".flash.ok:has-text('已启用模型')")
    shot("08-activated")

    # the web chat answers with the new model: no more "which category?" for this message
    chat = context.new_page()
    chat.goto(f"{live_server}/")
    chat.fill("[data-testid=resident-id]", "browser-resident")
    chat.fill("[data-testid=resident-input]", PROBE)
    chat.press("[data-testid=resident-input]", "Enter")
    reply = chat.locator("[data-testid=resident-log] .msg.bot").first
    reply.wait_for(timeout=90_000)  # the first parse after a model swap, on a loaded machine
    text = reply.inner_text()
    chat.screenshot(path=str(shots / "09-chat.png"), full_page=True)
    assert "我想确认一下" not in text
    assert "哪一幢" in text or "哪栋" in text, text
    assert not errors, errors
    context.close()
    if os.environ.get("MINHU_BROWSER_SCREENSHOTS") is None:
        shutil.rmtree(shots, ignore_errors=True)
