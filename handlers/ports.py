"""Ports: what the dialogue/service layer needs from the outside world, as Protocols."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from handlers.messages import Outbound
from nlu.types import Hints, Parse, Thresholds


class Interpreter(Protocol):
    """Understands a message: the in-process NLU model or an external Rasa server."""

    @property
    def thresholds(self) -> Thresholds:
        """Decision thresholds of the active model."""
        ...

    @property
    def version(self) -> str:
        """Version label of the active model (shown in logs and the admin console)."""
        ...

    async def parse(self, text: str, hints: Hints | None = None) -> Parse:
        """Parse one message.

        Args:
            text: the user's text, as sent.
            hints: registry names (buildings, communities) to match entities against.

        Returns:
            The parse; never raises for odd input (empty, emoji, 10k characters).
        """
        ...


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a pushed message goes: a channel and that channel's user id."""

    channel: str
    user_id: str


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """Outcome of one delivery attempt.

    Attributes:
        ok: delivered.
        retry: worth trying again later (network error, rate limit, expired token).
        retry_after: seconds the platform asked us to wait, if it said.
        unreachable: the user cannot be reached on this channel any more (blocked the bot,
            unsubscribed): stop trying and fall back to another channel.
        detail: a short description for the log / outbox row (never contains secrets).
        platform_message_id: id of the sent message, when the platform returns one.
        until_they_write: with ``unreachable``: only until the user writes again (WeChat's
            48-hour window closed); the item is sent again then, unlike a block.
    """

    ok: bool
    retry: bool = False
    retry_after: float | None = None
    unreachable: bool = False
    detail: str = ""
    platform_message_id: str | None = None
    until_they_write: bool = False


class Notifier(Protocol):
    """Delivers pushed messages (task cards, progress updates) on one channel."""

    channel: str

    async def send(self, recipient: Recipient, message: Outbound, *, key: str) -> DeliveryResult:
        """Send one message. Must not raise for platform errors: report them in the result.

        Args:
            recipient: the channel user id to send to.
            message: the message; ``kind`` and ``data`` let a channel render cards/templates.
            key: a stable idempotency key (the outbox item); a transport that can, uses it to
                make a repeated send of the same item a no-op.

        Returns:
            What happened, so the outbox can mark it sent, retry it or give up.
        """
        ...


class Clock(Protocol):
    """Tells the time; injected so tests and the SLA sweeps never sleep."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class MessageMetrics(Protocol):
    """Counts what the message path does (bot/metrics.py exports it to Prometheus)."""

    def message(self, channel: str, outcome: str, seconds: float | None = None) -> None:
        """One inbound message ended with ``outcome`` (``handled``, ``failed``, ``duplicate``,
        ``rate_limited``); ``seconds`` from the start of its handling to its replies."""
        ...

    def parsed(self, seconds: float) -> None:
        """The NLU parsed one message in ``seconds``."""
        ...


class NoMetrics:
    """Counts nothing (tests, one-off commands)."""

    def message(self, channel: str, outcome: str, seconds: float | None = None) -> None:
        return None

    def parsed(self, seconds: float) -> None:
        return None
