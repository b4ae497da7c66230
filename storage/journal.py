"""The inbound journal: where a message waits while PostgreSQL cannot be reached.

Persist first means the inbound row is written before anything else happens. When the
database is down that write is impossible; refusing the message (5xx) hands it back to the
platform, whose retries (WeChat: at once and about 5 s later) can all fall inside an outage.
So the message goes to the journal instead, the sender is told it is saved, and whichever
process sees the journal non-empty moves it into the database (idempotently: the row is unique
per channel and platform message id) and processes it, oldest first.

Why Redis and not a file per replica: every replica reaches the same Redis, so any of them
drains what another journaled (a replica that died or was scaled away strands nothing), and
one stream gives one order across replicas — a resident's messages are processed in the
order they arrived, whichever replica took them. What survives: with ``appendonly yes`` and
``appendfsync always`` a journaled message survives a Redis crash too; with ``everysec`` (the
usual setting) a Redis crash *during* a PostgreSQL outage can lose up to the last second of
journaled messages; without AOF a Redis restart during the outage loses the journal. With both
servers down the message is refused (5xx) and the platform retries.

Redis layout (under the store's prefix): ``journal`` a stream of entries; ``journal:ids`` a
hash of ``<channel> <message id>`` → stream id (a retry of a journaled message is not journaled
twice); ``journal:users`` a hash of ``<channel> <user id>`` → entries waiting (while a
resident has some, their new messages queue behind them); ``journal:drain`` the lease of the
one process draining; ``journal:buried`` a hash of stream id → an entry that could not be
stored after several tries (or could not be read at all), with the reason — set aside so it
does not hold up everyone journaled after it, and kept for staff to look at (``minhu journal
buried``), never dropped.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from storage.errors import StorageError

_T = TypeVar("_T")
_CALL_TIMEOUT = 5.0
_CHECK_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journaled message: what ``InboundRepository.record`` would have been given."""

    entry_id: str
    channel: str
    message_id: str
    user_id: str
    payload: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True, slots=True)
class BuriedEntry:
    """A journaled message set aside: its stream id, why, when, and the entry as journaled
    (``raw``: the JSON text, which may not decode when it was unreadable)."""

    entry_id: str
    reason: str
    buried_at: datetime
    raw: str


def _bury_record(raw: str, reason: str, at: datetime) -> str:
    return json.dumps({"reason": reason, "at": at.isoformat(), "raw": raw}, ensure_ascii=False)


def _buried_from(entry_id: str, record: str) -> BuriedEntry:
    data = json.loads(record)
    return BuriedEntry(
        entry_id, str(data["reason"]), datetime.fromisoformat(data["at"]), str(data["raw"])
    )


class InboundJournal(Protocol):
    """Messages kept while the database is unreachable, drained into it in arrival order."""

    async def append(
        self,
        channel: str,
        message_id: str,
        user_id: str,
        payload: dict[str, Any],
        *,
        received_at: datetime,
    ) -> bool:
        """Journal a message; False when this (channel, message id) is already waiting.

        Raises:
            StorageError: the journal cannot be written (the message is not kept).
        """
        ...

    async def holds(self, channel: str, user_id: str) -> bool:
        """Whether this sender has journaled messages not yet drained."""
        ...

    async def pending(self, limit: int) -> list[JournalEntry]:
        """The oldest ``limit`` entries, oldest first (they stay until `ack`)."""
        ...

    async def ack(self, entry: JournalEntry) -> None:
        """The entry is in the database now: forget it (idempotent)."""
        ...

    async def bury(self, entry: JournalEntry, reason: str) -> None:
        """Set an entry that cannot be stored aside (out of the queue, kept with ``reason``);
        the sender's later messages no longer wait behind it."""
        ...

    async def buried(self, limit: int = 100) -> list[BuriedEntry]:
        """Entries set aside by `bury` (or unreadable), oldest first."""
        ...

    async def lease(self, owner: str, seconds: float) -> bool:
        """Take or renew the drain lease; False while another owner holds it."""
        ...

    async def release(self, owner: str) -> None:
        """Give the drain lease up if ``owner`` still holds it."""
        ...

    async def close(self) -> None: ...


def _id_field(channel: str, message_id: str) -> str:
    return f"{channel} {message_id}"


def _user_field(channel: str, user_id: str) -> str:
    return f"{channel} {user_id}"


def _encode(entry: JournalEntry) -> str:
    return json.dumps(
        {
            "channel": entry.channel,
            "message_id": entry.message_id,
            "user_id": entry.user_id,
            "payload": entry.payload,
            "received_at": entry.received_at.isoformat(),
        },
        ensure_ascii=False,
    )


def _decode(entry_id: str, raw: str) -> JournalEntry:
    data = json.loads(raw)
    return JournalEntry(
        entry_id=entry_id,
        channel=str(data["channel"]),
        message_id=str(data["message_id"]),
        user_id=str(data["user_id"]),
        payload=dict(data["payload"]),
        received_at=datetime.fromisoformat(data["received_at"]),
    )


class MemoryInboundJournal:
    """`InboundJournal` in this process (tests; never a stand-in for Redis in production:
    a journal that dies with the process keeps nothing through a crash)."""

    def __init__(self) -> None:
        self._entries: list[JournalEntry] = []
        self._buried: list[BuriedEntry] = []
        self._next = 0
        self._owner: str | None = None
        self._until = 0.0

    async def append(
        self,
        channel: str,
        message_id: str,
        user_id: str,
        payload: dict[str, Any],
        *,
        received_at: datetime,
    ) -> bool:
        if any(e.channel == channel and e.message_id == message_id for e in self._entries):
            return False
        self._next += 1
        self._entries.append(
            JournalEntry(str(self._next), channel, message_id, user_id, payload, received_at)
        )
        return True

    async def holds(self, channel: str, user_id: str) -> bool:
        return any(e.channel == channel and e.user_id == user_id for e in self._entries)

    async def pending(self, limit: int) -> list[JournalEntry]:
        return self._entries[:limit]

    async def ack(self, entry: JournalEntry) -> None:
        self._entries = [e for e in self._entries if e.entry_id != entry.entry_id]

    async def bury(self, entry: JournalEntry, reason: str) -> None:
        if any(e.entry_id == entry.entry_id for e in self._entries):
            self._entries = [e for e in self._entries if e.entry_id != entry.entry_id]
            self._buried.append(BuriedEntry(entry.entry_id, reason, _utcnow(), _encode(entry)))

    async def buried(self, limit: int = 100) -> list[BuriedEntry]:
        return self._buried[:limit]

    async def lease(self, owner: str, seconds: float) -> bool:
        now = asyncio.get_running_loop().time()
        if self._owner not in (None, owner) and now < self._until:
            return False
        self._owner, self._until = owner, now + seconds
        return True

    async def release(self, owner: str) -> None:
        if self._owner == owner:
            self._owner = None

    async def close(self) -> None:
        return None


# KEYS: stream, ids, users; ARGV: id field, user field, entry json
_APPEND_LUA = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local id = redis.call('XADD', KEYS[1], '*', 'entry', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], id)
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
return 1
"""

# KEYS: stream, ids, users; ARGV: stream id, id field, user field
_ACK_LUA = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[2])
if redis.call('HINCRBY', KEYS[3], ARGV[3], -1) <= 0 then redis.call('HDEL', KEYS[3], ARGV[3]) end
return 1
"""

# KEYS: stream, ids, users, buried; ARGV: stream id, id field, user field, buried record
# (the id and user fields may be empty: an entry that could not be read names neither)
_BURY_LUA = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
if ARGV[2] ~= '' then redis.call('HDEL', KEYS[2], ARGV[2]) end
if ARGV[3] ~= '' and redis.call('HINCRBY', KEYS[3], ARGV[3], -1) <= 0 then
  redis.call('HDEL', KEYS[3], ARGV[3])
end
return 1
"""

# KEYS: lease; ARGV: owner, ms — take it when free, renew it when ours
_LEASE_LUA = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisInboundJournal:
    """`InboundJournal` on Redis (a stream plus two hashes; module docstring). No I/O until
    the first call, so a Redis that is down at start-up is only met when it is needed."""

    def __init__(self, url: str, *, prefix: str = "minhu:") -> None:
        try:
            # no socket_timeout: every call is bounded by asyncio.timeout (storage/state.py)
            self._redis: aioredis.Redis = aioredis.from_url(
                url, decode_responses=True, socket_connect_timeout=_CALL_TIMEOUT
            )
        except (ValueError, RedisError) as e:
            raise StorageError(f"invalid Redis URL for the inbound journal: {e}") from e
        self._stream = f"{prefix}journal"
        self._ids = f"{prefix}journal:ids"
        self._users = f"{prefix}journal:users"
        self._lease = f"{prefix}journal:drain"
        self._buried = f"{prefix}journal:buried"
        self._append = self._redis.register_script(_APPEND_LUA)
        self._ack = self._redis.register_script(_ACK_LUA)
        self._take = self._redis.register_script(_LEASE_LUA)
        self._give = self._redis.register_script(_RELEASE_LUA)
        self._bury = self._redis.register_script(_BURY_LUA)

    async def _call(self, what: str, op: Awaitable[_T], *, within: float = _CALL_TIMEOUT) -> _T:
        try:
            async with asyncio.timeout(within):
                return await op
        except TimeoutError as e:
            raise StorageError(f"inbound journal {what} timed out") from e
        except (RedisError, OSError) as e:
            raise StorageError(f"inbound journal {what} failed: {e}") from e

    async def append(
        self,
        channel: str,
        message_id: str,
        user_id: str,
        payload: dict[str, Any],
        *,
        received_at: datetime,
    ) -> bool:
        raw = _encode(JournalEntry("", channel, message_id, user_id, payload, received_at))
        added = await self._call(
            "append",
            self._append(
                keys=[self._stream, self._ids, self._users],
                args=[_id_field(channel, message_id), _user_field(channel, user_id), raw],
            ),
        )
        return bool(added)

    async def holds(self, channel: str, user_id: str) -> bool:
        # asked for every message while the database is up: a Redis that hangs must not
        # hold each of them up for long
        found = await self._call(
            "check",
            self._redis.hexists(self._users, _user_field(channel, user_id)),
            within=_CHECK_TIMEOUT,
        )
        return bool(found)

    async def pending(self, limit: int) -> list[JournalEntry]:
        rows = await self._call("read", self._redis.xrange(self._stream, count=limit))
        entries = []
        for entry_id, fields in rows or []:
            if entry_id is None or fields is None:
                continue
            raw = str(fields.get("entry", ""))
            try:
                entries.append(_decode(str(entry_id), raw))
            except (ValueError, KeyError, TypeError) as e:
                # not an entry this version can read (written by hand, or by a version that
                # wrote another shape): set it aside rather than stop every drain at it
                await self._set_aside(str(entry_id), raw, "", "", f"unreadable: {e!r}"[:200])
        return entries

    async def _set_aside(
        self, entry_id: str, raw: str, id_field: str, user_field: str, reason: str
    ) -> None:
        record = _bury_record(raw, reason, _utcnow())
        await self._call(
            "bury",
            self._bury(
                keys=[self._stream, self._ids, self._users, self._buried],
                args=[entry_id, id_field, user_field, record],
            ),
        )

    async def bury(self, entry: JournalEntry, reason: str) -> None:
        await self._set_aside(
            entry.entry_id,
            _encode(entry),
            _id_field(entry.channel, entry.message_id),
            _user_field(entry.channel, entry.user_id),
            reason[:200],
        )

    async def buried(self, limit: int = 100) -> list[BuriedEntry]:
        found = await self._call("read", self._redis.hgetall(self._buried))
        rows = sorted((found or {}).items(), key=lambda kv: _stream_order(str(kv[0])))
        return [_buried_from(str(k), str(v)) for k, v in rows[:limit]]

    async def ack(self, entry: JournalEntry) -> None:
        await self._call(
            "ack",
            self._ack(
                keys=[self._stream, self._ids, self._users],
                args=[
                    entry.entry_id,
                    _id_field(entry.channel, entry.message_id),
                    _user_field(entry.channel, entry.user_id),
                ],
            ),
        )

    async def lease(self, owner: str, seconds: float) -> bool:
        taken = await self._call(
            "lease", self._take(keys=[self._lease], args=[owner, max(1, round(seconds * 1000))])
        )
        return bool(taken)

    async def release(self, owner: str) -> None:
        await self._call("release", self._give(keys=[self._lease], args=[owner]))

    async def close(self) -> None:
        await self._redis.aclose()


def _stream_order(entry_id: str) -> tuple[int, ...]:
    """A stream id ("<ms>-<seq>") as a sortable key (a memory journal's ids are plain numbers)."""
    return tuple(int(part) for part in entry_id.split("-") if part.isdigit())


def _utcnow() -> datetime:
    return datetime.now(UTC)


def new_owner() -> str:
    """A drain lease owner id for this process."""
    return secrets.token_hex(8)
