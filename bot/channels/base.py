"""What a channel plugs into the app: an on/off rule, a notifier, routes, startup work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from fastapi import APIRouter

from bot.config import Settings
from handlers.ports import Notifier

if TYPE_CHECKING:
    from bot.container import Container


_IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_mime(content: bytes, *, webp: bool = False) -> str | None:
    """The type of a JPEG, PNG or GIF photo (and WebP when ``webp``), from its first bytes;
    None for anything else, whatever the sender called it."""
    if webp and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _IMAGE_MAGIC if content.startswith(magic)), None)


async def store_image(
    container: Container, content: bytes, mime: str, *, uploader: str, filename: str
) -> int:
    """Store a photo a user sent on channel ``uploader``'s channel; returns its attachment id.

    Args:
        container: the running app.
        content: the image bytes (checked by :func:`image_mime`).
        mime: their type.
        uploader: ``<channel>:<user id>``, who sent it.
        filename: the platform's name or id for the file.
    """
    async with container.store.unit() as uow:
        item = await uow.attachments.add(
            content,
            kind="image",
            mime=mime,
            channel=uploader.split(":", 1)[0],
            uploaded_by=uploader[:64],
            filename=filename[:200],
            now=container.clock.now(),
        )
    return int(item.id or 0)


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
