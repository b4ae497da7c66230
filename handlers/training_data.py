"""The NLU training data's rules (pure): what an intent name, an example, an entity and a
synonym/lookup/regex table must look like, and what an intent does in the dialogue.

Intents the dialogue relies on (a report flow or a conversational answer) are *built in*:
they can gain and lose examples but cannot be renamed or deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

import nlu
from handlers.errors import InvalidInput
from handlers.flows import CONVERSATION_INTENTS, FALLBACK_FLOW, FLOWS
from handlers.i18n import t
from nlu.rasa import parse_example
from storage.models import NluLookup, NluRegex, NluSynonym

# a Rasa retrieval intent is "<base>/<sub>" (faq/ask_hours): the base is what domain.yml lists
INTENT_NAME = re.compile(r"^(?=.{2,60}$)[a-z][a-z0-9_]*(/[a-z0-9_]+)?$")
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


def entities_json(example: nlu.Example) -> list[dict[str, Any]]:
    out = []
    for ann in example.entities:
        item: dict[str, Any] = {"start": ann.start, "end": ann.end, "entity": ann.entity}
        for key in ("value", "role", "group"):
            value = getattr(ann, key)
            if value is not None:
                item[key] = value
        out.append(item)
    return out


def example_of(
    text: str,
    intent: str,
    entities: list[dict[str, Any]],
    metadata: dict[str, Any] | None = None,
) -> nlu.Example:
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
        metadata or None,
    )


def new_table_row(kind: str, name: str) -> NluSynonym | NluLookup | NluRegex:
    if kind == "synonym":
        return NluSynonym(name=name, items=[])
    if kind == "lookup":
        return NluLookup(name=name, items=[])
    return NluRegex(name=name, items=[])


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


def check_example(text: str) -> None:
    if not text.strip():
        raise InvalidInput("例句不能为空")
    if len(text) > MAX_EXAMPLE:
        raise InvalidInput(f"例句不能超过 {MAX_EXAMPLE} 个字")


def parse_markup(markup: str, intent: str) -> nlu.Example:
    """One example from Rasa markup, with a readable error for bad annotations."""
    try:
        example = parse_example(markup.strip(), intent)
    except nlu.TrainingDataError as e:
        raise InvalidInput(f"实体标注有误：{e}") from e
    check_example(example.text)
    for ann in example.entities:
        if not ENTITY_NAME.match(ann.entity):
            raise InvalidInput(f"实体名“{ann.entity}”不合规：用小写英文，如 building、plate")
    return example


def table_items(kind: str, name: str, items: list[str]) -> list[str]:
    if not TABLE_NAME.match(name):
        raise InvalidInput(f"{TABLE_LABELS.get(kind, kind)}名称“{name}”不合规")
    clean: list[str] = []
    for item in items:
        value = item.strip()
        if not value or value in clean:
            continue
        if len(value) > 300:
            raise InvalidInput(f"“{value[:20]}…”太长（最多300字）")
        if kind == "regex":
            try:
                re.compile(value)
            except re.error as e:
                raise InvalidInput(f"正则“{value}”无效：{e}") from e
        clean.append(value)
    if not clean:
        raise InvalidInput("至少需要一项")
    return clean


def base_intent(name: str) -> str:
    """The intent a Rasa domain lists for it: ``faq`` for the retrieval intent ``faq/ask_x``."""
    return name.split("/", 1)[0]


def import_notes(data: nlu.TrainingData) -> list[str]:
    """What an import keeps but Minhu does not use, said before anyone relies on it."""
    notes: list[str] = []
    tagged = sum(
        1 for e in data.examples for a in e.entities if a.role is not None or a.group is not None
    )
    if tagged:
        notes.append(
            f"{tagged} 处实体标注带有 role/group：会原样保存和导出，但本系统的实体识别不会预测 "
            f"role/group / {tagged} annotations carry roles or groups: kept and exported, but "
            "Minhu's entity extractors will not predict roles or groups"
        )
    retrieval = sorted({i for i in data.intents if "/" in i})
    if retrieval:
        notes.append(
            f"检索意图 {'、'.join(retrieval[:5])}{'等' if len(retrieval) > 5 else ''} 各自作为一个"
            "意图识别；本系统没有 Rasa 的回复选择器，它们按“其他问题”受理 / retrieval intents are "
            "classified as intents of their own; without Rasa's response selector they are "
            "handled as 其他问题"
        )
    own_time = sorted(
        {a.entity for e in data.examples for a in e.entities if a.entity in {"date", "time"}}
        | ({"date", "time"} & (set(data.lookups) | set(data.regexes)))
    )
    if own_time:
        notes.append(
            f"项目自己的 {'/'.join(own_time)} 实体优先于内置的时间识别 / the project's own "
            f"{'/'.join(own_time)} entity wins over the built-in time extractor where they overlap"
        )
    return notes
