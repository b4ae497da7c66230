"""Intents and examples in the console: the running service's intent desk
(``handlers.intent_service``), seeding the database from the packaged Rasa YAML, and the
per-intent F1 of the latest evaluation."""

from __future__ import annotations

import logging
from pathlib import Path

import nlu
from bot.admin.training import comparison_set, own_set
from bot.container import Container
from handlers.intent_service import IntentDesk, is_empty, seed

log = logging.getLogger("minhu.admin")

PACKAGED_DATA = Path(__file__).resolve().parent.parent.parent / "nlu" / "data"


async def seed_if_empty(c: Container) -> bool:
    """Load the packaged (or ``MINHU_NLU_DATA``) training data when the database has none."""
    path = c.settings.nlu_data or PACKAGED_DATA
    if not await is_empty(c.store):
        return False
    written = await seed(c.store, c.clock, nlu.load_training_data(path), source=path.name)
    if written is None:
        return False
    log.info("training data seeded into the database: %d intents, %d examples", *written)
    return True


async def last_evaluation(c: Container) -> tuple[dict[str, float], str]:
    """Per-intent F1 of the latest evaluation and, in words, the held-out examples it was
    computed on: the newest finished training job's comparison, else the serving model's own
    held-out part."""
    async with c.store.unit() as uow:
        for job in await uow.nlu_data.jobs(limit=20):
            result = job.result or {}
            per_intent = result.get("per_intent_f1")
            if job.status == "done" and isinstance(per_intent, dict):
                on = result.get("held_out_set") or comparison_set(
                    int(result.get("held_out") or 0), result.get("baseline_version")
                )
                return (
                    {str(k): float(v) for k, v in per_intent.items()},
                    f"训练任务 #{job.id}（版本 {job.version}）的{on}",
                )
    model = getattr(c.interpreter, "model", None)
    held = (getattr(model, "metadata", {}) or {}).get("held_out") or {}
    scores = {
        name: float(m.get("f1", 0.0))
        for name, m in dict(held.get("per_intent") or {}).items()
        if isinstance(m, dict)
    }
    if not scores:
        return {}, ""
    return scores, f"正在使用的模型 {c.interpreter.version} 的{own_set(int(held.get('n') or 0))}"


async def last_f1(c: Container) -> dict[str, float]:
    """Per-intent F1 of the latest evaluation (see :func:`last_evaluation`)."""
    return (await last_evaluation(c))[0]


def desk(c: Container) -> IntentDesk:
    async def f1() -> dict[str, float]:
        return await last_f1(c)

    return IntentDesk(c.store, c.clock, min_examples=c.settings.admin.min_examples, f1=f1)
