"""SMS as a channel without routes: it only adds the notifier for residents who reported by
phone or at the counter (``bot/notify/sms.py``). On iff ``MINHU_SMS__ACCESS_KEY_ID``."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from bot.config import Settings
from bot.container import Container
from bot.notify.sms import NAME, SmsNotifier
from handlers.ports import Notifier

log = logging.getLogger("minhu.sms")


class SmsTarget:
    """Plugs the SMS notifier into the app like a channel without routes."""

    name = NAME

    def enabled(self, settings: Settings) -> bool:
        return settings.sms is not None

    def notifier(self, container: Container) -> Notifier | None:
        if container.settings.sms is None:  # pragma: no cover - enabled() checked
            return None
        return SmsNotifier(container.settings.sms)

    def router(self, settings: Settings) -> APIRouter | None:
        return None

    async def start(self, container: Container) -> None:
        log.info("SMS updates for residents who reported by phone are on")


CHANNEL = SmsTarget()
