"""Tests of the test infrastructure in tests/conftest.py.

Behaviour that must make a test *fail* (network guard, MINHU_REQUIRE_SERVICES) is checked by
running pytest in a subprocess on generated test files with a copy of our conftest, via the
`pytester` plugin; the allowed paths are checked right here.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import is_loopback_host

CONFTEST = Path(__file__).with_name("conftest.py")
SERVICE_ENV = ("MINHU_DATABASE_URL", "MINHU_REDIS_URL", "MINHU_REQUIRE_SERVICES")


def use_our_conftest(pytester: pytest.Pytester) -> pytest.Pytester:
    # the app fixtures plugin needs the repository on sys.path; these inner runs don't use it
    text = CONFTEST.read_text(encoding="utf-8").replace(', "tests.app_fixtures"', "")
    pytester.makeconftest(text)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester project using our conftest, with the service variables cleared."""
    for name in SERVICE_ENV:
        monkeypatch.delenv(name, raising=False)
    return use_our_conftest(pytester)


def run(pytester: pytest.Pytester) -> pytest.RunResult:
    # A subprocess: the inner run gets its own `conftest` module and socket patches.
    return pytester.runpytest_subprocess("-ra", "-p", "no:cacheprovider", timeout=120)


# ---------------------------------------------------------------------------------------------
# Network guard


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        (b"127.0.0.1", True),
        ("0.0.0.0", False),  # noqa: S104 -- a host name under test, nothing binds
        ("10.0.0.5", False),
        ("192.0.2.1", False),
        ("2001:db8::1", False),
        ("example.com", False),
        ("localhost.example.com", False),
        (None, False),
    ],
)
def test_is_loopback_host_accepts_only_loopback(host: object, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_guard_allows_tcp_when_the_peer_is_loopback() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=2) as client:
            accepted, _ = server.accept()
            with accepted:
                client.sendall(b"ping")
                assert accepted.recv(4) == b"ping"

        async def connect() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                peer, _ = server.accept()
                with peer:
                    peer.sendall(b"pong")
                    return await reader.readexactly(4)
            finally:
                writer.close()
                await writer.wait_closed()

        assert asyncio.run(connect()) == b"pong"


def test_guard_allows_unix_sockets(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            accepted, _ = server.accept()
            with accepted:
                client.sendall(b"ping")
                assert accepted.recv(4) == b"ping"


GUARD_TESTS = """
import asyncio
import socket


def test_connect_to_remote_ip():
    with socket.socket() as s:
        s.settimeout(1)
        s.connect(("192.0.2.1", 80))


def test_dns_lookup_of_remote_name():
    socket.getaddrinfo("minhu.example", 443)


def test_swallowed_violation():
    try:
        socket.create_connection(("192.0.2.2", 80), timeout=1)
    except Exception:
        pass


def test_asyncio_connection():
    async def main():
        await asyncio.open_connection("192.0.2.3", 80)

    asyncio.run(main())


def test_connect_ex_to_remote_ip():
    with socket.socket() as s:
        s.settimeout(1)
        s.connect_ex(("192.0.2.4", 80))


def test_loopback_still_works():
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
"""


def test_guard_fails_the_test_when_it_reaches_a_remote_host(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_guard=GUARD_TESTS)

    result = run(inner)

    result.assert_outcomes(passed=1, failed=5)
    out = result.stdout.str()
    for blocked in [
        "connect to ('192.0.2.1', 80)",
        "getaddrinfo('minhu.example')",
        "getaddrinfo('192.0.2.2')",  # the test swallowed the error and failed anyway
        "connect to ('192.0.2.3', 80)",
        "connect to ('192.0.2.4', 80)",
    ]:
        assert f"real network call blocked in tests: {blocked}" in out


# ---------------------------------------------------------------------------------------------
# `services` marker and MINHU_REQUIRE_SERVICES

SERVICES_TESTS = """
import pytest


@pytest.mark.services
def test_marked_and_skipped():
    pytest.skip("service missing")


def test_unmarked_skip():
    pytest.skip("not a service test")


def test_requests_redis_url(redis_url):  # marked `services` automatically
    pass


def test_requests_postgres_url(postgres_url):  # marked `services` automatically
    pass


@pytest.mark.services
@pytest.mark.xfail(reason="known bug", strict=True)
def test_marked_xfail():
    raise AssertionError


@pytest.mark.services
def test_marked_and_passing():
    pass
"""


def test_service_tests_skip_when_services_are_not_required(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_services=SERVICES_TESTS)

    result = run(inner)

    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    result.stdout.fnmatch_lines(["*MINHU_REDIS_URL is not set*", "*MINHU_DATABASE_URL is not set*"])


def test_service_test_skips_fail_when_services_are_required(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner.makepyfile(test_services=SERVICES_TESTS)
    monkeypatch.setenv("MINHU_REQUIRE_SERVICES", "1")
    monkeypatch.setenv("MINHU_DATABASE_URL", "sqlite:///minhu.db")  # not PostgreSQL: skips

    result = run(inner)

    # Only the unmarked skip survives; xfail stays xfail. Skips in fixtures become setup errors.
    result.assert_outcomes(passed=1, failed=1, errors=2, skipped=1, xfailed=1)
    # Each of the three service tests reports why it may not skip (pytest versions differ in
    # whether the short summary repeats the message, so match the per-test sections in order).
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_requests_redis_url*",
            "MINHU_REQUIRE_SERVICES=1 forbids skipping a services test: "
            "MINHU_REDIS_URL is not set*",
            "*ERROR at setup of test_requests_postgres_url*",
            "MINHU_REQUIRE_SERVICES=1 forbids skipping a services test: "
            "MINHU_DATABASE_URL is not a postgresql/postgres URL*",
            "*test_marked_and_skipped*",
            "MINHU_REQUIRE_SERVICES=1 forbids skipping a services test: service missing*",
        ]
    )


def test_service_fixtures_fail_when_urls_point_off_the_machine(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner.makepyfile(
        test_remote="""
        def test_pg(postgres_url):
            pass

        def test_redis(redis_url):
            pass
        """
    )
    monkeypatch.setenv("MINHU_DATABASE_URL", "postgresql://postgres@db.internal:5432/test")
    monkeypatch.setenv("MINHU_REDIS_URL", "redis://10.1.2.3:6379/0")

    result = run(inner)

    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*MINHU_DATABASE_URL must point at loopback*'db.internal'*",
            "*MINHU_REDIS_URL must point at loopback*'10.1.2.3'*",
        ]
    )


# ---------------------------------------------------------------------------------------------
# PostgreSQL and Redis fixtures (real services)

DB_NAME = re.compile(r"minhu_test_[0-9a-f]{12}")


def test_postgres_url_points_at_a_fresh_empty_database_when_configured(postgres_url: str) -> None:
    import psycopg

    given, made = urlsplit(os.environ["MINHU_DATABASE_URL"]), urlsplit(postgres_url)
    assert (made.scheme, made.netloc) == (given.scheme, given.netloc)
    with psycopg.connect(postgres_url) as conn:
        name = conn.execute("select current_database()").fetchone()
        tables = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'public'"
        ).fetchone()
    assert name is not None and DB_NAME.fullmatch(name[0])
    assert tables == (0,)


def test_fresh_postgres_url_gives_a_separate_empty_database_per_call(
    fresh_postgres_url: Callable[[], str],
) -> None:
    import psycopg

    first, second = fresh_postgres_url(), fresh_postgres_url()
    assert first != second
    with psycopg.connect(first) as conn:
        conn.execute("create table ticket (id int primary key)")
    with psycopg.connect(second) as conn:
        found = conn.execute("select to_regclass('public.ticket')").fetchone()
    assert found == (None,)


def test_redis_prefix_is_unique_per_test_when_redis_is_configured(
    redis_url: str, redis_prefix: str
) -> None:
    import redis

    assert re.fullmatch(r"minhu-test:[0-9a-f]{12}:", redis_prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping() is True
    finally:
        client.close()


CLEANUP_TESTS = """
import json
import pathlib

import psycopg
import redis

OPEN = []  # a connection left open on purpose: the drop must still succeed (WITH FORCE)


def test_make_databases_and_keys(postgres_url, fresh_postgres_url, redis_url, redis_prefix):
    extra = fresh_postgres_url()
    OPEN.append(psycopg.connect(extra))
    client = redis.Redis.from_url(redis_url)
    for i in range(1200):  # more than one SCAN/DEL batch
        client.set(f"{redis_prefix}k{i}", "v")
    client.close()
    names = [postgres_url.rsplit("/", 1)[1], extra.rsplit("/", 1)[1]]
    pathlib.Path("made.json").write_text(json.dumps({"dbs": names, "prefix": redis_prefix}))
"""


def test_service_fixtures_remove_what_they_made_when_the_session_ends(
    pytester: pytest.Pytester, postgres_url: str, redis_url: str
) -> None:
    import psycopg
    import redis

    inner = use_our_conftest(pytester)  # the subprocess inherits the real service URLs
    inner.makepyfile(test_cleanup=CLEANUP_TESTS)

    result = run(inner)

    result.assert_outcomes(passed=1)
    made = json.loads((inner.path / "made.json").read_text())
    assert len(made["dbs"]) == 2
    with psycopg.connect(postgres_url) as conn:
        left = conn.execute(
            "select datname from pg_database where datname = any(%s)", (made["dbs"],)
        ).fetchall()
    assert left == []
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(match=f"{made['prefix']}*")) == []
    finally:
        client.close()
