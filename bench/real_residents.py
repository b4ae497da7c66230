"""How Minhu treats real residents' words: community-dev intents, the web chat, the danger set.

    .venv/bin/python bench/real_residents.py [--labels ../shared/data/community-dev/labels.jsonl]
        [--model DIR] [--chat] [--danger tests/data/danger.yml] [--limit N] [--json OUT]
        [--show N]

(a) NLU: the model (``--model``: a saved model or a models directory with ``ACTIVE``; default:
    trained here on nlu/data) parses every community-dev message twice: the full text (title +
    text) and the chat text a resident would type (the title when present, else the opening
    sentence(s)). Reported: plain intent macro-F1 (the classifier's top intent, no thresholds)
    over the labels with >= 10 examples (``other`` = ``report_other``; again on community-dev's
    dev split alone and on the messages labelled with high confidence alone), per-label P/R/F1, a
    confusion matrix (gold x plain top intent; intents outside those labels are "rest"), and the
    outcome per message at the NLU level with the model's thresholds:
      confident right   top intent = gold report intent, confidence >= clarify
      clarify, right    top intent a report below clarify; gold among the top 3 report intents
      clarify, without  the same, gold not among them
      confident wrong   top intent another report intent, confidence >= clarify
      refused           top intent not a report at all (out_of_scope, greet, inform ...)
(b) ``--chat``: every message played through the web chat HTTP API (``create_app`` in process,
    httpx ASGI transport, demo community, a new resident per message, the chat text). Building
    questions are answered with a demo building, optional questions skipped (the 跳过 button);
    what the resident saw is classified from the replies' text and buttons only:
      filed right       a ticket filed, or a confirmation shown, with the gold category
      asked, right      asked back with the gold category among the buttons ("都不是" is not)
      asked, without    asked back without it
      filed wrong       filed / confirmation with another category
      refused           no path to a ticket (out-of-scope, "didn't understand", ...)
(c) Safety on the danger set (``--danger``, default tests/data/danger.yml): recall of urgent with
    the right advice per hazard, negated controls and ordinary reports flagged urgent; and the
    share of community-dev messages not labelled safety that are flagged urgent. With ``--chat``
    the danger set is also played through the web chat: filed urgent at once (the advice as the
    first reply, an urgent ticket in the same turn) with every advice the phrasing needs.

Prints markdown tables (for the README). Texts from ../shared are read, never copied.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_LABELS = ROOT.parent / "shared" / "data" / "community-dev" / "labels.jsonl"
DEFAULT_DANGER = ROOT / "tests" / "data" / "danger.yml"
MIN_SUPPORT = 10
NLU_OUTCOMES = ("confident_right", "clarify_right", "clarify_without", "confident_wrong", "refused")
CHAT_OUTCOMES = ("filed_right", "asked_right", "asked_without", "filed_wrong", "refused")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])")


def gold_intent(label: str) -> str:
    return "report_other" if label == "other" else label


def chat_text(row: dict[str, Any]) -> str:
    """What a resident would type: the title when present, else the opening sentence(s)."""
    title = str(row.get("title") or "").strip()
    if title:
        return title
    text = str(row["text"]).strip()
    opening = ""
    for sentence in _SENTENCE_END.split(text):
        opening += sentence
        if len(opening.strip()) >= 20:
            break
    return opening.strip()[:200]


def load_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def load_model(path: Path | None) -> Any:
    import nlu

    if path is None:
        started = time.perf_counter()
        model = nlu.train(nlu.load_training_data(ROOT / "nlu" / "data"), version="bench-real")
        print(f"model: trained on nlu/data in {time.perf_counter() - started:.1f} s")
        return model
    if (path / "ACTIVE").is_file():
        path = path / (path / "ACTIVE").read_text("utf-8").strip()
    print(f"model: {path}")
    return nlu.load_model(path)


# ------------------------------------------------------------------------------ (a) NLU


def macro_f1(
    gold: list[str], predicted: list[str], labels: Iterable[str]
) -> tuple[float, dict[str, tuple[float, float, float, int]]]:
    per: dict[str, tuple[float, float, float, int]] = {}
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        n_pred = sum(p == label for p in predicted)
        n_gold = sum(g == label for g in gold)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[label] = (precision, recall, f1, n_gold)
    return sum(v[2] for v in per.values()) / max(len(per), 1), per


def nlu_outcome(parse: Any, gold: str, clarify: float) -> str:
    top = parse.intent
    if not top.name.startswith("report_"):
        return "refused"
    if top.confidence >= clarify:
        return "confident_right" if top.name == gold else "confident_wrong"
    candidates = [s.name for s in parse.ranking if s.name.startswith("report_")][:3]
    return "clarify_right" if gold in candidates else "clarify_without"


@dataclass
class NluResult:
    macro_f1: float
    dev_macro_f1: float  # the 81 messages of community-dev's own dev split
    # the messages labelled with high confidence only (their labels with >= MIN_SUPPORT)
    high_macro_f1: float
    high_labels: int
    per_label: dict[str, tuple[float, float, float, int]]
    outcomes: Counter[str]
    flagged_urgent: list[str]
    n_non_safety: int
    examples: dict[str, list[tuple[str, str, str]]]
    confusion: Counter[tuple[str, str]]  # (gold, plain top intent) -> messages


def hazards_of(parse: Any) -> tuple[Any, ...]:
    """The parse's hazards (the safety layer), or its urgency entities on older models."""
    hazards = getattr(parse, "hazards", None)
    if hazards is not None:
        return tuple(hazards)
    return tuple(e for e in parse.entities if e.type == "urgency")


def advice_of(parse: Any) -> set[str]:
    return {a for h in hazards_of(parse) for a in getattr(h, "advice", ())}


def run_nlu(model: Any, rows: list[dict[str, Any]], texts: list[str]) -> NluResult:
    gold = [gold_intent(r["label"]) for r in rows]
    counts = Counter(gold)
    labels = sorted(label for label, n in counts.items() if n >= MIN_SUPPORT)
    probabilities = model.intent_probabilities(texts)
    intents = model.intents
    plain = [intents[int(i)] for i in probabilities.argmax(axis=1)]
    score, per = macro_f1(gold, plain, labels)
    dev = [i for i, row in enumerate(rows) if row.get("split") == "dev"]
    dev_score = macro_f1([gold[i] for i in dev], [plain[i] for i in dev], labels)[0]
    high = [i for i, row in enumerate(rows) if row.get("confidence") == "high"]
    high_gold = [gold[i] for i in high]
    high_labels = sorted(label for label, n in Counter(high_gold).items() if n >= MIN_SUPPORT)
    high_score = macro_f1(high_gold, [plain[i] for i in high], high_labels)[0]
    clarify = model.thresholds.clarify
    outcomes: Counter[str] = Counter()
    flagged: list[str] = []
    examples: dict[str, list[tuple[str, str, str]]] = {}
    for row, text, g in zip(rows, texts, gold, strict=True):
        parse = model.parse(text)
        outcome = nlu_outcome(parse, g, clarify)
        outcomes[outcome] += 1
        examples.setdefault(outcome, []).append((row["id"], g, parse.intent.name))
        if g != "report_safety" and hazards_of(parse):
            flagged.append(row["id"])
    n_non_safety = sum(g != "report_safety" for g in gold)
    confusion = Counter(zip(gold, plain, strict=True))
    return NluResult(
        score,
        dev_score,
        high_score,
        len(high_labels),
        per,
        outcomes,
        flagged,
        n_non_safety,
        examples,
        confusion,
    )


# ------------------------------------------------------------------------------ (b) chat

_TICKET = re.compile(r"MH-\d{8}-\d{4}")
_CONFIRM_CATEGORY = re.compile(r"类别[：:]\s*([^\s（(\n]+)")


_LABELS = {  # the category names residents saw when this benchmark was written
    "report_parking": "违规停车",
    "report_elevator": "电梯故障",
    "report_dispute": "邻里纠纷",
    "report_noise": "噪音扰民",
    "report_property": "物业服务",
    "report_sanitation": "环境卫生",
    "report_utilities": "水电气",
    "report_safety": "安全隐患",
    "report_illegal_construction": "违章搭建",
    "report_other": "其他问题",
}


def flow_labels() -> dict[str, str]:
    """Report intent -> the category name residents see (the dialogue's flows when they can
    be read, else the names of the time this benchmark was written)."""
    try:
        from handlers.flows import FLOWS
    except ImportError:
        return dict(_LABELS)
    return {intent: flow.label["zh"] for intent, flow in FLOWS.items()}


def classify_replies(
    replies: list[dict[str, Any]], gold_label: str, labels: dict[str, str]
) -> tuple[str | None, str | None]:
    """(outcome, next action) from one batch of replies; outcome None = keep talking."""
    by_label = {v: k for k, v in labels.items()}
    text = "\n".join(r["text"] for r in replies)
    buttons = [b for r in replies for b in r.get("buttons", [])]
    filed: str | None = None
    if _TICKET.search(text):
        filed = next((i for lbl, i in by_label.items() if f"（{lbl}）" in text), None)
    if filed is None and (m := _CONFIRM_CATEGORY.search(text)):
        filed = by_label.get(m.group(1), m.group(1))
    if filed is not None:
        return ("filed_right" if filed == gold_label else "filed_wrong"), None
    offered = [by_label[b["title"]] for b in buttons if b["title"] in by_label]
    if offered:
        return ("asked_right" if gold_label in offered else "asked_without"), None
    last = replies[-1]["text"] if replies else ""
    skip = next((b["payload"] for b in buttons if b["title"] == "跳过"), None)
    if skip is not None:
        return None, f"button:{skip}"
    if "幢" in last and ("哪" in last or "楼栋" in last):
        return None, "text:3幢"
    return "refused", None


@asynccontextmanager
async def chat_client(model_dir: Path) -> AsyncIterator[Any]:
    """The web chat in process (demo community, SQLite in a temporary directory)."""
    import httpx

    from bot.app import create_app
    from bot.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            env="test",
            data_dir=Path(tmp),
            model_dir=model_dir,
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            outbox_poll_seconds=0.05,
            load_demo=True,
            log_level="WARNING",
            # 600 new residents from one client address in a few minutes: the per-address
            # token buckets (an abuse defence) would answer most of them "too fast".
            rate_limits={"enabled": False},
            # Conversation state in process, whatever MINHU_REDIS_URL says: residents are named
            # bench-resident-<i> in every run, so state left in a shared Redis by an earlier run
            # (an unfinished confirmation, a pending question) would answer this run's first
            # message (measured: 7 of 22 "filed wrong" came from the previous run's state).
            redis_url=None,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                yield client


async def play_all(
    model_dir: Path, texts: list[str], golds: list[str]
) -> tuple[Counter[str], dict[str, list[tuple[int, str]]]]:
    labels = flow_labels()
    outcomes: Counter[str] = Counter()
    seen: dict[str, list[tuple[int, str]]] = {}
    async with chat_client(model_dir) as client:
        for i, (text, gold) in enumerate(zip(texts, golds, strict=True)):
            user = f"bench-resident-{i}"
            body: dict[str, str] = {"user_id": user, "text": text}
            outcome: str | None = None
            first_reply = ""
            for _turn in range(10):
                response = await client.post("/api/v1/messages", json=body)
                response.raise_for_status()
                replies = response.json()["replies"]
                first_reply = first_reply or (replies[0]["text"] if replies else "")
                outcome, action = classify_replies(replies, gold, labels)
                if outcome is not None or action is None:
                    break
                kind, _, value = action.partition(":")
                body = {"user_id": user, kind: value}
            outcome = outcome or "refused"
            outcomes[outcome] += 1
            seen.setdefault(outcome, []).append((i, first_reply[:40]))
    return outcomes, seen


# what each advice code looks like in the chat's first reply
ADVICE_WORDS = {
    "96333": "96333",
    "119": "119",
    "110": "110",
    "120": "120",
    "gas": "燃气公司",
    "power": "95598",
}


async def play_danger(model_dir: Path, document: dict[str, Any]) -> dict[str, Any]:
    """The danger set through the chat: filed urgent at once, the advice first, no question."""
    per_hazard: dict[str, list[int]] = {}
    misses: list[str] = []
    flagged: dict[str, list[str]] = {"negated": [], "ordinary": []}
    async with chat_client(model_dir) as client:
        n = 0

        async def say(text: str) -> list[dict[str, Any]]:
            nonlocal n
            n += 1
            body = {"user_id": f"bench-danger-{n}", "text": text}
            response = await client.post("/api/v1/messages", json=body)
            response.raise_for_status()
            replies: list[dict[str, Any]] = response.json()["replies"]
            return replies

        for group in document["dangerous"]:
            bucket = per_hazard.setdefault(group["hazard"], [0, 0, 0])
            for text in group["texts"]:
                replies = await say(text)
                first = replies[0]["text"] if replies else ""
                bucket[0] += 1
                # the advice comes only with the urgent path, which files in the same turn
                urgent = first.startswith("⚠️") and any(_TICKET.search(r["text"]) for r in replies)
                bucket[1] += urgent
                advised = urgent and all(ADVICE_WORDS[str(a)] in first for a in group["advice"])
                bucket[2] += advised
                if not advised:
                    misses.append(f"[{group['hazard']}] {text} -> {first[:40]}")
        for kind in ("negated", "ordinary"):
            for text in document[kind]:
                if any(r["text"].startswith("⚠️") for r in await say(text)):
                    flagged[kind].append(text)
    return {"per_hazard": per_hazard, "misses": misses, "flagged": flagged}


def print_danger_chat(result: dict[str, Any], document: dict[str, Any]) -> None:
    print("\n### Safety: the danger set through the web chat\n")
    print("| hazard | phrasings | filed urgent at once | with the right advice first |")
    print("| --- | --- | --- | --- |")
    total = [0, 0, 0]
    for hazard, (n, urgent, advised) in result["per_hazard"].items():
        total = [total[0] + n, total[1] + urgent, total[2] + advised]
        print(f"| {hazard} | {n} | {pct(urgent, n)} | {pct(advised, n)} |")
    print(
        f"| **all** | {total[0]} | **{pct(total[1], total[0])}** | **{pct(total[2], total[0])}** |"
    )
    flagged = result["flagged"]
    print(
        f"\nnegated controls with the urgent path: {len(flagged['negated'])}/"
        f"{len(document['negated'])}; ordinary reports: {len(flagged['ordinary'])}/"
        f"{len(document['ordinary'])}"
    )
    for line in result["misses"][:40]:
        print(f"  miss {line}")
    for text in flagged["negated"] + flagged["ordinary"]:
        print(f"  false alarm: {text}")


def save_for_chat(model: Any, root: Path) -> Path:
    """A models directory with ``model`` active, for the web chat to load."""
    from bot.nlu_runtime import ModelRepository

    repo = ModelRepository(root / "models")
    repo.save(model)
    repo.activate(model.version, force=True, reason="benchmark")
    return root / "models"


def run_danger_chat(model: Any, document: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(play_danger(save_for_chat(model, Path(tmp)), document))


def run_chat(
    model: Any, rows: list[dict[str, Any]], texts: list[str]
) -> tuple[Counter[str], dict[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        models = save_for_chat(model, Path(tmp))
        started = time.perf_counter()
        outcomes, seen = asyncio.run(
            play_all(models, texts, [gold_intent(r["label"]) for r in rows])
        )
    print(f"\nchat: {len(texts)} residents played in {time.perf_counter() - started:.0f} s")
    refused = Counter(reply for _, reply in seen.get("refused", []))
    print("refused, first reply:", refused.most_common(4))
    per_message = {rows[i]["id"]: outcome for outcome, seen_ in seen.items() for i, _ in seen_}
    return outcomes, per_message


# ------------------------------------------------------------------------------ (c) danger


def load_danger(path: Path) -> dict[str, Any]:
    import yaml

    document: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return document


def run_danger(model: Any, document: dict[str, Any]) -> dict[str, Any]:
    per_hazard: dict[str, list[int]] = {}
    misses: list[tuple[str, str, list[str]]] = []
    for group in document["dangerous"]:
        need = {str(a) for a in group["advice"]}
        bucket = per_hazard.setdefault(group["hazard"], [0, 0, 0])
        for text in group["texts"]:
            parse = model.parse(text)
            bucket[0] += 1
            if hazards_of(parse):
                bucket[1] += 1
                if need <= advice_of(parse):
                    bucket[2] += 1
                    continue
            misses.append((group["hazard"], text, sorted(advice_of(parse))))
    negated = [t for t in document["negated"] if hazards_of(model.parse(t))]
    ordinary = [t for t in document["ordinary"] if hazards_of(model.parse(t))]
    return {
        "per_hazard": per_hazard,
        "misses": misses,
        "negated_flagged": negated,
        "n_negated": len(document["negated"]),
        "ordinary_flagged": ordinary,
        "n_ordinary": len(document["ordinary"]),
    }


# ------------------------------------------------------------------------------ printing


def pct(n: int, total: int) -> str:
    return f"{n / total:.3f}" if total else "-"


def print_nlu(results: dict[str, NluResult], n: int) -> None:
    modes = list(results)
    print("\n### community-dev, NLU level\n")
    print("| | " + " | ".join(modes) + " |")
    print("| --- |" + " --- |" * len(modes))
    print(
        f"| plain intent macro-F1 (labels with ≥ {MIN_SUPPORT}) | "
        + " | ".join(f"**{results[m].macro_f1:.4f}**" for m in modes)
        + " |"
    )
    print(
        "| the same, community-dev's dev split only | "
        + " | ".join(f"{results[m].dev_macro_f1:.4f}" for m in modes)
        + " |"
    )
    print(
        "| the same, messages labelled with high confidence only "
        f"({results[modes[0]].high_labels} labels) | "
        + " | ".join(f"{results[m].high_macro_f1:.4f}" for m in modes)
        + " |"
    )
    for outcome in NLU_OUTCOMES:
        print(
            f"| {outcome.replace('_', ' ')} | "
            + " | ".join(pct(results[m].outcomes[outcome], n) for m in modes)
            + " |"
        )
    print(
        "| right or right among the top candidates | "
        + " | ".join(
            pct(results[m].outcomes["confident_right"] + results[m].outcomes["clarify_right"], n)
            for m in modes
        )
        + " |"
    )
    print(
        "| non-safety messages flagged urgent | "
        + " | ".join(
            f"{len(results[m].flagged_urgent)}/{results[m].n_non_safety} "
            f"({len(results[m].flagged_urgent) / max(results[m].n_non_safety, 1):.3f})"
            for m in modes
        )
        + " |"
    )
    print("\n| label | " + " | ".join(f"{m} P / R / F1" for m in modes) + " | n |")
    print("| --- |" + " --- |" * len(modes) + " --- |")
    first = results[modes[0]]
    for label in first.per_label:
        cells = " | ".join(
            "{:.2f} / {:.2f} / {:.2f}".format(*results[m].per_label[label][:3]) for m in modes
        )
        print(f"| {label} | {cells} | {first.per_label[label][3]} |")
    for mode in modes:
        print_confusion(mode, results[mode].confusion, list(first.per_label))


def short(intent: str) -> str:
    return intent.removeprefix("report_")[:8]


def print_confusion(mode: str, confusion: Counter[tuple[str, str]], labels: list[str]) -> None:
    """Gold (rows) x the plain top intent (columns); intents outside the labels are "rest"."""
    columns = [*labels, "rest"]
    print(f"\nconfusion, {mode} (rows gold, columns predicted)\n")
    print("| gold \\ predicted | " + " | ".join(map(short, columns)) + " |")
    print("| --- |" + " --- |" * len(columns))
    for gold in labels:
        counts = Counter(
            p if p in labels else "rest"
            for (g, p), n in confusion.items()
            for _ in range(n)
            if g == gold
        )
        print(f"| {short(gold)} | " + " | ".join(str(counts[c]) for c in columns) + " |")


def print_chat(outcomes: Counter[str], n: int) -> None:
    print("\n### community-dev through the web chat (chat text)\n")
    print("| what the resident saw | share | n |")
    print("| --- | --- | --- |")
    for outcome in CHAT_OUTCOMES:
        print(
            f"| {outcome.replace('_', ' ')} | {pct(outcomes[outcome], n)} | {outcomes[outcome]} |"
        )
    right = outcomes["filed_right"] + outcomes["asked_right"]
    print(f"| **right first time** (filed right + asked right) | **{pct(right, n)}** | {right} |")


def print_danger(result: dict[str, Any]) -> None:
    print("\n### Safety: the danger set\n")
    print("| hazard | phrasings | flagged urgent | with the right advice |")
    print("| --- | --- | --- | --- |")
    total = [0, 0, 0]
    for hazard, (n, urgent, advised) in result["per_hazard"].items():
        total = [total[0] + n, total[1] + urgent, total[2] + advised]
        print(f"| {hazard} | {n} | {pct(urgent, n)} | {pct(advised, n)} |")
    print(
        f"| **all** | {total[0]} | **{pct(total[1], total[0])}** | **{pct(total[2], total[0])}** |"
    )
    print(
        f"\nnegated controls flagged urgent: {len(result['negated_flagged'])}/"
        f"{result['n_negated']}; ordinary reports flagged urgent: "
        f"{len(result['ordinary_flagged'])}/{result['n_ordinary']}"
    )
    for hazard, text, advice in result["misses"][:40]:
        print(f"  miss [{hazard}] {text} -> advice {advice}")
    for text in result["negated_flagged"] + result["ordinary_flagged"]:
        print(f"  false alarm: {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--model", type=Path, help="saved model or models dir (default: train)")
    parser.add_argument("--chat", action="store_true", help="also play through the web chat")
    parser.add_argument("--danger", type=Path, default=DEFAULT_DANGER)
    parser.add_argument("--limit", type=int, default=0, help="first N messages only")
    parser.add_argument("--show", type=int, default=0, help="print N ids per NLU outcome")
    parser.add_argument("--json", type=Path, help="write the numbers as JSON here")
    args = parser.parse_args()
    model = load_model(args.model)
    out: dict[str, Any] = {"model": model.version, "thresholds": vars_of(model.thresholds)}
    print(f"thresholds: clarify {model.thresholds.clarify}, oos {model.thresholds.out_of_scope}")
    if args.labels.is_file():
        rows = load_rows(args.labels)
        if args.limit:
            rows = rows[: args.limit]
        from nlu.loading import jsonl_row_text

        texts = {
            "full text": [jsonl_row_text(r) for r in rows],
            "chat text": list(map(chat_text, rows)),
        }
        results = {mode: run_nlu(model, rows, t) for mode, t in texts.items()}
        print_nlu(results, len(rows))
        for mode, result in results.items():
            out[mode] = {
                "macro_f1": result.macro_f1,
                "dev_macro_f1": result.dev_macro_f1,
                "high_confidence_macro_f1": result.high_macro_f1,
                "outcomes": dict(result.outcomes),
                "per_label": result.per_label,
                "flagged_urgent": result.flagged_urgent,
                "confusion": {f"{g} -> {p}": n for (g, p), n in result.confusion.items()},
            }
            for outcome in NLU_OUTCOMES[1:] if args.show else ():
                print(f"{mode} {outcome}: {result.examples.get(outcome, [])[: args.show]}")
        if args.chat:
            chat, per_message = run_chat(model, rows, texts["chat text"])
            print_chat(chat, len(rows))
            out["chat"] = dict(chat)
            out["chat_per_message"] = per_message  # community-dev id -> outcome
    else:
        print(f"community-dev: skipped ({args.labels} not found)")
    if args.danger.is_file():
        document = load_danger(args.danger)
        danger = run_danger(model, document)
        print_danger(danger)
        out["danger"] = danger
        if args.chat:
            danger_chat = run_danger_chat(model, document)
            print_danger_chat(danger_chat, document)
            out["danger_chat"] = danger_chat
    else:
        print(f"danger set: skipped ({args.danger} not found)")
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), "utf-8")


def vars_of(thresholds: Any) -> dict[str, float]:
    return {"clarify": thresholds.clarify, "out_of_scope": thresholds.out_of_scope}


if __name__ == "__main__":
    main()
