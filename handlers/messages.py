"""The one internal message type every channel converts to and from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class MediaKind(StrEnum):
    IMAGE = "image"
    VOICE = "voice"
    VIDEO = "video"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class Media:
    """A piece of media a user sent; ``ref`` is where the bytes live once stored."""

    kind: MediaKind
    ref: str  # storage key / URL of the stored bytes (channel fetches before handing over)
    mime: str = "application/octet-stream"
    caption: str = ""


@dataclass(frozen=True, slots=True)
class GeoPoint:
    latitude: float
    longitude: float
    label: str = ""


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message from a resident or a worker, whatever the platform.

    Attributes:
        channel: ``web`` | ``wechat`` | ``telegram`` | ``cli`` ...
        user_id: the platform's user id as a string.
        message_id: the platform's message id: the de-duplication key for retries.
        text: what the user typed (may be empty for a button, photo or location).
        button: the payload of a button the user pressed, if any.
        media: photos / voice / files sent with the message (already fetched).
        location: a shared location.
        contact_phone: a phone number shared through the platform's contact feature.
        scene: a platform "scene" (e.g. a stairwell QR code naming a building id).
        locale: ``zh`` (default) or ``en``.
        reply_to: the platform id of the message this one replies to (task-card replies).
        origin: the client's address when the channel knows it (web), for per-IP limits;
            transport metadata, not stored with the message.
    """

    channel: str
    user_id: str
    message_id: str
    text: str = ""
    button: str | None = None
    media: tuple[Media, ...] = ()
    location: GeoPoint | None = None
    contact_phone: str | None = None
    scene: str | None = None
    locale: str = "zh"
    reply_to: str | None = None
    origin: str = ""


@dataclass(frozen=True, slots=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class Outbound:
    """One reply or pushed message. Channels render buttons their own way."""

    text: str
    buttons: tuple[Button, ...] = ()
    image: str | None = None  # ref of a stored image to attach
    kind: str = "text"  # "text" | "task_card" | "progress" ...: lets channels pick a template
    data: dict[str, str] = field(default_factory=dict)  # structured fields for templates/cards

    @property
    def urgent(self) -> bool:
        """About an urgent ticket (its safety advice, its task card): delivered first."""
        return self.data.get("priority") == "urgent"
