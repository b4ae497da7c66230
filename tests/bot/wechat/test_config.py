"""Configuration from the environment, the channel's on/off rule, and secrets kept out of logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import ValidationError

from bot.config import Settings
from tests.bot.wechat.fake_wechat import APP_ID, SECRET
from tests.bot.wechat.helpers import eventually
from tests.bot.wechat.wire import AES_KEY, TOKEN

ENV = {
    "MINHU_WECHAT__APP_ID": APP_ID,
    "MINHU_WECHAT__SECRET": SECRET,
    "MINHU_WECHAT__TOKEN": TOKEN,
}


def test_the_channel_is_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        **ENV,
        "MINHU_WECHAT__AES_KEY": AES_KEY,
        "MINHU_WECHAT__REPLY_MODE": "push",
        "MINHU_WECHAT__TEMPLATE_PROGRESS": "TPL1",
        "MINHU_WECHAT__TEMPLATE_TASK": "TPL2",
        "MINHU_WECHAT__TEMPLATE_TASK_FIELDS": '{"thing1": "{description:.20}"}',
        "MINHU_WECHAT__API_BASE": "http://127.0.0.1:9/",
    }.items():
        monkeypatch.setenv(name, value)
    wechat = Settings().wechat
    assert wechat is not None
    assert (wechat.app_id, wechat.reply_mode, wechat.api_base) == (
        APP_ID,
        "push",
        "http://127.0.0.1:9",
    )
    assert wechat.aes_key is not None and wechat.aes_key.get_secret_value() == AES_KEY
    assert wechat.template_task_fields == {"thing1": "{description:.20}"}
    # secrets never show in a repr (logs, tracebacks)
    text = repr(Settings())
    assert SECRET not in text and TOKEN not in text and AES_KEY not in text


def test_without_an_app_id_the_channel_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.channels.wechat import CHANNEL

    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.wechat is None and not CHANNEL.enabled(settings)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"aes_key": "tooshort"}, "EncodingAESKey"),
        ({"passive_budget_seconds": 5}, "passive_budget_seconds"),
        ({"reply_mode": "sometimes"}, "reply_mode"),
        ({"secret": "changeme"}, "MINHU_WECHAT__SECRET"),
    ],
)
def test_bad_wechat_settings_are_refused(extra: dict[str, Any], problem: str) -> None:
    config = {"app_id": APP_ID, "secret": SECRET, "token": TOKEN, **extra}
    with pytest.raises(ValidationError) as refused:
        Settings(env="prod", secret_key="k" * 40, wechat=config)
    assert problem in str(refused.value)


async def test_no_secret_token_or_full_openid_reaches_the_logs(
    wechat_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # production's level; httpx logs request URLs at INFO
    caplog.set_level(logging.INFO, logger="httpx")
    openid = "oLogs5Yq1bX0k2Lm3Np4Qr5St6Uv"
    async with wechat_app(aes=True, reply_mode="push") as w:
        await w.wire.send("event_subscribe", openid=openid)
        await w.wire.say(openid, "3幢电梯坏了，有人被困在里面，我电话13812345678")
        await eventually(lambda: len(w.fake.texts_to(openid)) >= 3, what="pushed replies")
        w.fake.fail_next("custom", 40001)  # a rejected token is refreshed: logged, not shown
        await w.wire.say(openid, "进度")
        await eventually(lambda: len(w.fake.texts_to(openid)) >= 4, what="status")
        access_token = w.fake.current_token
    # everything the app and its libraries logged (the fake server's own access log aside)
    logged = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith("aiohttp")
    )
    assert "access_token=***" in logged  # httpx logged the API URLs, redacted
    for secret in (SECRET, TOKEN, AES_KEY, access_token or "none", openid, "13812345678"):
        assert secret not in logged, secret
