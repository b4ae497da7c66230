"""What a channel plugs into the app: an on/off rule, a notifier, routes, startup work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from fastapi import APIRouter

from bot.config import Settings
from handlers.ports import Notifier

if TYPE_CHECKING:
    from bot.container import Container


class Channel(Protocol):
    """A messaging platform adapter. Add one: a module here, a line in CHANNELS, config."""

    name: str

    def enabled(self, settings: Settings) -> bool:
        """True when the channel is configured (a channel is on iff configured)."""
        ...

    def notifier(self, container: Container) -> Notifier | None:
        """The transport for pushed messages on this channel, if it has one."""
        ...

    def router(self, settings: Settings) -> APIRouter | None:
        """HTTP routes (webhooks, pages) the channel serves, if any.

        Built before startup; handlers find the container at ``request.app.state.container``.
        """
        ...

    async def start(self, container: Container) -> None:
        """Start background work (polling, token refresh); called after wiring."""
        ...
