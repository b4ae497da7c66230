"""Fault drills with real processes: our own redis-server and PostgreSQL cluster, two replicas.

Used by tests/faults (short drills, CI) and bench/faults.py (the long drill, README numbers).
Nothing here touches the machine's shared PostgreSQL or Redis: both servers are started on
free ports under a temporary directory and stopped at the end.

A drill sends residents' messages at a steady rate to two ``minhu serve`` replicas through
``POST /api/v1/messages`` with a message id, retrying a failed request both at once and after
``retry_after`` seconds (like WeChat), injects a fault, waits until nothing is unfinished and
then counts from the database: messages stored, processed, tickets per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path

import httpx
import psycopg
import redis

REPORT = "{n}号楼电梯里有人被困，快来人"  # urgent: files a ticket in one message
CHAT = "你好"
SAVED = "收到，您的消息已保存"  # the start of the answer to a journaled message (i18n "journaled")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tools_available() -> str | None:
    """Why the drills cannot run here, or None."""
    if shutil.which("redis-server") is None:
        return "redis-server not installed"
    if not glob("/usr/lib/postgresql/*/bin/initdb"):
        return "PostgreSQL server binaries not installed"
    return None


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb/postgres refuse to run as root
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class RedisServer:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class PostgresServer:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        # its own directory: pytest's tmp dirs are closed to the postgres user
        self.data = Path(tempfile.mkdtemp(prefix="minhu-drill-pg-")) / "pg"
        self.bin = Path(sorted(glob("/usr/lib/postgresql/*/bin"))[-1])

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/minhu"

    def init(self) -> None:
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
            shutil.chown(self.data.parent, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.start()
        subprocess.run(
            [
                str(self.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "minhu",
            ],
            check=True,
        )

    def _ctl(self, *args: str) -> None:
        opts = f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    opts,
                    "-w",
                    "-l",
                    str(self.data / "log"),
                    *args,
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "immediate")

    def remove(self) -> None:
        shutil.rmtree(self.data.parent, ignore_errors=True)


@dataclass
class Replica:
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


async def wait_healthy(url: str, within: float = 240.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{url}/api/v1/demo")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} did not come up")


@dataclass
class Counts:
    sent: int = 0
    answered: int = 0  # a 200 with replies
    http_5xx: int = 0
    unreachable: int = 0  # connection refused/reset (a replica down)
    apologies: int = 0
    journaled: int = 0  # answered "saved" while PostgreSQL was down (storage/journal.py)
    journaled_users: set[str] = field(default_factory=set)


@dataclass
class Outcome:
    counts: Counts
    stored: int
    done: int
    unfinished: int
    duplicate_rows: int
    tickets: int
    tickets_expected: int
    duplicate_tickets: int
    seconds_to_settle: float
    journal_left: int = 0  # entries still in the Redis journal (never drained)
    journaled_unanswered: int = 0  # journaled senders with no answer pushed afterwards


@dataclass
class Deliveries:
    """The outbox of one channel after a drill, checked against what the platform got."""

    sent: int  # outbox items delivered (the platform's message id recorded)
    rerouted: int  # urgent items that went through the worker's next channel instead
    rerouted_unsent: int  # … whose copy on that channel is not delivered
    pending: int
    dead: int
    duplicates: int  # messages the platform accepted that no outbox item accounts for
    missing: int  # items marked sent whose message the platform never accepted


class Cluster:
    """Our PostgreSQL, our Redis and two replicas."""

    def __init__(self, root: Path, models: Path, extra_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.redis = RedisServer(root)
        self.pg = PostgresServer(root)
        self.models = models
        self.extra_env = dict(extra_env or {})
        self.replicas: list[Replica] = []
        self._later: list[threading.Thread] = []

    def restart_later(self, start: Callable[[], None], seconds: float) -> None:
        """Call ``start`` after ``seconds`` while the load goes on (drive() waits for a
        fault function to return); `settle` waits for it first."""

        def run() -> None:
            time.sleep(seconds)
            start()

        thread = threading.Thread(target=run, name="drill-restart", daemon=True)
        thread.start()
        self._later.append(thread)

    async def start(self, replicas: int = 2) -> None:
        self.redis.start()
        self.pg.init()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MINHU_")},
            "MINHU_ENV": "test",
            "MINHU_DATABASE_URL": self.pg.url,
            "MINHU_REDIS_URL": self.redis.url,
            "MINHU_MODEL_DIR": str(self.models),
            "MINHU_DATA_DIR": str(self.root / "data"),
            "MINHU_OUTBOX_POLL_SECONDS": "0.2",
            "MINHU_LOG_LEVEL": "WARNING",
            "MINHU_RELIABILITY__RECOVERY_EVERY_SECONDS": "1",
            "MINHU_RELIABILITY__RECOVERY_STUCK_SECONDS": "5",
            "MINHU_RELIABILITY__RECOVERY_BACKOFF_SECONDS": "1",
            "MINHU_LOCK_TIMEOUT_SECONDS": "15",
            # the drill's residents all write from 127.0.0.1: the per-address abuse limits
            # (tests/bot/test_abuse_limits.py) would refuse their tickets, which is not the
            # fault under test
            "MINHU_RATE_LIMITS__ENABLED": "false",
            **self.extra_env,
        }
        first = Replica(env)
        first.start(self.root / "replica-0.log")  # migrates and loads the demo registry alone
        await wait_healthy(first.url)
        self.replicas.append(first)
        for i in range(1, replicas):
            replica = Replica(env)
            replica.start(self.root / f"replica-{i}.log")
            await wait_healthy(replica.url)
            self.replicas.append(replica)

    def stop(self) -> None:
        for r in self.replicas:
            r.stop()
        self.redis.kill()
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg.stop()
        if os.environ.get("MINHU_KEEP_DRILL") is None:
            self.pg.remove()

    def bind_workers(self, channel: str, first_id: int) -> dict[int, str]:
        """Every worker also on ``channel`` (preferred), ids from ``first_id``: {worker: id}."""
        bound: dict[int, str] = {}
        with psycopg.connect(self.pg.url) as conn:
            workers = [row[0] for row in conn.execute("SELECT id FROM gridworker ORDER BY id")]
            for n, worker in enumerate(workers):
                user = str(first_id + n)
                conn.execute(
                    "INSERT INTO channelidentity (channel, user_id, worker_id, priority,"
                    " reachable, created_at) VALUES (%s, %s, %s, -1, true, now())",
                    (channel, user, worker),
                )
                bound[worker] = user
        return bound

    async def deliveries(
        self, channel: str, accepted: Callable[[], set[str]], *, within: float = 240.0
    ) -> Deliveries:
        """Wait until nothing is pending (or ``within`` s), then compare the outbox of
        ``channel`` with ``accepted()``: the ids of the messages the platform accepted."""
        started = time.monotonic()
        while True:
            with psycopg.connect(self.pg.url) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM outbox WHERE status = 'pending'"
                ).fetchone()
            if not row or not row[0] or time.monotonic() - started > within:
                break
            await asyncio.sleep(0.5)
        with psycopg.connect(self.pg.url) as conn:
            rows = conn.execute(
                "SELECT status, platform_message_id FROM outbox WHERE channel = %s", (channel,)
            ).fetchall()
            rerouted_unsent = conn.execute(
                "SELECT count(*) FROM outbox WHERE dedupe_key LIKE 'reroute:%%'"
                " AND status <> 'sent'"
            ).fetchone()[0]  # type: ignore[index]
        recorded = {pmid for status, pmid in rows if status == "sent" and pmid}
        platform = accepted()
        return Deliveries(
            sent=sum(1 for status, _ in rows if status == "sent"),
            rerouted=sum(1 for status, _ in rows if status == "rerouted"),
            rerouted_unsent=int(rerouted_unsent),
            pending=sum(1 for status, _ in rows if status == "pending"),
            dead=sum(1 for status, _ in rows if status == "dead"),
            duplicates=len(platform - recorded),
            missing=len(recorded - platform),
        )

    def restart_replica(self, i: int) -> None:
        self.replicas[i].start(self.root / f"replica-{i}.log")

    # --- load -----------------------------------------------------------------------------

    async def drive(
        self,
        *,
        messages: int,
        rate: float,
        fault_at: float,
        fault: Callable[[], object],
        retry_after: float = 5.0,
    ) -> Counts:
        """Send ``messages`` at ``rate``/s over both replicas; call ``fault`` at ``fault_at`` s.

        A request that fails (5xx, refused, timeout) is sent again at once to the other
        replica and again after ``retry_after`` s, like WeChat's retries. Every third message
        is an urgent report that files a ticket.
        """
        counts = Counts()
        loop = asyncio.get_running_loop()
        started = loop.time()
        fired = False

        async def send(client: httpx.AsyncClient, i: int) -> None:
            # one resident per message: counting by user works whatever the channel makes of
            # the message id (the web channel hashes it with the user id)
            body = {
                "user_id": f"drill-{i}",
                "message_id": f"drill-msg-{i}",
                "text": REPORT.format(n=i % 12 + 1) if i % 3 == 0 else CHAT,
            }
            counts.sent += 1
            for attempt in range(3):
                replica = self.replicas[(i + attempt) % len(self.replicas)]
                if attempt == 2:
                    await asyncio.sleep(retry_after)
                try:
                    response = await client.post(
                        f"{replica.url}/api/v1/messages", json=body, timeout=20
                    )
                except httpx.HTTPError:
                    counts.unreachable += 1
                    continue
                if response.status_code >= 500:
                    counts.http_5xx += 1
                    continue
                counts.answered += 1
                replies = response.json().get("replies", [])
                if replies and replies[0]["text"].startswith("抱歉"):
                    counts.apologies += 1
                if replies and replies[0]["text"].startswith(SAVED):
                    counts.journaled += 1
                    counts.journaled_users.add(body["user_id"])
                return

        async with httpx.AsyncClient() as client:
            tasks = []
            for i in range(messages):
                at = started + i / rate
                if not fired and loop.time() - started >= fault_at:
                    fired = True
                    await asyncio.to_thread(fault)
                await asyncio.sleep(max(0.0, at - loop.time()))
                tasks.append(asyncio.create_task(send(client, i)))
            if not fired:
                await asyncio.to_thread(fault)
            await asyncio.gather(*tasks)
        return counts

    # --- verdict ----------------------------------------------------------------------------

    async def settle(self, counts: Counts, messages: int, within: float = 90.0) -> Outcome:
        """Wait until the journal is drained and no drill message is unfinished, then count
        from the database."""
        for thread in self._later:
            await asyncio.to_thread(thread.join)
        started = time.monotonic()
        while True:
            journal_left = self.journal_length()
            with psycopg.connect(self.pg.url) as conn:
                stored, done = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE status = 'done') FROM inboundmessage"
                    " WHERE user_id LIKE 'drill-%%'"
                ).fetchone() or (0, 0)
            if (done >= stored and not journal_left) or time.monotonic() - started > within:
                break
            await asyncio.sleep(0.5)
        # the answer to a journaled message is pushed (web: the mailbox) once it is processed
        with psycopg.connect(self.pg.url) as conn:
            answered = {
                row[0]
                for row in conn.execute(
                    "SELECT DISTINCT recipient FROM outbox WHERE dedupe_key LIKE 'reply:%%'"
                    " AND recipient LIKE 'drill-%%'"
                )
            }
        with psycopg.connect(self.pg.url) as conn:
            duplicate_rows = conn.execute(
                "SELECT count(*) FROM (SELECT user_id FROM inboundmessage WHERE user_id LIKE"
                " 'drill-%%' GROUP BY user_id HAVING count(*) > 1) d"
            ).fetchone()[0]  # type: ignore[index]
            tickets = conn.execute(
                "SELECT count(*) FROM ticket WHERE channel_user_id LIKE 'drill-%%'"
            ).fetchone()[0]  # type: ignore[index]
            duplicate_tickets = conn.execute(
                "SELECT count(*) FROM (SELECT channel_user_id FROM ticket WHERE channel_user_id"
                " LIKE 'drill-%%' GROUP BY channel_user_id HAVING count(*) > 1) d"
            ).fetchone()[0]  # type: ignore[index]
        return Outcome(
            counts=counts,
            stored=int(stored),
            done=int(done),
            unfinished=int(stored) - int(done),
            duplicate_rows=int(duplicate_rows),
            tickets=int(tickets),
            tickets_expected=len(range(0, messages, 3)),
            duplicate_tickets=int(duplicate_tickets),
            seconds_to_settle=round(time.monotonic() - started, 1),
            journal_left=journal_left,
            journaled_unanswered=len(counts.journaled_users - answered),
        )

    def journal_length(self) -> int:
        """Entries waiting in the inbound journal of our Redis (0 when Redis is down)."""
        client = redis.Redis.from_url(self.redis.url, socket_connect_timeout=2)
        try:
            return int(client.xlen("minhu:journal"))
        except redis.RedisError:
            return 0
        finally:
            client.close()
