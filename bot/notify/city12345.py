"""The city's 12345 hotline: the work-order webhook out (a ``Notifier`` the outbox drives)
and the signatures of both directions.

Protocol (``minhu-12345/1``, JSON over HTTPS):

- out: ``POST <MINHU_CITY12345__URL>`` with the work order (``handlers.city_orders``) and
  headers ``X-Minhu-Timestamp: <unix seconds>`` and
  ``X-Minhu-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``. 12345
  answers ``{"code": 0, "order_no": "…", "message": "受理成功"}``; the number goes on the
  ticket's timeline and to the resident. ``code`` ≠ 0 or a 4xx is a refusal (no retry: the
  hand-off is marked failed and waits for export); a 5xx, 429 or a network error is retried
  by the outbox with backoff like every delivery.
- in (``bot/channels/city12345.py``): ``POST /api/v1/city12345/callback`` with
  ``{"order_no", "type": "reply"|"close", "text"}``, signed the same way with
  ``X-12345-Timestamp`` / ``X-12345-Signature``; a timestamp outside
  ``callback_window_seconds`` is refused (replays).
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bot.config import City12345Settings
from handlers.messages import Outbound
from handlers.ports import DeliveryResult, Recipient

log = logging.getLogger("minhu.city12345")

NAME = "12345"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, "sha256")
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, given: str, *, now: float, window: int
) -> bool:
    """A callback's signature is right (constant-time) and its timestamp recent."""
    try:
        at = int(timestamp)
    except ValueError:
        return False
    if abs(now - at) > window:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), given)


class City12345Notifier:
    """``handlers.ports.Notifier`` for the outbox channel ``12345``: the recipient is the
    hand-off's id, whose work order is read and POSTed (never raises).

    Args:
        settings: where and with which secret.
        payload: the work order of a hand-off id (None: gone).
        acknowledged: records 12345's work-order number on the hand-off and the ticket.
        refused: records a final refusal on the hand-off and the ticket.
        clock: unix seconds (tests pass their own).
    """

    channel = NAME

    def __init__(
        self,
        settings: City12345Settings,
        *,
        payload: Callable[[int], Awaitable[dict[str, Any] | None]],
        acknowledged: Callable[[int, str], Awaitable[bool]],
        refused: Callable[[int, str], Awaitable[None]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.payload = payload
        self.acknowledged = acknowledged
        self.refused = refused
        self.clock = clock

    async def send(self, recipient: Recipient, message: Outbound, *, key: str) -> DeliveryResult:
        if not recipient.user_id.isdigit():
            return DeliveryResult(ok=False, detail=f"not a hand-off id: {recipient.user_id!r}")
        order_id = int(recipient.user_id)
        order = await self.payload(order_id)
        if order is None:
            return DeliveryResult(ok=False, detail=f"hand-off {order_id} is gone")
        body = json.dumps(order, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        stamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Minhu-Timestamp": stamp,
            "X-Minhu-Signature": signature(self.settings.secret.get_secret_value(), stamp, body),
            "Idempotency-Key": str(order.get("external_id") or key),
        }
        try:
            async with httpx.AsyncClient(timeout=self.settings.timeout_seconds) as client:
                response = await client.post(self.settings.url, content=body, headers=headers)
        except httpx.HTTPError as e:
            return DeliveryResult(ok=False, retry=True, detail=f"12345: {type(e).__name__}: {e}")
        if response.status_code == 429 or response.status_code >= 500:
            after = response.headers.get("Retry-After", "")
            return DeliveryResult(
                ok=False,
                retry=True,
                retry_after=float(after) if after.isdigit() else None,
                detail=f"12345 HTTP {response.status_code}",
            )
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        number = str(answer.get("order_no") or "")
        if response.status_code >= 400 or answer.get("code") != 0 or not number:
            reason = str(answer.get("message") or f"HTTP {response.status_code}")[:500]
            log.warning("12345 refused hand-off %s: %s", order_id, reason)
            await self.refused(order_id, reason)
            return DeliveryResult(ok=False, detail=f"12345 refused: {reason}")
        await self.acknowledged(order_id, number)
        return DeliveryResult(ok=True, platform_message_id=number)
