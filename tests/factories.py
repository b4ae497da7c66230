"""Builders shared by the tests: messages, parses, clocks, settings."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from handlers.messages import Inbound
from nlu.types import Entity, IntentScore, Parse

_ids = itertools.count(1)


def inbound(
    text: str = "",
    *,
    user: str = "resident-1",
    channel: str = "web",
    button: str | None = None,
    **kwargs: Any,
) -> Inbound:
    return Inbound(
        channel=channel,
        user_id=user,
        message_id=f"m{next(_ids)}",
        text=text,
        button=button,
        **kwargs,
    )


def parse_of(
    intent: str,
    confidence: float = 0.95,
    *,
    text: str = "",
    entities: dict[str, str] | None = None,
    ranking: list[tuple[str, float]] | None = None,
) -> Parse:
    """A parse as the NLU would return it (for pure dialogue tests)."""
    ents = tuple(
        Entity(type=k, value=v, start=0, end=len(v), text=v, extractor="test")
        for k, v in (entities or {}).items()
    )
    ranks = tuple(IntentScore(n, c) for n, c in (ranking or [(intent, confidence)]))
    return Parse(text=text, intent=IntentScore(intent, confidence), ranking=ranks, entities=ents)


class FakeClock:
    """A clock tests move by hand (no sleeping)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def make_settings(
    tmp: Path,
    *,
    models: Path,
    database_url: str | None = None,
    redis_url: str | None = None,
    redis_prefix: str = "minhu:",
    **overrides: Any,
) -> Any:
    from bot.config import Settings

    overrides.setdefault("env", "test")
    # scripted conversations send faster than any person; tests of the limits turn them on
    overrides.setdefault("rate_limits", {"enabled": False})
    overrides.setdefault("outbox_poll_seconds", 0.05)
    overrides.setdefault("model_watch_seconds", 0.2)
    return Settings(
        data_dir=tmp,
        model_dir=models,
        database_url=database_url or f"sqlite:///{tmp / 'minhu.db'}",
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        **overrides,
    )
