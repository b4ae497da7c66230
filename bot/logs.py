"""Logging setup: one handler, personal data masked in every line it writes."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from nlu.pii import mask


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


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Install the masking handler on the root logger (idempotent) and return it."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_minhu", False):
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    handler._minhu = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "aiosqlite", "jieba", "multipart", "aiogram.event"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
