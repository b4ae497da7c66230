"""Abuse limits (I/O through the limiter and the state store): login throttling and rate limits.

Login: every attempt is counted *before* the password is checked, atomically, per account
name and per client IP. So 40 parallel guesses count 40 — only the first few are checked at
all, and the right password arriving after the limit is refused like the others. Known and
unknown account names are counted, locked and answered the same way (no username
enumeration). The lock itself is a marker in the shared state store holding its end time (the
service clock's time, so tests move it with a fake clock); the account's ``locked_until``
mirrors it for the console's account list, and an admin's unlock clears both.

Rate limits: token buckets per identity and per IP for chat messages, uploads and new
tickets; the caller turns a refusal into a polite answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.accounts import LoginPolicy
from handlers.errors import Locked
from storage.interfaces import SessionStore
from storage.limits import Limiter


def _name(username: str) -> str:
    return username.strip().lower()[:64]


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    limiter: Limiter
    state: SessionStore
    policy: LoginPolicy
    max_per_ip: int = 50  # attempts from one address per lockout window, all accounts together

    @property
    def _window(self) -> int:
        return max(60, round(self.policy.lockout_minutes * 60))

    def _bucket(self, now: datetime) -> int:
        return int(now.timestamp() // self._window)

    def _attempts_key(self, name: str, now: datetime) -> str:
        return f"login:try:{name}:{self._bucket(now)}"

    def _locked_message(self, until: datetime, now: datetime) -> Locked:
        minutes = max(1, round((until - now).total_seconds() / 60))
        return Locked(f"登录失败次数过多，已暂时锁定，请{minutes}分钟后再试")

    async def locked_until(self, username: str, now: datetime) -> datetime | None:
        raw = await self.state.get_value(f"login:lock:{_name(username)}")
        if raw is None:
            return None
        until = datetime.fromisoformat(raw)
        return until if until > now else None

    async def admit(self, username: str, ip: str, now: datetime) -> int:
        """Count one attempt; refuse it when the account or the address is over its limit.

        Returns:
            This attempt's number within the window (pass it to `failed`).

        Raises:
            Locked: the same answer whether or not the account exists.
        """
        name = _name(username)
        until = await self.locked_until(name, now)
        if until is not None:
            raise self._locked_message(until, now)
        ttl = 2 * self._window
        if ip:
            from_ip = await self.limiter.hit(
                f"login:ip:{ip}:{self._bucket(now)}", window_seconds=ttl
            )
            if from_ip > self.max_per_ip:
                raise Locked(
                    f"该网络登录尝试过多，请{round(self.policy.lockout_minutes)}分钟后再试"
                )
        attempts = await self.limiter.hit(self._attempts_key(name, now), window_seconds=ttl)
        if attempts > self.policy.max_failed_logins:
            until = await self._lock(name, now)
            raise self._locked_message(until, now)
        return attempts

    async def failed(self, username: str, attempt: int, now: datetime) -> datetime | None:
        """After a wrong password: the lock's end when this attempt used up the allowance."""
        if attempt >= self.policy.max_failed_logins:
            return await self._lock(_name(username), now)
        return None

    async def succeeded(self, username: str, now: datetime) -> None:
        await self.limiter.reset(self._attempts_key(_name(username), now))

    async def unlock(self, username: str, now: datetime) -> None:
        """An admin's unlock: the account may try again at once."""
        await self.succeeded(username, now)
        await self.state.set_value(f"login:lock:{_name(username)}", now.isoformat(), ttl_seconds=1)

    async def _lock(self, name: str, now: datetime) -> datetime:
        existing = await self.locked_until(name, now)
        if existing is not None:
            return existing
        until = now + timedelta(minutes=self.policy.lockout_minutes)
        await self.state.set_value(
            f"login:lock:{name}", until.isoformat(), ttl_seconds=2 * self._window
        )
        return until


@dataclass(frozen=True, slots=True)
class Rate:
    per_minute: float
    burst: int


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Token buckets for what anyone can do without an account."""

    limiter: Limiter
    message: Rate = Rate(per_minute=30, burst=20)
    message_per_ip: Rate = Rate(per_minute=120, burst=60)
    upload: Rate = Rate(per_minute=6, burst=6)
    upload_per_ip: Rate = Rate(per_minute=30, burst=20)
    ticket: Rate = Rate(per_minute=1, burst=3)
    ticket_per_ip: Rate = Rate(per_minute=6, burst=10)

    async def allow(self, kind: str, identity: str, ip: str = "") -> float:
        """0.0 when allowed, else seconds to wait. ``kind``: message, upload or ticket."""
        rate: Rate = getattr(self, kind)
        wait = await self.limiter.take(
            f"rate:{kind}:id:{identity}", per_minute=rate.per_minute, burst=rate.burst
        )
        if wait > 0 or not ip:
            return wait
        per_ip: Rate = getattr(self, f"{kind}_per_ip")
        return await self.limiter.take(
            f"rate:{kind}:ip:{ip}", per_minute=per_ip.per_minute, burst=per_ip.burst
        )
