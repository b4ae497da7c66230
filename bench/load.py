"""Webhook throughput under load, as ratios measured in one run (the machine is shared).

    python bench/load.py                       # 10 s per wrk run, 32 connections, 1 and 2 processes
    python bench/load.py --duration 3 --burst 100 --workers 1   # the CI smoke

Steps, each against a fresh PostgreSQL database and its own Redis key prefix:
1. a bare FastAPI app answering a fixed XML reply (bench/echo_app.py): the web path's limit;
2. `minhu serve --workers N` for each N, `wrk -t2 -cC` of signed WeChat text messages (a unique
   MsgId each, 500 residents) against the passive-reply webhook;
3. a burst: B messages sent at once (asyncio client), counting replies later than 5 s.

Prints messages/s, the ratio to the echo app, p50/p99 of the passive reply, the scale-out
ratio (N processes over one) and the burst's late replies. Needs `wrk` (Debian package), a
trained model (`minhu nlu train`), PostgreSQL and Redis (MINHU_DATABASE_URL, MINHU_REDIS_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
APP_ID = "wxbench"
RESIDENTS = 500
PATHS = 20000  # signed URLs with distinct nonces, more than one wrk run sends to the webhook
TEXTS = [
    "3幢电梯坏了，困人了",
    "小区门口垃圾好几天没人清理",
    "楼道灯不亮了",
    "你好",
    "我家楼上漏水，天花板在滴水",
    "晚上广场舞太吵了",
    "谢谢",
    "路灯坏了好几天",
]

WRK_SCRIPT = r"""
local thread_no = 0
local texts = {TEXTS}
local paths = {PATHS}
function setup(thread)
  thread:set("tid", thread_no)
  thread_no = thread_no + 1
end
function init(args)
  run = args[1]
  n = 0
end
function request()
  n = n + 1
  local user = (n * 7 + tid * 13) % {RESIDENTS}
  local text = texts[(n % #texts) + 1]
  local body = "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>" ..
    "<FromUserName><![CDATA[obench" .. user .. "]]></FromUserName>" ..
    "<CreateTime>" .. os.time() .. "</CreateTime><MsgType><![CDATA[text]]></MsgType>" ..
    "<Content><![CDATA[" .. text .. "]]></Content>" ..
    "<MsgId>" .. run .. tid .. string.format("%09d", n) .. "</MsgId></xml>"
  -- a fresh (timestamp, nonce) per message: a reused one with another body is a replay
  local path = paths[((n * 2 + tid) % #paths) + 1]
  return wrk.format("POST", path, {["Content-Type"] = "text/xml"}, body)
end
"""


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signed_path(nonce: str = "bench", timestamp: int | None = None) -> str:
    ts = str(timestamp or int(time.time()))
    sig = hashlib.sha1("".join(sorted([TOKEN, ts, nonce])).encode()).hexdigest()
    return f"/webhooks/wechat?signature={sig}&timestamp={ts}&nonce={nonce}"


def message_xml(user: int, msg_id: str, text: str) -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
        f"<FromUserName><![CDATA[obench{user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


@contextmanager
def database(base_url: str) -> Iterator[str]:
    """A fresh database next to ``base_url``'s, dropped afterwards."""
    name = f"minhu_load_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    scheme, rest = base_url.split("://", 1)
    host = rest.partition("/")[0]
    admin, url = f"{scheme}://{host}/postgres", f"{scheme}://{host}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_ready(port: int, proc: subprocess.Popen[bytes], path: str = "/healthz") -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not become ready in 300 s")


@contextmanager
def server(cmd: list[str], env: dict[str, str], port: int, ready: str) -> Iterator[None]:
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_ready(port, proc, ready)
        yield
    except RuntimeError:
        with contextlib.suppress(ProcessLookupError):  # it may have exited by itself
            os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        sys.stderr.write(err.decode(errors="replace")[-3000:])
        raise
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _ms(value: str) -> float:
    match = re.match(r"[\d.]+", value)
    if match is None:  # wrk prints "-nan" or "0.00us" when no request finished
        return float("nan")
    number = match.group()
    unit = value[len(number) :]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(port: int, duration: float, connections: int, run_id: str) -> WrkResult:
    script = WRK_SCRIPT.replace(
        "{TEXTS}", "{" + ",".join(json.dumps(t, ensure_ascii=False) for t in TEXTS) + "}"
    )
    paths = ",".join(f'"{signed_path(f"{run_id}n{i}")}"' for i in range(PATHS))
    script = script.replace("{RESIDENTS}", str(RESIDENTS)).replace("{PATHS}", "{" + paths + "}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{max(1, int(duration))}s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                f.name,
                f"http://127.0.0.1:{port}/",
                "--",
                run_id,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(x) for x in m.groups())
    return WrkResult(rps, p50, p99, total, errors)


async def post_raw(port: int, path: str, body: bytes) -> tuple[int, str]:
    """One POST on its own connection, as WeChat's servers send them: (status, body).

    A plain asyncio stream rather than httpx: httpx's connection pool does work in proportion
    to its open connections for every request, so 600 at once cost the client seconds of CPU
    (a bare echo app measured 353 of 600 "late" through it on the shared machine) — the
    burst measured the client, not the server."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        raw = await reader.read()  # Connection: close: the answer ends at EOF
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    status_line, _, rest = raw.partition(b"\r\n")
    headers, _, content = rest.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in headers.lower():
        content = _unchunk(content)
    return int(status_line.split()[1]), content.decode("utf-8", errors="replace")


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


async def burst(port: int, count: int, run_id: str) -> dict[str, float]:
    """``count`` messages at once, as WeChat would deliver them; replies after 5 s are late."""

    async def one(i: int) -> tuple[float, int, bool]:
        body = message_xml(i % RESIDENTS, f"{run_id}9{i:09d}", TEXTS[i % len(TEXTS)])
        path = signed_path(f"{run_id}b{i}")
        start = time.perf_counter()
        try:
            async with asyncio.timeout(30):
                status, text = await post_raw(port, path, body.encode())
        except (OSError, TimeoutError, ValueError, IndexError):
            return time.perf_counter() - start, 599, False  # WeChat saw no answer
        holding = "正在为您处理" in text
        return time.perf_counter() - start, status, holding

    results = await asyncio.gather(*(one(i) for i in range(count)))
    times = sorted(t for t, _, _ in results)
    return {
        "messages": count,
        "late_over_5s": sum(1 for t, status, _ in results if t > 5.0 and status < 400),
        "errors": sum(1 for _, status, _ in results if status >= 400),
        "holding_replies": sum(1 for _, _, h in results if h),
        "p50_s": round(times[len(times) // 2], 3),
        "max_s": round(times[-1], 3),
    }


def app_env(db_url: str, prefix: str, port: int, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MINHU_DATABASE_URL=db_url,
        MINHU_REDIS_PREFIX=prefix,
        MINHU_PORT=str(port),
        MINHU_LOAD_DEMO="false",
        MINHU_LOG_LEVEL="WARNING",
        # all load comes from 127.0.0.1 and 500 residents: the abuse limits would answer 429
        MINHU_RATE_LIMITS__ENABLED="false",
        MINHU_WECHAT__APP_ID=APP_ID,
        MINHU_WECHAT__SECRET="bench-secret",
        MINHU_WECHAT__TOKEN=TOKEN,
        # the customer-service API is never reached from here: pushed replies fail locally
        MINHU_WECHAT__API_BASE="http://127.0.0.1:9",
    )
    env.update(extra)
    return env


def measure(args: argparse.Namespace) -> dict[str, Any]:
    base_url = os.environ.get("MINHU_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    if not os.environ.get("MINHU_REDIS_URL"):
        raise SystemExit("set MINHU_REDIS_URL (the benchmark measures PostgreSQL + Redis)")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    minhu = str(Path(sys.executable).with_name("minhu"))
    report: dict[str, Any] = {"duration_s": args.duration, "connections": args.connections}
    echo_port = free_port()
    echo_cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.echo_app:app",
        "--port",
        str(echo_port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with server(echo_cmd, dict(os.environ), echo_port, "/docs"):
        echo = run_wrk(echo_port, args.duration, args.connections, "1")
    report["echo"] = asdict(echo)
    report["webhook"] = {}
    for n, workers in enumerate(args.workers):
        with database(base_url) as db_url:
            prefix = f"minhu-load-{uuid.uuid4().hex[:8]}:"
            port = free_port()
            env = app_env(db_url, prefix, port, {})
            subprocess.run([minhu, "db", "upgrade"], env=env, check=True, capture_output=True)
            subprocess.run([minhu, "demo"], env=env, check=True, capture_output=True)
            # what `make run` does: a model once (var/models), then every run reuses it
            subprocess.run(
                [minhu, "nlu", "train", "--if-missing"], env=env, check=True, capture_output=True
            )
            cmd = [minhu, "serve", "--workers", str(workers), "--port", str(port)]
            with server(cmd, env, port, "/healthz"):
                run_wrk(port, 1, 4, f"{n + 1}0")  # warm-up: model, connections, JIT caches
                result = run_wrk(port, args.duration, args.connections, f"{n + 1}1")
                entry: dict[str, Any] = asdict(result)
                entry["ratio_to_echo"] = round(result.rps / echo.rps, 4)
                if args.burst and workers == max(args.workers):
                    time.sleep(1)
                    entry["burst"] = asyncio.run(burst(port, args.burst, f"{n + 1}2"))
            report["webhook"][str(workers)] = entry
    if "1" in report["webhook"]:
        one = report["webhook"]["1"]["rps"]
        for entry in report["webhook"].values():
            entry["scale_vs_one"] = round(entry["rps"] / one, 3) if one else 0.0
    return report


def print_table(report: dict[str, Any]) -> None:
    echo = report["echo"]
    print(f"wrk -t2 -c{report['connections']} -d{report['duration_s']}s, one run:")
    print(
        f"  echo app (1 process)      {echo['rps']:9.1f} req/s   p50 {echo['p50_ms']:7.1f} ms  "
        f"p99 {echo['p99_ms']:7.1f} ms"
    )
    for workers, e in report["webhook"].items():
        print(
            f"  webhook ({workers} process{'es' if workers != '1' else ''})     "
            f"{e['rps']:9.1f} msg/s   p50 {e['p50_ms']:7.1f} ms  p99 {e['p99_ms']:7.1f} ms  "
            f"× echo {e['ratio_to_echo']:.3f}  × one {e.get('scale_vs_one', 0):.2f}  "
            f"errors {e['errors']}"
        )
        if "burst" in e:
            b = e["burst"]
            print(
                f"  burst of {b['messages']} at once ({workers} processes): "
                f"{b['late_over_5s']} replies after 5 s, {b['holding_replies']} holding replies, "
                f"p50 {b['p50_s']} s, max {b['max_s']} s, errors {b['errors']}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument("--burst", type=int, default=600, help="0 skips the burst")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = measure(args)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
