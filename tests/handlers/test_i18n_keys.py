"""Every text the code asks for exists, in Chinese and in English (a missing key would be a
crash in front of a resident)."""

from __future__ import annotations

import re
from pathlib import Path

from handlers.i18n import _TEXT, keys

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
# t("key", …), worker_notice("key", …), and the reminder keys built from a name
_LITERAL = re.compile(r"""\b(?:t|worker_notice)\(\s*["']([a-z_]+(?:\.[a-z_]+)+)["']""")
DYNAMIC = {"worker.remind.accept", "worker.remind.resolve", "dept.action.reply", "dept.action.done"}


def test_every_key_used_in_handlers_exists() -> None:
    used: set[str] = set(DYNAMIC)
    for path in HANDLERS.rglob("*.py"):
        used |= set(_LITERAL.findall(path.read_text("utf-8")))
    assert len(used) > 100
    assert sorted(used - keys()) == []


def test_every_text_has_both_locales() -> None:
    assert [k for k, v in _TEXT.items() if not (v.get("zh") and v.get("en"))] == []
