"""The street level in the running service: its desk (``handlers.street_service``) and the
12345 notifier, built from the container."""

from __future__ import annotations

from bot.channels.web import sign
from bot.container import Container
from bot.notify.city12345 import City12345Notifier
from handlers.street_registry import StreetRegistry
from handlers.street_service import StreetDesk


def street_desk(c: Container) -> StreetDesk:
    secret = c.settings.secret_key.get_secret_value()
    base = c.settings.public_base_url.rstrip("/")

    def photo_url(attachment_id: int) -> str:
        # absolute and signed: 12345 fetches the photo from outside the console
        return f"{base}/api/v1/attachments/{attachment_id}?sig={sign(secret, str(attachment_id))}"

    return StreetDesk(
        c.store,
        c.clock,
        c.service.tickets,
        c.dispatcher.kick,
        photo_url,
        deliver=c.settings.city12345 is not None,
    )


def city_notifier(c: Container) -> City12345Notifier | None:
    """The 12345 work-order webhook, when configured."""
    if c.settings.city12345 is None:
        return None
    desk = street_desk(c)
    return City12345Notifier(
        c.settings.city12345,
        payload=desk.payload,
        acknowledged=desk.acknowledged,
        refused=desk.failed,
    )


def street_registry(c: Container) -> StreetRegistry:
    return StreetRegistry(c.store, c.clock, on_change=c.service.invalidate_registry)
