"""JSON (de)serialisation of the internal message types (inbound log, outbox, mailbox)."""

from __future__ import annotations

from typing import Any

from handlers.messages import Button, GeoPoint, Inbound, Media, MediaKind, Outbound


def inbound_to_dict(msg: Inbound) -> dict[str, Any]:
    return {
        "channel": msg.channel,
        "user_id": msg.user_id,
        "message_id": msg.message_id,
        "text": msg.text,
        "button": msg.button,
        "media": [
            {"kind": m.kind.value, "ref": m.ref, "mime": m.mime, "caption": m.caption}
            for m in msg.media
        ],
        "location": (
            {
                "latitude": msg.location.latitude,
                "longitude": msg.location.longitude,
                "label": msg.location.label,
            }
            if msg.location
            else None
        ),
        "contact_phone": msg.contact_phone,
        "scene": msg.scene,
        "locale": msg.locale,
        "reply_to": msg.reply_to,
    }


def inbound_from_dict(data: dict[str, Any]) -> Inbound:
    location = data.get("location")
    return Inbound(
        channel=str(data["channel"]),
        user_id=str(data["user_id"]),
        message_id=str(data["message_id"]),
        text=str(data.get("text") or ""),
        button=data.get("button"),
        media=tuple(
            Media(MediaKind(m["kind"]), m["ref"], m.get("mime", ""), m.get("caption", ""))
            for m in data.get("media") or []
        ),
        location=GeoPoint(location["latitude"], location["longitude"], location.get("label", ""))
        if location
        else None,
        contact_phone=data.get("contact_phone"),
        scene=data.get("scene"),
        locale=str(data.get("locale") or "zh"),
        reply_to=data.get("reply_to"),
    )


def outbound_to_dict(message: Outbound) -> dict[str, Any]:
    out: dict[str, Any] = {
        "text": message.text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in message.buttons],
    }
    if message.image:
        out["image"] = message.image
    if message.kind != "text":
        out["kind"] = message.kind
    if message.data:
        out["data"] = dict(message.data)
    return out


def outbound_from_dict(data: dict[str, Any]) -> Outbound:
    return Outbound(
        text=str(data.get("text", "")),
        buttons=tuple(Button(b["title"], b["payload"]) for b in data.get("buttons") or []),
        image=data.get("image"),
        kind=str(data.get("kind", "text")),
        data={str(k): str(v) for k, v in dict(data.get("data") or {}).items()},
    )
