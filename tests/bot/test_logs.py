"""No full phone number (nor other personal data) reaches the log output, in any format."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.logs import configure_logging
from bot.wechat import logs as wechat_logs

PHONE_FORMATS = [
    "13912345678",
    "139 1234 5678",
    "139-1234-5678",
    "139.1234.5678",
    "1391 234 5678",
    "+86 139 1234 5678",
    "+86-139-1234-5678",
    "+8613912345678",
    "8613912345678",
    "0086 13912345678",
    "(+86)139 1234 5678",
    "１３９１２３４５６７８",
]
LANDLINE_FORMATS = ["0571-88881234", "(0571)88881234", "0571 8888 1234", "+86 571 8888 1234"]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging("INFO", stream)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def _digits_of_each_line(output: str) -> list[str]:
    return [
        re.sub(r"\D", "", line.translate({c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}))
        for line in output.splitlines()
    ]


@pytest.mark.parametrize("phone", PHONE_FORMATS)
def test_a_mobile_number_never_reaches_the_log_when_written_in_any_format(
    log_output: io.StringIO, phone: str
) -> None:
    log = logging.getLogger("minhu.test")
    log.info("resident said: 电话%s，请回电", phone)
    log.warning(f"unformatted {phone}")
    try:
        raise RuntimeError(f"delivery to {phone} failed")
    except RuntimeError:
        log.exception("send failed")

    output = log_output.getvalue()
    assert "resident said" in output and "delivery to" in output
    assert all("13912345678" not in digits for digits in _digits_of_each_line(output))
    # the last four digits stay, to tell numbers apart
    assert any(digits.endswith("5678") for digits in _digits_of_each_line(output))


@pytest.mark.parametrize("phone", LANDLINE_FORMATS)
def test_a_landline_never_reaches_the_log_when_written_in_any_format(
    log_output: io.StringIO, phone: str
) -> None:
    logging.getLogger("minhu.test").info("座机 %s", phone)
    assert all("88881234" not in digits for digits in _digits_of_each_line(log_output.getvalue()))


def test_names_id_numbers_and_rooms_are_masked_in_the_log(log_output: io.StringIO) -> None:
    logging.getLogger("minhu.test").info(
        "我叫张建国，身份证33010219900101123X，住3-2-501，邮箱 zhang@example.com"
    )
    output = log_output.getvalue()
    for secret in ("张建国", "33010219900101123X", "3-2-501", "zhang@example.com"):
        assert secret not in output
    assert "我叫" in output and "住3-" in output


def test_library_lines_lose_tokens_ids_and_phones_whatever_handler_prints_them() -> None:
    wechat_logs.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # a handler of the library's own, not ours
    logger = logging.getLogger("httpx")
    logger.addHandler(handler)
    try:
        logger.warning(
            "GET /cgi-bin/user/info?access_token=SECRET&openid=oABC123&remark=139 1234 5678"
        )
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "SECRET" not in output and "oABC123" not in output
    assert "1234" not in output and "access_token=***" in output


def test_json_lines_mask_a_phone_in_the_message_in_extra_fields_and_in_tracebacks() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", stream, json_lines=True)
    try:
        log = logging.getLogger("minhu.test")
        log.info("resident said: 电话%s", "13912345678", extra={"note": "call 139 1234 5678"})
        try:
            raise RuntimeError("delivery to +86 139-1234-5678 failed")
        except RuntimeError:
            log.exception("send failed")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["level"] for line in lines] == ["INFO", "ERROR"]
    assert lines[0]["logger"] == "minhu.test" and "电话" in lines[0]["message"]
    assert "RuntimeError" in lines[1]["exc_info"]
    assert all("12345678" not in d for d in _digits_of_each_line(stream.getvalue()))


async def test_a_request_logs_json_with_its_request_id_and_returns_it(start_app: Any) -> None:
    stream = io.StringIO()
    async with start_app() as app:
        handler = configure_logging("INFO", stream, json_lines=True)
        try:
            body = {"user_id": "log-r1", "text": "我电话13912345678，3幢电梯坏了"}
            given = await app.client.post(
                "/api/v1/messages", json=body, headers={"X-Request-ID": "req-abc.123"}
            )
            fresh = await app.client.post(
                "/api/v1/messages",
                json={"user_id": "log-r2", "text": "你好"},
                headers={"X-Request-ID": "bad id\nwith newline"},
            )
        finally:
            logging.getLogger().removeHandler(handler)
    assert given.headers["x-request-id"] == "req-abc.123"
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])  # refused, replaced
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    handled = [line for line in lines if line["message"].startswith("handled channel=web")]
    assert [line["request_id"] for line in handled] == [
        "req-abc.123",
        fresh.headers["x-request-id"],
    ]
    assert "13912345678" not in stream.getvalue() and "log-r1" not in stream.getvalue()
