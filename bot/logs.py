"""Logging setup: one handler, personal data masked in every line it writes.

In production every line is one JSON object (``python-json-logger``: the standard library's
logging with a JSON formatter, so every existing ``logging.getLogger`` call keeps working
and the masking filter stays the one place that masks) with ``time``, ``level``,
``logger``, ``message``, ``request_id`` and, for errors, ``exc_info``. The request id is the
caller's ``X-Request-ID`` (when it is a sane token) or a fresh one, set by the app's
outermost middleware and returned in the response's ``X-Request-ID``; background work
started while handling a request carries its id.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from nlu.pii import mask

REQUEST_ID: ContextVar[str] = ContextVar("minhu_request_id", default="")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id_from(header: str | None) -> str:
    """The caller's request id when it is a short plain token, else a fresh one (a header
    is untrusted input: no newlines, markup or megabytes in the logs)."""
    if header and _SANE_ID.match(header):
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (empty outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class MaskedJsonFormatter(JsonFormatter):
    """One JSON object per line; tracebacks and ``extra`` values are masked too."""

    def formatException(self, ei: Any) -> Any:  # noqa: N802 - the logging API's name
        return mask(str(super().formatException(ei)))

    def formatStack(self, stack_info: str) -> Any:  # noqa: N802 - the logging API's name
        return mask(str(super().formatStack(stack_info)))

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {k: mask(v) if isinstance(v, str) else v for k, v in log_data.items()}


class MaskingFilter(logging.Filter):
    """Rewrites each record's message and traceback with personal data masked (``nlu.pii``:
    phones in every format, ID numbers, e-mails, plates, rooms, names). Defence in depth: code
    already masks the ids and phones it logs on purpose; this catches what slips through."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


def configure_logging(
    level: str = "INFO", stream: TextIO | None = None, *, json_lines: bool = False
) -> logging.Handler:
    """Install the masking handler on the root logger (idempotent) and return it.

    Args:
        level: the root level.
        stream: where lines go (stderr by default).
        json_lines: one JSON object per line (production) instead of plain text.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_minhu", False):
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    if json_lines:
        handler.setFormatter(
            MaskedJsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(MaskingFilter())
    handler._minhu = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "aiosqlite", "jieba", "multipart", "aiogram.event"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
