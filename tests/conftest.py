"""Test infrastructure shared by the whole suite.

Sections (add new shared fixtures under a heading of their own):

1. Network guard -- a connection to anything but loopback or a Unix socket fails the test.
2. Real services -- the ``services`` marker and ``MINHU_REQUIRE_SERVICES=1``.
3. PostgreSQL fixtures -- ``postgres_url`` and ``fresh_postgres_url`` (fresh databases).
4. Redis fixtures -- ``redis_url`` and ``redis_prefix`` (a key namespace wiped after the test).

Service tests: a test that needs the real PostgreSQL or Redis just requests one of the fixtures
in ``SERVICE_FIXTURES`` (directly or through another fixture); it is marked ``services``
automatically. A test that reaches a service some other way -- e.g. a parametrized fixture
calling ``request.getfixturevalue("redis_url")`` for one parameter only -- must carry
``@pytest.mark.services`` itself (``pytest.param(..., marks=pytest.mark.services)``).
Without the environment variables those tests skip; CI sets ``MINHU_REQUIRE_SERVICES=1`` so a
skip of a ``services`` test becomes a failure instead of a silent green run.

Environment:
    MINHU_DATABASE_URL      e.g. postgresql://postgres@127.0.0.1:5432/test (an existing database
                            to connect to; tests get their own fresh databases next to it)
    MINHU_REDIS_URL         e.g. redis://127.0.0.1:6379/0
    MINHU_REQUIRE_SERVICES  1 = a skipped ``services`` test fails
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest

# `pytester` runs pytest on generated files; tests/test_infra.py uses it to test this file.
pytest_plugins = ["pytester", "tests.app_fixtures"]


# ============================================================================================
# 1. Network guard
#
# STYLE rule 11: any real network call outside 127.0.0.1 fails the run. We wrap the Python-level
# entry points (socket.connect/connect_ex, which asyncio, ssl and socket.create_connection all go
# through, and socket.getaddrinfo, so a DNS lookup of a real name fails early). A violation
# raises NetworkBlockedError *and* is recorded, and the recorded violation fails the test even when
# the code under test swallows the exception (HTTP clients and retry loops tend to).
# Not covered: C libraries doing their own I/O (libpq). The PostgreSQL and Redis fixtures
# therefore refuse non-loopback URLs themselves.
# ============================================================================================

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})


class NetworkBlockedError(RuntimeError):
    """A test tried to reach a host other than loopback.

    Deliberately not an OSError: code that retries or falls back on connection errors
    should not quietly absorb it.
    """


def is_loopback_host(host: object) -> bool:
    """True for localhost, 127.0.0.0/8, ::1 (also ``[::1]``, ``::ffff:127.0.0.1``, scoped)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


@dataclass
class _NetworkGuard:
    violations: list[str] = field(default_factory=list)
    patcher: pytest.MonkeyPatch = field(default_factory=pytest.MonkeyPatch)

    def block(self, what: str) -> NetworkBlockedError:
        message = f"real network call blocked in tests: {what} (only loopback is allowed)"
        self.violations.append(message)
        return NetworkBlockedError(message)

    def take(self) -> list[str]:
        taken, self.violations = self.violations, []
        return taken

    def install(self) -> None:
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_getaddrinfo = socket.getaddrinfo
        inet = (socket.AF_INET, socket.AF_INET6)

        def check(sock: socket.socket, address: Any) -> None:
            # AF_UNIX (and other non-IP families) pass; IP addresses are (host, port, ...).
            if sock.family in inet and not is_loopback_host(address[0]):
                raise self.block(f"connect to {address!r}")

        def connect(sock: socket.socket, address: Any) -> None:
            check(sock, address)
            real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            check(sock, address)
            return real_connect_ex(sock, address)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host not in (None, "", b"") and not is_loopback_host(host):
                raise self.block(f"getaddrinfo({host!r})")
            return real_getaddrinfo(host, *args, **kwargs)

        self.patcher.setattr(socket.socket, "connect", connect)
        self.patcher.setattr(socket.socket, "connect_ex", connect_ex)
        # socket.create_connection and asyncio look getaddrinfo up on the module at call time.
        self.patcher.setattr(socket, "getaddrinfo", getaddrinfo)

    def uninstall(self) -> None:
        self.patcher.undo()


_GUARD = pytest.StashKey[_NetworkGuard]()
_REQUIRE_SERVICES = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    # Installed at configure time (not in a fixture) so imports during collection are covered.
    guard = _NetworkGuard()
    guard.install()
    config.stash[_GUARD] = guard
    config.stash[_REQUIRE_SERVICES] = os.environ.get(
        "MINHU_REQUIRE_SERVICES", ""
    ).strip().lower() in {"1", "true", "yes", "on"}
    # Also declared in pyproject.toml; repeated here so a run without it (pytester) knows it.
    config.addinivalue_line(
        "markers", "services: needs the real PostgreSQL and/or Redis on 127.0.0.1"
    )
    _cheap_password_hashing()


def _cheap_password_hashing() -> None:
    """Argon2id with the smallest cost in this test process (Django's test-settings practice).

    Every app start hashes the demo admin's password and every console login verifies one;
    at the production cost (64 MiB, 3 passes) that is most of a second each, hundreds of
    times per run. The algorithm, the code path and the stored format stay the same; the
    production cost is what `minhu serve` and the subprocess tests (drills, CLI) use.
    """
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    from handlers import account_service

    account_service._HASHER = PasswordHash(
        (Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),)
    )
    account_service._DUMMY_HASH = account_service._HASHER.hash("dummy-password-for-misses")


def pytest_unconfigure(config: pytest.Config) -> None:
    guard = config.stash.get(_GUARD, None)
    if guard is not None:
        guard.uninstall()


# ============================================================================================
# 2. Real services: auto-marking and MINHU_REQUIRE_SERVICES
# ============================================================================================

# Requesting any of these (directly or via another fixture) marks the test `services`.
SERVICE_FIXTURES = frozenset({"postgres_url", "fresh_postgres_url", "redis_url", "redis_prefix"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixturenames = getattr(item, "fixturenames", ())
        if SERVICE_FIXTURES.intersection(fixturenames):
            item.add_marker(pytest.mark.services)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield

    # Network violations recorded during this phase (setup, call or teardown) fail it.
    guard = item.config.stash.get(_GUARD, None)
    violations = guard.take() if guard is not None else []
    if violations:
        detail = "\n".join(violations)
        if report.failed:
            report.sections.append(("network guard", detail))
        else:
            report.outcome = "failed"
            report.longrepr = detail

    # Under MINHU_REQUIRE_SERVICES a skipped `services` test is a failure (xfail stays xfail).
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and item.config.stash.get(_REQUIRE_SERVICES, False)
        and item.get_closest_marker("services") is not None
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        reason = str(reason).removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"MINHU_REQUIRE_SERVICES=1 forbids skipping a services test: {reason}"
    return report


def _service_url(env_var: str, schemes: tuple[str, ...], example: str) -> str:
    """Read a service URL from the environment: skip when unset, fail when unusable."""
    url = os.environ.get(env_var, "").strip()
    if not url:
        pytest.skip(f"{env_var} is not set (e.g. {env_var}={example})")
    parts = urlsplit(url)
    if parts.scheme.split("+", 1)[0] not in schemes:
        pytest.skip(f"{env_var} is not a {'/'.join(schemes)} URL")
    # Client libraries in C (libpq) bypass the network guard, so check the host here.
    hosts = [parts.hostname, *parse_qs(parts.query).get("host", [])]
    for host in hosts:
        if host and not host.startswith("/") and not is_loopback_host(host):
            pytest.fail(f"{env_var} must point at loopback or a Unix socket in tests, not {host!r}")
    return url


def _unique_suffix() -> str:
    return secrets.token_hex(6)


# ============================================================================================
# 3. PostgreSQL: every test session gets fresh databases, dropped at the end
# ============================================================================================


class _PostgresDatabases:
    """Creates throw-away databases next to the one MINHU_DATABASE_URL names."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._url = urlsplit(url)
        # libpq only understands postgresql:// (not SQLAlchemy's postgresql+psycopg://).
        conninfo = urlunsplit(self._url._replace(scheme="postgresql"))
        try:
            self._admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
        except psycopg.Error as e:
            pytest.fail(f"MINHU_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
        self.created: list[str] = []

    def create(self) -> str:
        """Create an empty database; return its URL (scheme, user and host as configured)."""
        from psycopg import sql

        name = f"minhu_test_{_unique_suffix()}"
        self._admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return urlunsplit(self._url._replace(path=f"/{name}"))

    def drop_all(self) -> None:
        from psycopg import sql

        # FORCE: a pool a test forgot to dispose of must not make the drop fail.
        for name in self.created:
            self._admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        self.created.clear()
        self._admin.close()


@pytest.fixture(scope="session")
def _postgres_databases() -> Iterator[_PostgresDatabases]:
    url = _service_url(
        "MINHU_DATABASE_URL", ("postgresql", "postgres"), "postgresql://postgres@127.0.0.1/test"
    )
    databases = _PostgresDatabases(url)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def postgres_url(_postgres_databases: _PostgresDatabases) -> str:
    """URL of a fresh database shared by the whole session (create your tables once)."""
    return _postgres_databases.create()


@pytest.fixture
def fresh_postgres_url(_postgres_databases: _PostgresDatabases) -> Callable[[], str]:
    """Factory: each call creates another empty database and returns its URL.

    For tests that need a database nobody else touched (migrations, counting rows). The
    databases are dropped at the end of the session.
    """
    return _postgres_databases.create


# ============================================================================================
# 4. Redis: the configured server, one key prefix per test
# ============================================================================================


@pytest.fixture(scope="session")
def _redis_admin() -> Iterator[tuple[str, Any]]:
    import redis

    url = _service_url("MINHU_REDIS_URL", ("redis", "rediss", "unix"), "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as e:
        client.close()
        pytest.fail(f"MINHU_REDIS_URL is set but Redis is unreachable: {e}")
    yield url, client
    client.close()


@pytest.fixture(scope="session")
def redis_url(_redis_admin: tuple[str, Any]) -> str:
    """URL of the real Redis (answered PING). Put keys under `redis_prefix`, never bare."""
    return str(_redis_admin[0])


@pytest.fixture
def redis_prefix(_redis_admin: tuple[str, Any]) -> Iterator[str]:
    """A key prefix unique to this test; every key under it is deleted afterwards."""
    prefix = f"minhu-test:{_unique_suffix()}:"  # hex and colons only: safe in a SCAN pattern
    yield prefix
    client = _redis_admin[1]
    # One full SCAN sees every key that existed throughout it; delete in batches.
    batch: list[Any] = []
    for key in client.scan_iter(match=f"{prefix}*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)
