"""Binding a messenger account to a grid worker with a one-time code (channel-neutral).

An admin issues a code for a GridWorker (``minhu worker bind-code``; the admin console calls
the same `issue_bind_code`). The worker sends it from their messenger -- on Telegram by
opening ``t.me/<bot>?start=bind-<code>`` -- and the channel calls `redeem_bind_code` inside
the unit of work that also records the inbound message. Codes are stored hashed, expire, and
are single-use across processes (an atomic conditional UPDATE).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from handlers.i18n import pick
from handlers.ports import Clock
from handlers.privacy import mask_id
from storage.interfaces import Store, UnitOfWork
from storage.models import GridWorker

log = logging.getLogger("minhu.binding")

CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,48}$")  # what a t.me start parameter can carry
DEFAULT_TTL = timedelta(hours=24)
MAX_TTL = timedelta(days=30)


class BindingError(Exception):
    """A code could not be issued (no such worker, inactive worker, bad TTL)."""


class Outcome(StrEnum):
    BOUND = "bound"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    INACTIVE = "inactive"


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    worker_id: int
    worker_name: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Redemption:
    outcome: Outcome
    worker: GridWorker | None = None
    grid_name: str = ""

    def reply(self, locale: str = "zh") -> str:
        """What the person who sent the code is told."""
        if self.outcome == Outcome.BOUND and self.worker is not None:
            where = f"（{self.grid_name}）" if self.grid_name and locale == "zh" else ""
            if locale != "zh" and self.grid_name:
                where = f" ({self.grid_name})"
            return pick(_TEXT[Outcome.BOUND], locale).format(name=self.worker.name, where=where)
        return pick(_TEXT[self.outcome], locale)


_TEXT: dict[Outcome, dict[str, str]] = {
    Outcome.BOUND: {
        "zh": "绑定成功！{name}{where}，您好。今后派给您的任务会以任务卡片发到这里，"
        "可以直接点按钮接单、反馈进展、办结；回复卡片即可写进展说明。发送 /tasks 查看待办。",
        "en": "You're linked, {name}{where}. New tasks will arrive here as cards: tap to accept, "
        "report progress or resolve; reply to a card to add a note. Send /tasks for your list.",
    },
    Outcome.UNKNOWN: {
        "zh": "绑定码无效。请向社区管理员重新获取绑定链接。",
        "en": "That link code is not valid. Please ask your community admin for a new link.",
    },
    Outcome.EXPIRED: {
        "zh": "绑定码已过期。请向社区管理员重新获取绑定链接。",
        "en": "That link code has expired. Please ask your community admin for a new link.",
    },
    Outcome.USED: {
        "zh": "这个绑定码已经使用过了，不能重复使用。如需绑定新账号，请向社区管理员重新获取。",
        "en": "That link code has already been used. Ask your community admin for a new one.",
    },
    Outcome.INACTIVE: {
        "zh": "该网格员账号已停用，无法绑定。请联系社区管理员。",
        "en": "That grid worker account is disabled. Please contact your community admin.",
    },
}


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def parse_ttl(value: str) -> timedelta:
    """'24h', '30m', '7d', '3600s' or plain seconds → a timedelta (1 minute … 30 days)."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", value.lower())
    if match is None:
        raise BindingError(f"invalid TTL {value!r}: use e.g. 30m, 24h or 7d")
    amount, unit = int(match.group(1)), match.group(2) or "s"
    ttl = timedelta(seconds=amount * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])
    if not timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise BindingError("TTL must be between 1 minute and 30 days")
    return ttl


async def issue_bind_code(
    store: Store,
    clock: Clock,
    worker_id: int,
    *,
    ttl: timedelta = DEFAULT_TTL,
    created_by: str = "",
) -> IssuedCode:
    """Create a one-time code for a worker.

    Raises:
        BindingError: no such worker, the worker is inactive, or the TTL is out of range.
    """
    if not timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise BindingError("TTL must be between 1 minute and 30 days")
    now = clock.now()
    code = secrets.token_urlsafe(12)  # 16 characters of [A-Za-z0-9_-]: fits a start parameter
    async with store.unit() as uow:
        worker = await uow.registry.worker(worker_id)
        if worker is None:
            raise BindingError(f"no grid worker with id {worker_id}")
        if not worker.active:
            raise BindingError(f"grid worker {worker_id} ({worker.name}) is inactive")
        await uow.bind_codes.add(
            hash_code(code),
            worker_id,
            now=now,
            expires_at=now + ttl,
            created_by=created_by[:64],
        )
    log.info("bind code issued for worker %s, valid until %s", worker_id, now + ttl)
    return IssuedCode(code, worker_id, worker.name, now + ttl)


async def redeem_bind_code(
    uow: UnitOfWork, code: str, *, channel: str, user_id: str, now: datetime
) -> Redemption:
    """Bind ``channel:user_id`` to the code's worker if the code is valid, in ``uow``.

    The newly bound channel becomes the worker's preferred one (task cards go there first).
    """
    if not CODE_PATTERN.fullmatch(code):
        return Redemption(Outcome.UNKNOWN)
    row = await uow.bind_codes.by_hash(hash_code(code))
    if row is None or row.id is None:
        return Redemption(Outcome.UNKNOWN)
    if row.used_at is not None:
        return Redemption(Outcome.USED)
    if row.expires_at <= now:
        return Redemption(Outcome.EXPIRED)
    worker = await uow.registry.worker(row.worker_id)
    if worker is None or not worker.active:
        return Redemption(Outcome.INACTIVE)
    if not await uow.bind_codes.use(row.id, now=now, channel=channel, user_id=user_id):
        # another request used it (or it expired) between our read and our update
        fresh = await uow.bind_codes.by_hash(hash_code(code))
        expired = fresh is not None and fresh.used_at is None
        return Redemption(Outcome.EXPIRED if expired else Outcome.USED)
    others = [
        i.priority
        for i in await uow.registry.worker_identities(row.worker_id)
        if (i.channel, i.user_id) != (channel, user_id)
    ]
    priority = min(others) - 1 if others else 0
    await uow.registry.bind_worker_identity(row.worker_id, channel, user_id, priority=priority)
    grid = await uow.registry.grid(worker.grid_id) if worker.grid_id else None
    log.info("worker %s bound to %s:%s", row.worker_id, channel, mask_id(user_id))
    return Redemption(Outcome.BOUND, worker, grid.name if grid else "")
