"""The NLU training data in the database: intents, examples, synonyms, lookup tables, regexes.

Kept in the database so edits persist and every process sees them; seeded once from the
packaged Rasa YAML (``nlu/data``), exported to ``nlu.TrainingData`` for training and to Rasa
YAML for download, imported from Rasa YAML. Intents the dialogue relies on (a report flow or a
conversational answer) can gain and lose examples but cannot be renamed or deleted.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

import nlu
from bot.admin.errors import BadInput, Conflict, Missing
from bot.container import Container
from handlers import audit
from handlers.accounts import Principal
from handlers.flows import CONVERSATION_INTENTS, FALLBACK_FLOW, FLOWS
from handlers.guards import require
from handlers.i18n import t
from handlers.permissions import Action
from nlu.rasa import parse_example, render_example
from storage.admin_types import TableKind
from storage.errors import DuplicateError
from storage.interfaces import UnitOfWork
from storage.models import NluExample, NluIntent, NluLookup, NluRegex, NluSynonym

log = logging.getLogger("minhu.admin")

PACKAGED_DATA = Path(__file__).resolve().parent.parent.parent / "nlu" / "data"
INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,59}$")
ENTITY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TABLE_NAME = re.compile(r"^[\w\-.]{1,60}$")
RESERVED = frozenset({"tables", "import", "export"})  # console paths under /admin/intents/
MAX_EXAMPLE = 500
MAX_TABLE_ITEMS = 5000
TABLE_LABELS: dict[str, str] = {"synonym": "同义词", "lookup": "词表", "regex": "正则"}

CONVERSATION_ANSWERS = {
    "greet": "回复欢迎语和功能菜单",
    "help": "回复使用说明",
    "query_status": "列出居民的工单和处理进度",
    "cancel": "取消正在填写的报事（或撤销工单）",
    "affirm": "确认当前问题（如“确认提交”）",
    "deny": "否认当前问题，请居民修改",
    "rate": "为已办结的工单打分",
    "human_agent": "请网格员回电（先问手机号）",
    "thanks": "回复不客气",
    "inform": "补充信息（楼栋、电话、车牌等），缺什么再问什么",
    "out_of_scope": "说明服务范围，并给出菜单",
}


# --- seeding and export -------------------------------------------------------------------------


def _entities_json(example: nlu.Example) -> list[dict[str, Any]]:
    out = []
    for ann in example.entities:
        item: dict[str, Any] = {"start": ann.start, "end": ann.end, "entity": ann.entity}
        for key in ("value", "role", "group"):
            value = getattr(ann, key)
            if value is not None:
                item[key] = value
        out.append(item)
    return out


def _example_of(text: str, intent: str, entities: list[dict[str, Any]]) -> nlu.Example:
    return nlu.Example(
        text,
        intent,
        tuple(
            nlu.AnnotatedEntity(
                int(e["start"]),
                int(e["end"]),
                str(e["entity"]),
                e.get("value"),
                e.get("role"),
                e.get("group"),
            )
            for e in entities
        ),
    )


async def _write(
    uow: UnitOfWork, data: nlu.TrainingData, *, source: str, by: str, now: Any
) -> tuple[int, int]:
    """Add the data's intents, examples and tables (merging into what exists).

    Returns (new intents, new examples); examples already present are skipped.
    """
    intents = {i.name: i for i in await uow.nlu_data.intents()}
    have = {(row.intent, row.text) for row in await uow.nlu_data.all_examples()}
    new_intents = 0
    rows: list[dict[str, Any]] = []
    for example in data.examples:
        _check_example(example.text)
        intent = intents.get(example.intent)
        if intent is None:
            if not INTENT_NAME.match(example.intent) or example.intent in RESERVED:
                raise BadInput(
                    f"意图名“{example.intent}”不合规：需小写字母开头，只含小写字母、数字和下划线"
                )
            intent = await uow.nlu_data.add_intent(
                NluIntent(name=example.intent, created_at=now, updated_at=now)
            )
            intents[intent.name] = intent
            new_intents += 1
        if (intent.name, example.text) in have:
            continue
        have.add((intent.name, example.text))
        rows.append(
            {
                "intent_id": intent.id or 0,
                "text": example.text,
                "entities": _entities_json(example),
                "source": source,
                "created_by": by,
                "created_at": now,
            }
        )
    new_examples = await uow.nlu_data.insert_examples(rows)
    for kind, table in (
        ("synonym", data.synonyms),
        ("lookup", data.lookups),
        ("regex", data.regexes),
    ):
        for name, items in table.items():
            await _merge_table(uow, kind, name, items)  # type: ignore[arg-type]
    return new_intents, new_examples


async def _merge_table(uow: UnitOfWork, kind: TableKind, name: str, items: list[str]) -> None:
    clean = _table_items(kind, name, items)
    row = await uow.nlu_data.table_row_by_name(kind, name) or _new_table_row(kind, name)
    merged = list(row.items or [])
    for item in clean:
        if item not in merged:
            merged.append(item)
    row.items = merged
    await uow.nlu_data.save_table_row(row)


def _new_table_row(kind: str, name: str) -> NluSynonym | NluLookup | NluRegex:
    if kind == "synonym":
        return NluSynonym(name=name, items=[])
    if kind == "lookup":
        return NluLookup(name=name, items=[])
    return NluRegex(name=name, items=[])


async def seed_if_empty(c: Container) -> bool:
    """Load the packaged (or ``MINHU_NLU_DATA``) training data when the database has none."""
    path = c.settings.nlu_data or PACKAGED_DATA
    async with c.store.unit() as uow:
        if not await uow.nlu_data.is_empty():
            return False
    data = nlu.load_training_data(path)
    try:
        async with c.store.unit() as uow:
            if not await uow.nlu_data.is_empty():
                return False
            intents, examples = await _write(
                uow, data, source="seed", by="system", now=c.clock.now()
            )
            await audit.record(
                uow,
                None,
                "nlu.seed",
                now=c.clock.now(),
                summary=f"从 {path.name} 载入训练数据：{intents} 个意图，{examples} 条例句",
                username="system",
            )
    except DuplicateError:  # another process seeded at the same moment
        return False
    log.info("training data seeded into the database: %d intents, %d examples", intents, examples)
    return True


async def training_data(uow: UnitOfWork) -> nlu.TrainingData:
    """Everything in the database as ``nlu.TrainingData`` (what training uses)."""
    data = nlu.TrainingData()
    for row in await uow.nlu_data.all_examples():
        data.examples.append(_example_of(row.text, row.intent, row.entities))
    for kind, target in (
        ("synonym", data.synonyms),
        ("lookup", data.lookups),
        ("regex", data.regexes),
    ):
        for table_row in await uow.nlu_data.table_rows(kind):  # type: ignore[arg-type]
            target[table_row.name] = list(table_row.items or [])
    return data


async def export_yaml(c: Container, p: Principal) -> str:
    require(p.subject, Action.TEACH)
    async with c.store.unit() as uow:
        return nlu.dump_rasa_yaml(await training_data(uow))


async def import_yaml(
    c: Container, p: Principal, text: str, *, replace: bool, ip: str = ""
) -> dict[str, int]:
    """Import Rasa NLU YAML: merge into the data, or replace it all. All or nothing."""
    require(p.subject, Action.IMPORT_TRAINING)
    try:
        data = nlu.parse_rasa_yaml(text)
    except nlu.TrainingDataError as e:
        raise BadInput(f"不是有效的 Rasa NLU YAML：{e}") from e
    if not data.examples and not (data.synonyms or data.lookups or data.regexes):
        raise BadInput("文件里没有意图例句或词表")
    now = c.clock.now()
    async with c.store.unit() as uow:
        if replace:
            missing = [name for name in (*FLOWS, *CONVERSATION_INTENTS) if name not in data.intents]
            if missing:
                raise BadInput(
                    "替换导入会删除对话流程依赖的意图：" + "、".join(sorted(missing)),
                )
            await uow.nlu_data.clear()
        try:
            intents, examples = await _write(uow, data, source="import", by=p.username, now=now)
        except DuplicateError as e:
            raise Conflict(f"导入失败，未做任何改动：{e}") from e
        await audit.record(
            uow,
            p,
            "nlu.import",
            now=now,
            summary=f"{'替换' if replace else '合并'}导入：新意图 {intents}，新例句 {examples}",
            after={"intents": intents, "examples": examples, "replace": replace},
            ip=ip,
        )
    return {"intents": intents, "examples": examples}


# --- what an intent does in the dialogue --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlowInfo:
    kind: Literal["report", "conversation", "none"]
    summary: str
    category: str = ""
    label: str = ""
    priority: str = ""
    questions: tuple[tuple[str, str, bool], ...] = ()  # (slot, question, required)
    urgent_advice: str = ""


def flow_info(intent: str) -> FlowInfo:
    """Which dialogue flow an intent starts and the questions it asks."""
    flow = FLOWS.get(intent)
    if flow is not None:
        questions = tuple(
            (slot.name, t(slot.prompt_key, "zh"), slot.required) for slot in flow.slots if slot.ask
        )
        return FlowInfo(
            kind="report",
            summary=f"报事流程：生成“{flow.label['zh']}”工单",
            category=flow.category,
            label=flow.label["zh"],
            priority=flow.priority,
            questions=questions,
            urgent_advice=flow.urgent_advice.get("zh", ""),
        )
    if intent in CONVERSATION_INTENTS:
        return FlowInfo(
            kind="conversation", summary="对话回复：" + CONVERSATION_ANSWERS.get(intent, "")
        )
    other = FLOWS[FALLBACK_FLOW]
    return FlowInfo(
        kind="none",
        summary=f"暂无专属流程：按“{other.label['zh']}”受理（工单记录识别到的意图 {intent}）",
        category=other.category,
        label=other.label["zh"],
        priority=other.priority,
        questions=tuple(
            (slot.name, t(slot.prompt_key, "zh"), slot.required) for slot in other.slots if slot.ask
        ),
    )


def built_in(intent: str) -> bool:
    return intent in FLOWS or intent in CONVERSATION_INTENTS


# --- listing ------------------------------------------------------------------------------------


@dataclass(slots=True)
class IntentSummary:
    id: int
    name: str
    description: str
    examples: int
    f1: float | None
    flow: FlowInfo
    warnings: list[str]


async def last_f1(c: Container) -> dict[str, float]:
    """Per-intent F1 of the latest evaluation: the newest finished training job, else the
    active model's held-out evaluation."""
    async with c.store.unit() as uow:
        for job in await uow.nlu_data.jobs(limit=20):
            per_intent = (job.result or {}).get("per_intent_f1")
            if job.status == "done" and isinstance(per_intent, dict):
                return {str(k): float(v) for k, v in per_intent.items()}
    model = getattr(c.interpreter, "model", None)
    held = (getattr(model, "metadata", {}) or {}).get("held_out") or {}
    return {
        name: float(m.get("f1", 0.0))
        for name, m in dict(held.get("per_intent") or {}).items()
        if isinstance(m, dict)
    }


async def list_intents(c: Container, p: Principal) -> tuple[list[IntentSummary], list[str]]:
    """Intents with example counts, last F1 and warnings; plus warnings about the whole data."""
    require(p.subject, Action.TEACH)
    minimum = c.settings.admin.min_examples
    f1 = await last_f1(c)
    async with c.store.unit() as uow:
        intents = await uow.nlu_data.intents()
        counts = await uow.nlu_data.example_counts()
        shared = await uow.nlu_data.shared_texts()
    per_intent: dict[str, list[str]] = {}
    for text, names in shared.items():
        for name in names:
            per_intent.setdefault(name, []).append(text)
    out = []
    for intent in intents:
        n = counts.get(intent.id or 0, 0)
        warnings = []
        if n < minimum:
            warnings.append(f"例句只有 {n} 条，少于 {minimum} 条，识别可能不稳定")
        for text in per_intent.get(intent.name, [])[:5]:
            others = [x for x in shared[text] if x != intent.name]
            warnings.append(f"例句“{text}”同时出现在 {'、'.join(others)}")
        out.append(
            IntentSummary(
                intent.id or 0,
                intent.name,
                intent.description,
                n,
                f1.get(intent.name),
                flow_info(intent.name),
                warnings,
            )
        )
    overall = [f"“{text}”出现在 {'、'.join(names)}" for text, names in shared.items()]
    return out, overall


async def intent_detail(c: Container, p: Principal, name: str) -> dict[str, Any]:
    require(p.subject, Action.TEACH)
    async with c.store.unit() as uow:
        intent = await uow.nlu_data.intent_by_name(name)
        if intent is None:
            raise Missing(f"没有意图 {name}")
        rows = await uow.nlu_data.examples(intent.id)
        shared = await uow.nlu_data.shared_texts()
    f1 = (await last_f1(c)).get(name)
    examples = [
        {
            "id": row.id,
            "text": row.text,
            "markup": render_example(_example_of(row.text, name, list(row.entities or []))),
            "entities": list(row.entities or []),
            "source": row.source,
            "also_in": [x for x in shared.get(row.text, []) if x != name],
        }
        for row in rows
    ]
    return {
        "id": intent.id,
        "name": intent.name,
        "description": intent.description,
        "built_in": built_in(intent.name),
        "f1": f1,
        "flow": flow_info(intent.name),
        "examples": examples,
        "too_few": len(examples) < c.settings.admin.min_examples,
        "min_examples": c.settings.admin.min_examples,
    }


# --- edits --------------------------------------------------------------------------------------


class IntentIn(BaseModel):
    name: str = Field(min_length=2, max_length=60)
    description: str = Field(default="", max_length=200)


class IntentPatch(BaseModel):
    name: str | None = Field(default=None, min_length=2, max_length=60)
    description: str | None = Field(default=None, max_length=200)


class ExamplesIn(BaseModel):
    examples: list[str] = Field(
        min_length=1,
        max_length=500,
        description='one example per item; entities as Rasa markup: "[3幢](building)电梯坏了"',
    )


class ExampleIn(BaseModel):
    markup: str = Field(min_length=1, max_length=1000)
    intent: str | None = Field(default=None, description="move the example to this intent")


class TableIn(BaseModel):
    items: list[str] = Field(min_length=1, max_length=MAX_TABLE_ITEMS)


def _check_example(text: str) -> None:
    if not text.strip():
        raise BadInput("例句不能为空")
    if len(text) > MAX_EXAMPLE:
        raise BadInput(f"例句不能超过 {MAX_EXAMPLE} 个字")


def parse_markup(markup: str, intent: str) -> nlu.Example:
    """One example from Rasa markup, with a readable error for bad annotations."""
    try:
        example = parse_example(markup.strip(), intent)
    except nlu.TrainingDataError as e:
        raise BadInput(f"实体标注有误：{e}") from e
    _check_example(example.text)
    for ann in example.entities:
        if not ENTITY_NAME.match(ann.entity):
            raise BadInput(f"实体名“{ann.entity}”不合规：用小写英文，如 building、plate")
    return example


def _table_items(kind: str, name: str, items: list[str]) -> list[str]:
    if not TABLE_NAME.match(name):
        raise BadInput(f"{TABLE_LABELS.get(kind, kind)}名称“{name}”不合规")
    clean: list[str] = []
    for item in items:
        value = item.strip()
        if not value or value in clean:
            continue
        if len(value) > 300:
            raise BadInput(f"“{value[:20]}…”太长（最多300字）")
        if kind == "regex":
            try:
                re.compile(value)
            except re.error as e:
                raise BadInput(f"正则“{value}”无效：{e}") from e
        clean.append(value)
    if not clean:
        raise BadInput("至少需要一项")
    return clean


async def create_intent(c: Container, p: Principal, body: IntentIn, ip: str = "") -> int:
    require(p.subject, Action.TEACH)
    name = body.name.strip()
    if not INTENT_NAME.match(name) or name in RESERVED:
        raise BadInput("意图名需以小写字母开头，只含小写字母、数字和下划线，如 report_pets")
    now = c.clock.now()
    async with c.store.unit() as uow:
        if await uow.nlu_data.intent_by_name(name) is not None:
            raise Conflict(f"意图 {name} 已存在")
        try:
            intent = await uow.nlu_data.add_intent(
                NluIntent(name=name, description=body.description, created_at=now, updated_at=now)
            )
        except DuplicateError as e:
            raise Conflict(f"意图 {name} 已存在") from e
        await audit.record(
            uow, p, "nlu.intent.create", now=now, target_type="intent", target_id=name,
            summary=body.description, ip=ip,
        )  # fmt: skip
        return intent.id or 0


async def update_intent(
    c: Container, p: Principal, name: str, body: IntentPatch, ip: str = ""
) -> str:
    require(p.subject, Action.TEACH)
    now = c.clock.now()
    async with c.store.unit() as uow:
        intent = await uow.nlu_data.intent_by_name(name)
        if intent is None:
            raise Missing(f"没有意图 {name}")
        before = {"name": intent.name, "description": intent.description}
        if body.name is not None and body.name.strip() != intent.name:
            new = body.name.strip()
            if built_in(intent.name):
                raise Conflict(f"{intent.name} 由对话流程使用，不能改名")
            if not INTENT_NAME.match(new) or new in RESERVED:
                raise BadInput("意图名需以小写字母开头，只含小写字母、数字和下划线")
            if await uow.nlu_data.intent_by_name(new) is not None:
                raise Conflict(f"意图 {new} 已存在")
            intent.name = new
        if body.description is not None:
            intent.description = body.description
        intent.updated_at = now
        saved_name = intent.name
        try:
            await uow.nlu_data.save_intent(intent)
        except DuplicateError as e:
            raise Conflict(f"意图 {saved_name} 已存在") from e
        await audit.record(
            uow,
            p,
            "nlu.intent.update",
            now=now,
            target_type="intent",
            target_id=intent.name,
            summary=f"{before['name']} → {intent.name}"
            if before["name"] != intent.name
            else "说明",
            before=before,
            after={"name": intent.name, "description": intent.description},
            ip=ip,
        )
        return intent.name


async def delete_intent(c: Container, p: Principal, name: str, ip: str = "") -> int:
    require(p.subject, Action.TEACH)
    if built_in(name):
        raise Conflict(f"{name} 由对话流程使用，不能删除（可以删改它的例句）")
    now = c.clock.now()
    async with c.store.unit() as uow:
        intent = await uow.nlu_data.intent_by_name(name)
        if intent is None:
            raise Missing(f"没有意图 {name}")
        removed = await uow.nlu_data.delete_intent(intent.id or 0)
        await audit.record(
            uow, p, "nlu.intent.delete", now=now, target_type="intent", target_id=name,
            summary=f"删除意图及 {removed} 条例句", before={"examples": removed}, ip=ip,
        )  # fmt: skip
        return removed


@dataclass(slots=True)
class AddResult:
    added: list[int]
    skipped: list[str]  # already under this intent
    warnings: list[str]  # also under another intent


async def add_examples(
    c: Container,
    p: Principal,
    name: str,
    lines: list[str],
    *,
    source: str = "admin",
    ip: str = "",
    uow: UnitOfWork | None = None,
    plain: bool = False,
) -> AddResult:
    """Add examples to an intent; every line is checked before any is written.

    Lines are Rasa markup (``[3幢](building)``) unless ``plain`` (a resident's own words,
    where brackets are just brackets).
    """
    require(p.subject, Action.TEACH)
    examples: list[nlu.Example] = []
    for line in lines:
        if not line.strip():
            continue
        if plain:
            _check_example(line.strip())
            examples.append(nlu.Example(line.strip(), name))
        else:
            examples.append(parse_markup(line, name))
    if not examples:
        raise BadInput("请至少输入一条例句")
    if uow is not None:
        return await _add(uow, c, p, name, examples, source, ip)
    async with c.store.unit() as own:
        return await _add(own, c, p, name, examples, source, ip)


async def _add(
    uow: UnitOfWork,
    c: Container,
    p: Principal,
    name: str,
    examples: list[nlu.Example],
    source: str,
    ip: str,
) -> AddResult:
    now = c.clock.now()
    intent = await uow.nlu_data.intent_by_name(name)
    if intent is None:
        raise Missing(f"没有意图 {name}")
    have = {e.text for e in await uow.nlu_data.examples(intent.id)}
    result = AddResult([], [], [])
    for example in examples:
        if example.text in have:
            result.skipped.append(example.text)
            continue
        have.add(example.text)
        others = [x for x in await uow.nlu_data.intents_with_text(example.text) if x != name]
        if others:
            result.warnings.append(f"“{example.text}”也是 {'、'.join(others)} 的例句")
        row = await uow.nlu_data.add_example(
            NluExample(
                intent_id=intent.id or 0,
                text=example.text,
                entities=_entities_json(example),
                source=source,
                created_by=p.username,
                created_at=now,
            )
        )
        result.added.append(row.id or 0)
    if result.added:
        intent.updated_at = now
        await uow.nlu_data.save_intent(intent)
        await audit.record(
            uow,
            p,
            "nlu.example.add",
            now=now,
            target_type="intent",
            target_id=name,
            summary=f"新增 {len(result.added)} 条例句（来源：{source}）",
            after={"texts": [e.text for e in examples][:20]},
            ip=ip,
        )
    return result


async def update_example(
    c: Container, p: Principal, example_id: int, body: ExampleIn, ip: str = ""
) -> list[str]:
    """Edit an example's text/annotations or move it; returns warnings."""
    require(p.subject, Action.TEACH)
    now = c.clock.now()
    async with c.store.unit() as uow:
        row = await uow.nlu_data.example(example_id)
        if row is None:
            raise Missing("没有这条例句")
        current = await uow.nlu_data.intent(row.intent_id)
        target = current
        if body.intent is not None and current is not None and body.intent != current.name:
            target = await uow.nlu_data.intent_by_name(body.intent)
            if target is None:
                raise Missing(f"没有意图 {body.intent}")
        if target is None:  # pragma: no cover - FK guarantees it
            raise Missing("例句的意图不存在")
        # plain values first: after a failed flush the ORM objects must not be touched
        target_name, target_id = target.name, target.id or 0
        example = parse_markup(body.markup, target_name)
        before = {"text": row.text, "intent": current.name if current else ""}
        row.text, row.entities, row.intent_id = example.text, _entities_json(example), target_id
        try:
            await uow.nlu_data.save_example(row)
        except DuplicateError as e:
            raise Conflict(f"{target_name} 已有这条例句") from e
        others = [x for x in await uow.nlu_data.intents_with_text(example.text) if x != target_name]
        await audit.record(
            uow,
            p,
            "nlu.example.update",
            now=now,
            target_type="example",
            target_id=example_id,
            summary=f"{before['text']} → {example.text}",
            before=before,
            after={"text": example.text, "intent": target_name},
            ip=ip,
        )
    return [f"“{example.text}”也是 {'、'.join(others)} 的例句"] if others else []


async def delete_example(c: Container, p: Principal, example_id: int, ip: str = "") -> str:
    """Delete an example; returns its intent's name."""
    require(p.subject, Action.TEACH)
    async with c.store.unit() as uow:
        row = await uow.nlu_data.example(example_id)
        if row is None:
            raise Missing("没有这条例句")
        intent = await uow.nlu_data.intent(row.intent_id)
        await uow.nlu_data.delete_example(example_id)
        await audit.record(
            uow, p, "nlu.example.delete", now=c.clock.now(), target_type="example",
            target_id=example_id, summary=row.text, before={"text": row.text}, ip=ip,
        )  # fmt: skip
        return intent.name if intent else ""


async def tables(c: Container, p: Principal) -> dict[str, list[dict[str, Any]]]:
    require(p.subject, Action.TEACH)
    async with c.store.unit() as uow:
        return {
            kind: [
                {"id": r.id, "name": r.name, "items": list(r.items or [])}
                for r in await uow.nlu_data.table_rows(kind)  # type: ignore[arg-type]
            ]
            for kind in ("synonym", "lookup", "regex")
        }


async def save_table(
    c: Container, p: Principal, kind: str, name: str, items: list[str], ip: str = ""
) -> None:
    """Create or replace a synonym (canonical value → variants), lookup table or regex."""
    require(p.subject, Action.TEACH)
    if kind not in TABLE_LABELS:
        raise Missing("未知类型")
    clean = _table_items(kind, name.strip(), items)
    async with c.store.unit() as uow:
        row = await uow.nlu_data.table_row_by_name(kind, name.strip())  # type: ignore[arg-type]
        before = {"items": list(row.items or [])} if row else {}
        if row is None:
            row = _new_table_row(kind, name.strip())
        row.items = clean
        await uow.nlu_data.save_table_row(row)
        await audit.record(
            uow, p, f"nlu.{kind}.save", now=c.clock.now(), target_type=kind,
            target_id=name, summary=f"{len(clean)} 项", before=before, after={"items": clean[:50]},
            ip=ip,
        )  # fmt: skip


async def delete_table(c: Container, p: Principal, kind: str, name: str, ip: str = "") -> None:
    require(p.subject, Action.TEACH)
    if kind not in TABLE_LABELS:
        raise Missing("未知类型")
    async with c.store.unit() as uow:
        row = await uow.nlu_data.table_row_by_name(kind, name)  # type: ignore[arg-type]
        if row is None or row.id is None:
            raise Missing(f"没有{TABLE_LABELS[kind]} {name}")
        await uow.nlu_data.delete_table_row(kind, row.id)  # type: ignore[arg-type]
        await audit.record(
            uow, p, f"nlu.{kind}.delete", now=c.clock.now(), target_type=kind, target_id=name,
            before={"items": list(row.items or [])[:50]}, ip=ip,
        )  # fmt: skip
