"""The long fault drill: two replicas, our own PostgreSQL and Redis, a steady load, one fault.

    .venv/bin/python bench/faults.py [--messages 600] [--rate 10] [--fault-at 20]

For each drill (none, Redis killed for 10 s, PostgreSQL down for 10 s while the load goes on,
a replica SIGKILLed, the platform API answering 502/429 for 60 s) it prints what the load saw
(answers, 5xx, refused connections or timeouts, apologies, "saved" answers to messages
journaled while PostgreSQL was down), what the database holds afterwards (messages stored and done,
unfinished, duplicate rows, tickets filed against tickets expected, duplicate tickets), how
long it took for everything to finish, and the task cards' delivery: the workers are on
Telegram (a local fake Bot API), and every card must be accepted by it exactly once (or go
through the worker's web channel when rerouted), none dead; "unaccounted" counts messages the
platform accepted that no delivered item records (a second send, e.g. after our side gave up
waiting for an answer that came), "unconfirmed" items recorded as sent that the platform never
accepted. The shorter versions run in CI
as tests/faults/test_drills.py. Needs redis-server and the PostgreSQL server binaries; trains
a model into a temporary directory first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.bot.telegram.fake_api import FakeTelegram
from tests.faults.harness import Cluster, Deliveries, Outcome, tools_available
from tests.faults.test_drills import TOKEN, accepted, telegram_env


def train(root: Path) -> Path:
    import nlu
    from bot.nlu_runtime import ModelRepository

    models = root / "models"
    repo = ModelRepository(models)
    data = Path(nlu.__file__).parent / "data"
    model = nlu.train(nlu.load_training_data(data), version="bench-faults")
    repo.save(model)
    repo.activate(model.version)
    return models


def faults(
    cluster: Cluster, outage: float, fake: FakeTelegram, platform_outage: float
) -> dict[str, Callable[[], None]]:
    def none() -> None:
        return None

    def redis() -> None:
        cluster.redis.kill()
        time.sleep(outage)
        cluster.redis.start()

    def postgres() -> None:
        # the load goes on while it is down: messages arriving then are journaled in Redis
        cluster.pg.stop()
        cluster.restart_later(cluster.pg.start, outage)

    def replica() -> None:
        cluster.replicas[1].kill()

    def platform() -> None:
        # the load goes on meanwhile (drive() waits for a fault function to return)
        fake.outage = True
        threading.Timer(platform_outage, lambda: setattr(fake, "outage", False)).start()

    return {
        "none": none,
        "redis": redis,
        "postgres": postgres,
        "replica": replica,
        "platform": platform,
    }


async def drill(name: str, args: argparse.Namespace, models: Path) -> tuple[Outcome, Deliveries]:
    # kept when the drill fails (the replicas' logs are in it); removed when it succeeds
    tmp = tempfile.mkdtemp(prefix=f"minhu-drill-{name}-")
    fake = FakeTelegram(TOKEN)
    await fake.start()
    cluster = Cluster(Path(tmp), models, extra_env=telegram_env(fake))
    try:
        await cluster.start()
        cluster.bind_workers("telegram", 7_100_000_001)
        fault = faults(cluster, args.outage, fake, args.platform_outage)[name]
        counts = await cluster.drive(
            messages=args.messages, rate=args.rate, fault_at=args.fault_at, fault=fault
        )
        if name == "replica":
            cluster.restart_replica(1)
        outcome = await cluster.settle(counts, args.messages, within=180)
        deliveries = await cluster.deliveries("telegram", lambda: accepted(fake), within=300)
    except BaseException:
        print(f"drill {name} failed; logs kept in {tmp}", file=sys.stderr)
        raise
    finally:
        cluster.stop()
        await fake.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    return outcome, deliveries


def row(name: str, o: Outcome, d: Deliveries) -> str:
    c = o.counts
    return (
        f"| {name} | {c.sent} | {c.answered} | {c.http_5xx} | {c.unreachable} | {c.apologies} "
        f"| {c.journaled} | {o.stored} | {o.done} | {o.unfinished} | {o.duplicate_rows} "
        f"| {o.tickets}/{o.tickets_expected} | {o.duplicate_tickets} | {o.seconds_to_settle} "
        f"| {d.sent}+{d.rerouted} | {d.pending + d.dead + d.rerouted_unsent} "
        f"| {d.duplicates}/{d.missing} |"
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--fault-at", type=float, default=20.0)
    parser.add_argument("--outage", type=float, default=10.0, help="seconds Redis/PG stay down")
    parser.add_argument(
        "--platform-outage", type=float, default=60.0, help="seconds the Bot API answers 5xx/429"
    )
    parser.add_argument("--drills", default="none,redis,postgres,replica,platform")
    args = parser.parse_args()
    missing = tools_available()
    if missing:
        print(f"cannot run the drills: {missing}")
        return 2
    models_env = os.environ.get("MINHU_DRILL_MODELS")  # a trained models dir to reuse
    with tempfile.TemporaryDirectory(prefix="minhu-drill-models-") as tmp:
        models = Path(models_env) if models_env else await asyncio.to_thread(train, Path(tmp))
        print(
            f"{args.messages} messages at {args.rate:g}/s over two replicas, fault at "
            f"{args.fault_at:g} s (outage {args.outage:g} s, platform {args.platform_outage:g} s);"
            " every third is an urgent report\n"
        )
        print(
            "| drill | sent | answered | 5xx | refused | apologies | journaled | stored | done "
            "| unfinished "
            "| duplicate rows | tickets | duplicate tickets | settled after s "
            "| cards sent+rerouted | cards undelivered | cards unaccounted/unconfirmed |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        failed = False
        for name in args.drills.split(","):
            outcome, deliveries = await drill(name, args, models)
            print(row(name, outcome, deliveries), flush=True)
            failed |= bool(
                deliveries.pending
                or deliveries.dead
                or deliveries.rerouted_unsent
                or deliveries.duplicates
                or deliveries.missing
            )
            failed |= bool(
                outcome.stored != args.messages
                or outcome.unfinished
                or outcome.duplicate_rows
                or outcome.duplicate_tickets
                or outcome.tickets != outcome.tickets_expected
                or outcome.journal_left
                or outcome.journaled_unanswered
            )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
