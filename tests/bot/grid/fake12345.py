"""A fake of the city's 12345 hotline speaking ``minhu-12345/1``: it accepts signed work
orders (answering with a work-order number, the same one for a retried order) and sends
signed replies and closures back to Minhu's callback."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

SECRET = "k9Yt3vQ7wL2pX8sR4mN6bZ1c"
REQUIRED = ("external_id", "title", "category", "urgency", "description", "address", "reporter")


def _mac(secret: str, stamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@dataclass
class Fake12345:
    secret: str = SECRET
    received: list[dict[str, Any]] = field(default_factory=list)
    numbers: dict[str, str] = field(default_factory=dict)  # external_id → order_no
    failures: deque[int] = field(default_factory=deque)
    refusals: int = 0
    base_url: str = ""

    @property
    def url(self) -> str:
        return self.base_url + "/api/workorders"

    async def work_order(self, request: web.Request) -> web.Response:
        body = await request.read()
        stamp = request.headers.get("X-Minhu-Timestamp", "")
        given = request.headers.get("X-Minhu-Signature", "")
        if not hmac.compare_digest(_mac(self.secret, stamp, body), given):
            return web.json_response({"code": 401, "message": "签名错误"}, status=401)
        if self.failures:
            status = self.failures.popleft()
            return web.json_response({"code": status, "message": "系统繁忙"}, status=status)
        order = json.loads(body)
        missing = [k for k in REQUIRED if k not in order]
        if missing:
            self.refusals += 1
            return web.json_response({"code": 40001, "message": f"缺少字段 {missing}"})
        self.received.append(order)
        number = self.numbers.setdefault(
            order["external_id"], f"12345-20261122-{len(self.numbers) + 1:06d}"
        )
        return web.json_response({"code": 0, "order_no": number, "message": "受理成功"})

    async def answer(
        self,
        client: httpx.AsyncClient,
        order_no: str,
        kind: str,
        text: str,
        *,
        secret: str | None = None,
        stamp: int | None = None,
    ) -> httpx.Response:
        """12345 posts a reply (``reply``) or closure (``close``) back to Minhu."""
        body = json.dumps(
            {"order_no": order_no, "type": kind, "text": text}, ensure_ascii=False
        ).encode()
        at = str(stamp if stamp is not None else int(time.time()))
        return await client.post(
            "/api/v1/city12345/callback",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-12345-Timestamp": at,
                "X-12345-Signature": _mac(secret or self.secret, at, body),
            },
        )
