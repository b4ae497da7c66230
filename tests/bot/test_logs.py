"""No full phone number (nor other personal data) reaches the log output, in any format."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

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
