"""The NLU training data in the database (I/O): intents, examples, synonyms, lookup tables,
regexes — seeded once, edited by staff, exported for training and as Rasa YAML, imported.

Kept in the database so edits persist and every process sees them. The rules (names,
examples, tables, built-in intents) are ``handlers.training_data``; who may change what is
``handlers.permissions`` (``teach``; importing wholesale is ``import_training``, admins').
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nlu
from handlers import audit_service
from handlers.accounts import Principal
from handlers.errors import Conflict, InvalidInput, NotFound
from handlers.flows import CONVERSATION_INTENTS, FLOWS
from handlers.guards import require
from handlers.permissions import Action
from handlers.ports import Clock
from handlers.training_data import (
    INTENT_NAME,
    RESERVED,
    TABLE_LABELS,
    ExampleIn,
    FlowInfo,
    IntentIn,
    IntentPatch,
    built_in,
    check_example,
    entities_json,
    example_of,
    flow_info,
    import_notes,
    new_table_row,
    parse_markup,
    table_items,
)
from nlu.rasa import render_example
from storage.admin_types import TableKind
from storage.errors import DuplicateError
from storage.interfaces import Store, UnitOfWork
from storage.models import NluExample, NluIntent


async def _write(
    uow: UnitOfWork, data: nlu.TrainingData, *, source: str, by: str, now: datetime
) -> tuple[int, int]:
    """Add the data's intents, examples and tables (merging into what exists).

    Returns (new intents, new examples); examples already present are skipped.
    """
    intents = {i.name: i for i in await uow.nlu_data.intents()}
    have = {(row.intent, row.text) for row in await uow.nlu_data.all_examples()}
    new_intents = 0
    rows: list[dict[str, Any]] = []
    for example in data.examples:
        check_example(example.text)
        intent = intents.get(example.intent)
        if intent is None:
            if not INTENT_NAME.match(example.intent) or example.intent in RESERVED:
                raise InvalidInput(
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
                "entities": entities_json(example),
                "meta": dict(example.metadata) if example.metadata else None,
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
    clean = table_items(kind, name, items)
    row = await uow.nlu_data.table_row_by_name(kind, name) or new_table_row(kind, name)
    merged = list(row.items or [])
    for item in clean:
        if item not in merged:
            merged.append(item)
    row.items = merged
    await uow.nlu_data.save_table_row(row)


def sees_example(p: Principal, community_id: int | None) -> bool:
    """Our own examples are everyone's; a resident's words (promoted from the review inbox)
    are seen only by their community's staff and by admins."""
    return community_id is None or p.is_admin or community_id == p.community_id


async def training_data(uow: UnitOfWork, p: Principal | None = None) -> nlu.TrainingData:
    """The database as ``nlu.TrainingData``: everything (what training uses), or what
    ``p`` may see (an export)."""
    data = nlu.TrainingData()
    for row in await uow.nlu_data.all_examples():
        if p is not None and not sees_example(p, row.community_id):
            continue
        data.examples.append(example_of(row.text, row.intent, row.entities, row.meta))
    for kind, target in (
        ("synonym", data.synonyms),
        ("lookup", data.lookups),
        ("regex", data.regexes),
    ):
        for table_row in await uow.nlu_data.table_rows(kind):  # type: ignore[arg-type]
            target[table_row.name] = list(table_row.items or [])
    return data


@dataclass(slots=True)
class IntentSummary:
    id: int
    name: str
    description: str
    examples: int
    f1: float | None
    flow: FlowInfo
    warnings: list[str]


@dataclass(slots=True)
class AddResult:
    added: list[int]
    skipped: list[str]  # already under this intent
    warnings: list[str]  # also under another intent


async def is_empty(store: Store) -> bool:
    """No training data in the database yet."""
    async with store.unit() as uow:
        return await uow.nlu_data.is_empty()


async def seed(
    store: Store, clock: Clock, data: nlu.TrainingData, *, source: str
) -> tuple[int, int] | None:
    """Store the packaged training data when the database has none.

    Returns (intents, examples) written, or None when another process seeded first.
    """
    try:
        async with store.unit() as uow:
            if not await uow.nlu_data.is_empty():
                return None
            intents, examples = await _write(uow, data, source="seed", by="system", now=clock.now())
            await audit_service.record(
                uow,
                None,
                "nlu.seed",
                now=clock.now(),
                summary=f"从 {source} 载入训练数据：{intents} 个意图，{examples} 条例句",
                username="system",
            )
    except DuplicateError:  # another process seeded at the same moment
        return None
    return intents, examples


async def import_data(
    store: Store,
    clock: Clock,
    data: nlu.TrainingData,
    *,
    replace: bool,
    actor: Principal | None,
    by: str,
    ip: str = "",
) -> dict[str, int]:
    """Merge training data into the database, or replace it all; all or nothing, audited.

    The caller checks who may do it (the console: ``import_training``; the CLI: whoever can
    reach the database).

    Returns:
        {"intents": new intents, "examples": new examples}.

    Raises:
        InvalidInput: a bad intent name or example, or a replacement that drops an intent
            the dialogue relies on.
        Conflict: the data changed underneath (nothing was written).
    """
    now = clock.now()
    async with store.unit() as uow:
        if replace:
            missing = [name for name in (*FLOWS, *CONVERSATION_INTENTS) if name not in data.intents]
            if missing:
                raise InvalidInput(
                    "替换导入会删除对话流程依赖的意图：" + "、".join(sorted(missing)),
                )
            await uow.nlu_data.clear()
        try:
            intents, examples = await _write(uow, data, source="import", by=by, now=now)
        except DuplicateError as e:
            raise Conflict(f"导入失败，未做任何改动：{e}") from e
        await audit_service.record(
            uow,
            actor,
            "nlu.import",
            now=now,
            summary=f"{'替换' if replace else '合并'}导入：新意图 {intents}，新例句 {examples}",
            after={"intents": intents, "examples": examples, "replace": replace},
            ip=ip,
            username=by if actor is None else "",
        )
    return {"intents": intents, "examples": examples}


class IntentDesk:
    """Intents, examples and tables on behalf of a console account.

    Args:
        store: units of work over the database.
        clock: the time source.
        min_examples: fewer examples than this and an intent is flagged as unstable.
        f1: the per-intent F1 of the latest evaluation.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        min_examples: int,
        f1: Callable[[], Awaitable[dict[str, float]]],
    ) -> None:
        self.store = store
        self.clock = clock
        self.min_examples = min_examples
        self.f1 = f1

    async def export_yaml(self, p: Principal) -> str:
        require(p.subject, Action.TEACH)
        async with self.store.unit() as uow:
            return nlu.dump_rasa_yaml(await training_data(uow, p))

    async def import_yaml(
        self, p: Principal, text: str, *, replace: bool, ip: str = ""
    ) -> dict[str, Any]:
        """Import Rasa NLU YAML: merge into the data, or replace it all. All or nothing.

        Returns the new intents and examples and ``notes``: what is kept but not used
        (entity roles/groups, retrieval intents' responses)."""
        require(p.subject, Action.IMPORT_TRAINING)
        try:
            data = nlu.parse_rasa_yaml(text)
        except nlu.TrainingDataError as e:
            raise InvalidInput(f"不是有效的 Rasa NLU YAML：{e}") from e
        if not data.examples and not (data.synonyms or data.lookups or data.regexes):
            raise InvalidInput("文件里没有意图例句或词表")
        result = await import_data(
            self.store, self.clock, data, replace=replace, actor=p, by=p.username, ip=ip
        )
        return {**result, "notes": import_notes(data)}

    async def list_intents(self, p: Principal) -> tuple[list[IntentSummary], list[str]]:
        """Intents with example counts, last F1 and warnings; plus warnings about the whole data."""
        require(p.subject, Action.TEACH)
        minimum = self.min_examples
        f1 = await self.f1()
        async with self.store.unit() as uow:
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

    async def intent_detail(self, p: Principal, name: str) -> dict[str, Any]:
        require(p.subject, Action.TEACH)
        async with self.store.unit() as uow:
            intent = await uow.nlu_data.intent_by_name(name)
            if intent is None:
                raise NotFound(f"没有意图 {name}")
            rows = await uow.nlu_data.examples(intent.id)
            shared = await uow.nlu_data.shared_texts()
        f1 = (await self.f1()).get(name)
        examples = [
            {
                "id": row.id,
                "text": row.text,
                "markup": render_example(example_of(row.text, name, list(row.entities or []))),
                "entities": list(row.entities or []),
                "source": row.source,
                "also_in": [x for x in shared.get(row.text, []) if x != name],
            }
            for row in rows
            if sees_example(p, row.community_id)
        ]
        return {
            "id": intent.id,
            "name": intent.name,
            "description": intent.description,
            "built_in": built_in(intent.name),
            "f1": f1,
            "flow": flow_info(intent.name),
            "examples": examples,
            "too_few": len(examples) < self.min_examples,
            "min_examples": self.min_examples,
        }

    async def create_intent(self, p: Principal, body: IntentIn, ip: str = "") -> int:
        require(p.subject, Action.TEACH)
        name = body.name.strip()
        if not INTENT_NAME.match(name) or name in RESERVED:
            raise InvalidInput("意图名需以小写字母开头，只含小写字母、数字和下划线，如 report_pets")
        now = self.clock.now()
        async with self.store.unit() as uow:
            if await uow.nlu_data.intent_by_name(name) is not None:
                raise Conflict(f"意图 {name} 已存在")
            try:
                intent = await uow.nlu_data.add_intent(
                    NluIntent(
                        name=name, description=body.description, created_at=now, updated_at=now
                    )
                )
            except DuplicateError as e:
                raise Conflict(f"意图 {name} 已存在") from e
            await audit_service.record(
                uow, p, "nlu.intent.create", now=now, target_type="intent", target_id=name,
                summary=body.description, ip=ip,
            )  # fmt: skip
            return intent.id or 0

    async def update_intent(self, p: Principal, name: str, body: IntentPatch, ip: str = "") -> str:
        require(p.subject, Action.TEACH)
        now = self.clock.now()
        async with self.store.unit() as uow:
            intent = await uow.nlu_data.intent_by_name(name)
            if intent is None:
                raise NotFound(f"没有意图 {name}")
            before = {"name": intent.name, "description": intent.description}
            if body.name is not None and body.name.strip() != intent.name:
                new = body.name.strip()
                if built_in(intent.name):
                    raise Conflict(f"{intent.name} 由对话流程使用，不能改名")
                if not INTENT_NAME.match(new) or new in RESERVED:
                    raise InvalidInput("意图名需以小写字母开头，只含小写字母、数字和下划线")
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
            await audit_service.record(
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

    async def delete_intent(self, p: Principal, name: str, ip: str = "") -> int:
        require(p.subject, Action.TEACH)
        if built_in(name):
            raise Conflict(f"{name} 由对话流程使用，不能删除（可以删改它的例句）")
        now = self.clock.now()
        async with self.store.unit() as uow:
            intent = await uow.nlu_data.intent_by_name(name)
            if intent is None:
                raise NotFound(f"没有意图 {name}")
            removed = await uow.nlu_data.delete_intent(intent.id or 0)
            await audit_service.record(
                uow, p, "nlu.intent.delete", now=now, target_type="intent", target_id=name,
                summary=f"删除意图及 {removed} 条例句", before={"examples": removed}, ip=ip,
            )  # fmt: skip
            return removed

    async def add_examples(
        self,
        p: Principal,
        name: str,
        lines: list[str],
        *,
        source: str = "admin",
        ip: str = "",
        uow: UnitOfWork | None = None,
        plain: bool = False,
        community_id: int | None = None,
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
                check_example(line.strip())
                examples.append(nlu.Example(line.strip(), name))
            else:
                examples.append(parse_markup(line, name))
        if not examples:
            raise InvalidInput("请至少输入一条例句")
        if uow is not None:
            return await self._add(uow, p, name, examples, source, ip, community_id)
        async with self.store.unit() as own:
            return await self._add(own, p, name, examples, source, ip, community_id)

    async def _add(
        self,
        uow: UnitOfWork,
        p: Principal,
        name: str,
        examples: list[nlu.Example],
        source: str,
        ip: str,
        community_id: int | None = None,
    ) -> AddResult:
        now = self.clock.now()
        intent = await uow.nlu_data.intent_by_name(name)
        if intent is None:
            raise NotFound(f"没有意图 {name}")
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
                    entities=entities_json(example),
                    source=source,
                    community_id=community_id,
                    created_by=p.username,
                    created_at=now,
                )
            )
            result.added.append(row.id or 0)
        if result.added:
            intent.updated_at = now
            await uow.nlu_data.save_intent(intent)
            await audit_service.record(
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
        self, p: Principal, example_id: int, body: ExampleIn, ip: str = ""
    ) -> list[str]:
        """Edit an example's text/annotations or move it; returns warnings."""
        require(p.subject, Action.TEACH)
        now = self.clock.now()
        async with self.store.unit() as uow:
            row = await uow.nlu_data.example(example_id)
            if row is None:
                raise NotFound("没有这条例句")
            current = await uow.nlu_data.intent(row.intent_id)
            target = current
            if body.intent is not None and current is not None and body.intent != current.name:
                target = await uow.nlu_data.intent_by_name(body.intent)
                if target is None:
                    raise NotFound(f"没有意图 {body.intent}")
            if target is None:  # pragma: no cover - FK guarantees it
                raise NotFound("例句的意图不存在")
            # plain values first: after a failed flush the ORM objects must not be touched
            target_name, target_id = target.name, target.id or 0
            example = parse_markup(body.markup, target_name)
            before = {"text": row.text, "intent": current.name if current else ""}
            row.text, row.entities, row.intent_id = example.text, entities_json(example), target_id
            try:
                await uow.nlu_data.save_example(row)
            except DuplicateError as e:
                raise Conflict(f"{target_name} 已有这条例句") from e
            others = [
                x for x in await uow.nlu_data.intents_with_text(example.text) if x != target_name
            ]
            await audit_service.record(
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

    async def delete_example(self, p: Principal, example_id: int, ip: str = "") -> str:
        """Delete an example; returns its intent's name."""
        require(p.subject, Action.TEACH)
        async with self.store.unit() as uow:
            row = await uow.nlu_data.example(example_id)
            if row is None:
                raise NotFound("没有这条例句")
            intent = await uow.nlu_data.intent(row.intent_id)
            await uow.nlu_data.delete_example(example_id)
            await audit_service.record(
                uow, p, "nlu.example.delete", now=self.clock.now(), target_type="example",
                target_id=example_id, summary=row.text, before={"text": row.text}, ip=ip,
            )  # fmt: skip
            return intent.name if intent else ""

    async def tables(self, p: Principal) -> dict[str, list[dict[str, Any]]]:
        require(p.subject, Action.TEACH)
        async with self.store.unit() as uow:
            return {
                kind: [
                    {"id": r.id, "name": r.name, "items": list(r.items or [])}
                    for r in await uow.nlu_data.table_rows(kind)  # type: ignore[arg-type]
                ]
                for kind in ("synonym", "lookup", "regex")
            }

    async def save_table(
        self, p: Principal, kind: str, name: str, items: list[str], ip: str = ""
    ) -> None:
        """Create or replace a synonym (canonical value → variants), lookup table or regex."""
        require(p.subject, Action.TEACH)
        if kind not in TABLE_LABELS:
            raise NotFound("未知类型")
        clean = table_items(kind, name.strip(), items)
        async with self.store.unit() as uow:
            row = await uow.nlu_data.table_row_by_name(kind, name.strip())  # type: ignore[arg-type]
            before = {"items": list(row.items or [])} if row else {}
            if row is None:
                row = new_table_row(kind, name.strip())
            row.items = clean
            await uow.nlu_data.save_table_row(row)
            await audit_service.record(
                uow,
                p,
                f"nlu.{kind}.save",
                now=self.clock.now(),
                target_type=kind,
                target_id=name,
                summary=f"{len(clean)} 项",
                before=before,
                after={"items": clean[:50]},
                ip=ip,
            )

    async def delete_table(self, p: Principal, kind: str, name: str, ip: str = "") -> None:
        require(p.subject, Action.TEACH)
        if kind not in TABLE_LABELS:
            raise NotFound("未知类型")
        async with self.store.unit() as uow:
            row = await uow.nlu_data.table_row_by_name(kind, name)  # type: ignore[arg-type]
            if row is None or row.id is None:
                raise NotFound(f"没有{TABLE_LABELS[kind]} {name}")
            await uow.nlu_data.delete_table_row(kind, row.id)  # type: ignore[arg-type]
            await audit_service.record(
                uow,
                p,
                f"nlu.{kind}.delete",
                now=self.clock.now(),
                target_type=kind,
                target_id=name,
                before={"items": list(row.items or [])[:50]},
                ip=ip,
            )
