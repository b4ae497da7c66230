"""WeCom (企业微信) as a channel without routes: it only adds the notifier for grid workers
(``bot/notify/wecom.py``), with photo links signed like the web chat's."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from bot.channels.web import sign
from bot.config import Settings
from bot.container import Container
from bot.notify.wecom import NAME, WeComNotifier
from bot.wechat import logs as wechat_logs
from handlers.ports import Notifier

log = logging.getLogger("minhu.wecom")


class WeComTarget:
    """Plugs the WeCom notifier into the app like a channel without routes."""

    name = NAME

    def enabled(self, settings: Settings) -> bool:
        return settings.wecom is not None

    def notifier(self, container: Container) -> Notifier | None:
        wecom = container.settings.wecom
        if wecom is None:  # pragma: no cover - enabled() checked
            return None
        wechat_logs.install()
        settings = container.settings

        def photo_link(ref: str) -> str | None:
            ident = ref.removeprefix("attachment:")
            if not ident.isdigit():
                return None
            signature = sign(settings.secret_key.get_secret_value(), ident)
            base = settings.public_base_url.rstrip("/")
            return f"{base}/api/v1/attachments/{ident}?sig={signature}"

        return WeComNotifier(wecom, photo_link=photo_link)

    def router(self, settings: Settings) -> APIRouter | None:
        return None

    async def start(self, container: Container) -> None:
        log.info("WeCom notifications for grid workers are on")


CHANNEL = WeComTarget()
