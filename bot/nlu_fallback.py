"""An external Rasa server with the in-process model standing in when it is slow or down.

Rasa answering slowly (over its timeout), with an error, with a body we cannot use, or not at
all: the local model answers instead, and the fallback is logged and counted (``fallbacks``,
exported on /metrics). A circuit breaker stops asking Rasa after ``trip_after`` failures in a
row for ``cooldown_seconds``, then lets one message try again; a health check at start-up
opens it at once when Rasa is down, with a warning, rather than failing every message.
"""

from __future__ import annotations

import logging
import time

from bot.metrics import NLU_ANSWERS, NLU_FALLBACK
from bot.rasa_backend import RasaBackendError, RasaHttpInterpreter
from handlers.ports import Interpreter
from nlu.types import Hints, Parse, Thresholds

log = logging.getLogger("minhu.nlu")


class FallbackInterpreter:
    """``handlers.ports.Interpreter``: Rasa first, the local model when Rasa fails."""

    def __init__(
        self,
        primary: RasaHttpInterpreter,
        local: Interpreter,
        *,
        trip_after: int = 3,
        cooldown_seconds: float = 30.0,
    ) -> None:
        self.primary = primary
        self.local = local
        self.trip_after = trip_after
        self.cooldown_seconds = cooldown_seconds
        self.fallbacks = 0
        self._failures = 0
        self._open_until = 0.0

    @property
    def thresholds(self) -> Thresholds:
        return self.primary.thresholds

    @property
    def version(self) -> str:
        return self.primary.version

    @property
    def open(self) -> bool:
        """True while Rasa is skipped (the breaker tripped)."""
        return time.monotonic() < self._open_until

    async def parse(self, text: str, hints: Hints | None = None) -> Parse:
        if not self.open:
            try:
                parse = await self.primary.parse(text, hints)
            except RasaBackendError as e:
                self._failed(str(e))
            else:
                self._failures = 0
                NLU_ANSWERS.labels("rasa").inc()
                return parse
        self.fallbacks += 1
        NLU_FALLBACK.inc()
        NLU_ANSWERS.labels("local").inc()
        return await self.local.parse(text, hints)

    def _failed(self, reason: str) -> None:
        self._failures += 1
        if self._failures >= self.trip_after:
            self._open_until = time.monotonic() + self.cooldown_seconds
            log.warning(
                "Rasa failed %d times in a row (%s); the local model answers for %.0f s",
                self._failures,
                reason,
                self.cooldown_seconds,
            )
        else:
            log.warning("Rasa failed (%s); the local model answered this message", reason)

    async def check(self) -> bool:
        """The start-up health check: False (warned, breaker open) when Rasa does not answer."""
        try:
            await self.primary.parse("你好")
        except RasaBackendError as e:
            self._failures = self.trip_after
            self._open_until = time.monotonic() + self.cooldown_seconds
            log.warning(
                "Rasa server is not answering at start-up (%s); the local model answers until "
                "it does",
                e,
            )
            return False
        return True

    async def aclose(self) -> None:
        await self.primary.aclose()
