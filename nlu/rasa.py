"""Rasa interoperability: NLU training data YAML and the intents/entities/slots of domain.yml."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from nlu.errors import TrainingDataError
from nlu.types import AnnotatedEntity, Example, TrainingData

RASA_VERSION = "3.1"

# [surface](entity), [surface](entity:value), [surface]{"entity": ..., "value": ...}, and
# several entities on one span (Rasa 3): [surface]{"entity": "a"}{"entity": "b"} or the list
# form [surface][{"entity": "a"}, {"entity": "b"}]
_ANNOTATION = re.compile(
    r"\[(?P<text>[^\[\]]+)\]"
    r"(?:\((?P<short>[^()]+)\)|(?P<json>(?:\{[^{}]*\})+)|(?P<list>\[\s*\{[^\[\]]*\}\s*\]))"
)
_DICT = re.compile(r"\{[^{}]*\}")
_PLAIN = re.compile(r"^[A-Za-z_][\w\-]*(/[\w\-]+)?$")
# what is left of an annotation the patterns above could not read: refused, never kept as text
_BROKEN = re.compile(r"\]\s*(\[\s*\{|\{)")


def parse_example(markup: str, intent: str) -> Example:
    """Turn one Rasa example line with inline annotations into an :class:`Example`.

    Raises:
        TrainingDataError: an annotation's JSON is invalid or lacks ``entity``.
    """
    text_parts: list[str] = []
    entities: list[AnnotatedEntity] = []
    position = 0
    length = 0
    for match in _ANNOTATION.finditer(markup):
        before = markup[position : match.start()]
        text_parts.append(before)
        length += len(before)
        surface = match.group("text")
        start, end = length, length + len(surface)
        text_parts.append(surface)
        length = end
        position = match.end()
        if match.group("short") is not None:
            entity, _, value = match.group("short").partition(":")
            entities.append(AnnotatedEntity(start, end, entity.strip(), value.strip() or None))
            continue
        specs = match.group("json") or match.group("list")
        dicts = _DICT.findall(specs)
        if match.group("list") is not None and not _is_list_of_dicts(specs, len(dicts)):
            raise TrainingDataError(
                f"cannot read an entity annotation in {markup!r}: write several entities on "
                'one span as [text][{"entity": "…"}, {"entity": "…"}]'
            )
        for raw in dicts:
            try:
                spec = json.loads(raw)
            except json.JSONDecodeError as e:
                raise TrainingDataError(f"bad entity annotation in {markup!r}: {e}") from e
            if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
                raise TrainingDataError(f"entity annotation without 'entity' in {markup!r}")
            entities.append(
                AnnotatedEntity(
                    start,
                    end,
                    spec["entity"],
                    _opt_str(spec.get("value")),
                    _opt_str(spec.get("role")),
                    _opt_str(spec.get("group")),
                )
            )
    text_parts.append(markup[position:])
    text = "".join(text_parts)
    if _BROKEN.search(text):
        raise TrainingDataError(
            f"cannot read an entity annotation in {markup!r}: use [text](entity), "
            '[text]{"entity": "…"} or, for several entities on one span, '
            '[text][{"entity": "…"}, {"entity": "…"}]'
        )
    return Example(text, intent, tuple(entities))


def _is_list_of_dicts(text: str, n: int) -> bool:
    """``[{..}, {..}]`` as JSON, or Rasa's lenient ``[{..}{..}]`` without commas."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        return _DICT.sub("", text).strip("[] ,\n\t") == ""
    return isinstance(items, list) and len(items) == n


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def render_example(example: Example) -> str:
    """The inverse of :func:`parse_example`: text with inline annotations (several entities
    on one span in Rasa 3's list form)."""
    spans: dict[tuple[int, int], list[AnnotatedEntity]] = {}
    for ann in example.entities:
        spans.setdefault((ann.start, ann.end), []).append(ann)
    out: list[str] = []
    position = 0
    for (start, end), anns in sorted(spans.items()):
        if start < position or end > len(example.text) or end <= start:
            continue  # overlapping or out-of-range annotations cannot be written inline
        out.append(example.text[position:start])
        surface = example.text[start:end]
        if len(anns) > 1:
            specs = ", ".join(json.dumps(_spec(a), ensure_ascii=False) for a in anns)
            out.append(f"[{surface}][{specs}]")
        elif anns[0].role is None and anns[0].group is None and anns[0].value is None:
            out.append(f"[{surface}]({anns[0].entity})")
        else:
            out.append(f"[{surface}]{json.dumps(_spec(anns[0]), ensure_ascii=False)}")
        position = end
    out.append(example.text[position:])
    return "".join(out)


def _spec(ann: AnnotatedEntity) -> dict[str, str]:
    spec: dict[str, str] = {"entity": ann.entity}
    for key, value in (("value", ann.value), ("role", ann.role), ("group", ann.group)):
        if value is not None:
            spec[key] = value
    return spec


def _example_lines(block: object, where: str) -> list[str]:
    return [line for line, _ in _examples_with_metadata(block, where)]


def _examples_with_metadata(
    block: object, where: str
) -> list[tuple[str, dict[str, object] | None]]:
    if isinstance(block, str):
        lines: list[tuple[str, dict[str, object] | None]] = []
        for raw in block.splitlines():
            line = raw.strip()
            if not line:
                continue
            if not line.startswith("-"):
                raise TrainingDataError(f"{where}: example lines must start with '- ': {raw!r}")
            lines.append((line[1:].strip(), None))
        return lines
    if isinstance(block, list):
        # Rasa also accepts a list of {"text": ..., "metadata": ...} mappings.
        out: list[tuple[str, dict[str, object] | None]] = []
        for item in block:
            text = item.get("text") if isinstance(item, dict) else item
            if not isinstance(text, str):
                raise TrainingDataError(f"{where}: cannot read example {item!r}")
            meta = item.get("metadata") if isinstance(item, dict) else None
            if meta is not None and not isinstance(meta, dict):
                raise TrainingDataError(f"{where}: 'metadata' of {text!r} must be a mapping")
            out.append((text.strip(), dict(meta) if meta else None))
        return out
    if block is None:
        return []
    raise TrainingDataError(f"{where}: 'examples' must be a block of '- ' lines")


def parse_rasa_yaml(text: str) -> TrainingData:
    """Read Rasa NLU training data (the ``nlu:`` section of a Rasa 3 YAML file).

    Supports intents (retrieval intents ``faq/ask_x`` too) with ``[text](entity)``,
    ``[text](entity:value)`` and ``[text]{"entity": ..., "value": ..., "role": ...,
    "group": ...}`` annotations, several entities on one span (``[text]{..}{..}`` or
    ``[text][{..}, {..}]``), example and intent ``metadata`` (kept on each example),
    synonyms, regexes and lookup tables. Other sections (rules, stories, responses) are
    ignored.

    Raises:
        TrainingDataError: the text is not valid YAML or not shaped like Rasa NLU data.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise TrainingDataError(f"not valid YAML: {e}") from e
    data = TrainingData()
    if raw is None:
        return data
    if not isinstance(raw, dict):
        raise TrainingDataError("a Rasa NLU file must be a mapping with an 'nlu' list")
    items = raw.get("nlu") or []
    if not isinstance(items, list):
        raise TrainingDataError("'nlu' must be a list")
    for item in items:
        if not isinstance(item, dict):
            raise TrainingDataError(f"'nlu' entries must be mappings, got {item!r}")
        if "intent" in item:
            intent = str(item["intent"])
            shared = item.get("metadata")
            if shared is not None and not isinstance(shared, dict):
                raise TrainingDataError(f"intent {intent}: 'metadata' must be a mapping")
            for line, meta in _examples_with_metadata(item.get("examples"), f"intent {intent}"):
                example = parse_example(line, intent)
                # intent-level metadata belongs to every example of it (as in Rasa)
                merged = {**(shared or {}), **(meta or {})}
                if merged:
                    example = replace(example, metadata=merged)
                data.examples.append(example)
        elif "synonym" in item:
            key = str(item["synonym"])
            bucket = data.synonyms.setdefault(key, [])
            bucket.extend(_example_lines(item.get("examples"), f"synonym {key}"))
        elif "regex" in item:
            key = str(item["regex"])
            data.regexes.setdefault(key, []).extend(
                _example_lines(item.get("examples"), f"regex {key}")
            )
        elif "lookup" in item:
            key = str(item["lookup"])
            data.lookups.setdefault(key, []).extend(
                _example_lines(item.get("examples"), f"lookup {key}")
            )
        else:
            raise TrainingDataError(f"unknown 'nlu' entry with keys {sorted(item)}")
    return data


def _scalar(value: str) -> str:
    return value if _PLAIN.match(value) else json.dumps(value, ensure_ascii=False)


def _block(lines: list[str]) -> list[str]:
    return ["  examples: |", *(f"    - {line}" for line in lines)]


def dump_rasa_yaml(data: TrainingData) -> str:
    """Write training data as Rasa 3 NLU YAML (examples grouped by intent, first-seen order).

    ``parse_rasa_yaml(dump_rasa_yaml(d))`` gives back the same examples (grouped by intent),
    synonyms, regexes and lookups.
    """
    out = [f'version: "{RASA_VERSION}"', "", "nlu:"]
    for intent in data.intents:
        out.append(f"- intent: {_scalar(intent)}")
        examples = [e for e in data.examples if e.intent == intent]
        if any(e.metadata for e in examples):
            out.append("  examples:")
            for e in examples:
                out.append(f"  - text: {json.dumps(render_example(e), ensure_ascii=False)}")
                if e.metadata:
                    meta = json.dumps(dict(e.metadata), ensure_ascii=False, sort_keys=True)
                    out.append(f"    metadata: {meta}")
            continue
        out.extend(_block([render_example(e) for e in examples]))
    for kind, table in (
        ("synonym", data.synonyms),
        ("regex", data.regexes),
        ("lookup", data.lookups),
    ):
        for key, items in table.items():
            out.append(f"- {kind}: {_scalar(key)}")
            out.extend(_block(items))
    return "\n".join(out) + "\n"


@dataclass(slots=True)
class Domain:
    """The NLU-facing part of a Rasa domain: intents, entities and slots.

    Attributes:
        intents: intent names in file order.
        entities: entity names in file order.
        slots: slot name -> its mapping as written (``type``, ``mappings``,
            ``influence_conversation`` ...), kept as-is so it round-trips.
        intent_properties: per-intent options such as ``use_entities`` (only intents that
            had any).
        entity_properties: per-entity options such as ``roles`` and ``groups``.
    """

    intents: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    slots: dict[str, dict[str, object]] = field(default_factory=dict)
    intent_properties: dict[str, dict[str, object]] = field(default_factory=dict)
    entity_properties: dict[str, dict[str, object]] = field(default_factory=dict)


def _named_list(raw: object, what: str) -> tuple[list[str], dict[str, dict[str, object]]]:
    names: list[str] = []
    props: dict[str, dict[str, object]] = {}
    if raw is None:
        return names, props
    if not isinstance(raw, list):
        raise TrainingDataError(f"domain '{what}' must be a list")
    for item in raw:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and len(item) == 1:
            ((name, options),) = item.items()
            names.append(str(name))
            props[str(name)] = dict(options or {})
        else:
            raise TrainingDataError(f"cannot read domain {what} entry {item!r}")
    return names, props


def parse_domain_yaml(text: str) -> Domain:
    """Read intents, entities and slots from a Rasa ``domain.yml`` (other keys are ignored).

    Raises:
        TrainingDataError: not YAML, or the sections have the wrong shape.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise TrainingDataError(f"domain is not valid YAML: {e}") from e
    if raw is None:
        return Domain()
    if not isinstance(raw, dict):
        raise TrainingDataError("a Rasa domain must be a mapping")
    intents, intent_props = _named_list(raw.get("intents"), "intents")
    entities, entity_props = _named_list(raw.get("entities"), "entities")
    slots_raw = raw.get("slots") or {}
    if not isinstance(slots_raw, dict):
        raise TrainingDataError("domain 'slots' must be a mapping")
    slots: dict[str, dict[str, object]] = {}
    for name, spec in slots_raw.items():
        if not isinstance(spec, dict):
            raise TrainingDataError(f"slot {name!r} must be a mapping")
        slots[str(name)] = dict(spec)
    return Domain(intents, entities, slots, intent_props, entity_props)


def dump_domain_yaml(domain: Domain) -> str:
    """Write the intents, entities and slots as a Rasa 3 ``domain.yml`` fragment."""
    doc: dict[str, Any] = {"version": RASA_VERSION}
    doc["intents"] = [
        {i: domain.intent_properties[i]} if i in domain.intent_properties else i
        for i in domain.intents
    ]
    doc["entities"] = [
        {e: domain.entity_properties[e]} if e in domain.entity_properties else e
        for e in domain.entities
    ]
    if domain.slots:
        doc["slots"] = domain.slots
    text: str = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_flow_style=False)
    return text


def _names(entries: list[object]) -> set[str]:
    out: set[str] = set()
    for entry in entries:
        if isinstance(entry, str):
            out.add(entry)
        elif isinstance(entry, dict) and len(entry) == 1:
            out.add(str(next(iter(entry))))
    return out


def merge_domain_yaml(theirs: str, ours: Domain) -> str:
    """A project's ``domain.yml`` with our intents, entities and slots added.

    Everything the project has is kept as it is (its intents with their options, entities
    with roles and groups, slots with their mappings, responses, actions, forms, session
    config); only what it lacks is appended. A slot both define keeps the project's
    definition. Comments are not kept (the file is read and written as YAML data).

    Raises:
        TrainingDataError: the project's domain is not YAML or not a mapping.
    """
    parse_domain_yaml(theirs)  # the same shape checks as reading it
    doc: dict[str, Any] = yaml.safe_load(theirs) or {}
    doc.setdefault("version", RASA_VERSION)
    for key, names, props in (
        ("intents", ours.intents, ours.intent_properties),
        ("entities", ours.entities, ours.entity_properties),
    ):
        entries: list[object] = list(doc.get(key) or [])
        have = _names(entries)
        for name in names:
            if name not in have:
                entries.append({name: props[name]} if name in props else name)
                have.add(name)
        doc[key] = entries
    slots: dict[str, Any] = dict(doc.get("slots") or {})
    for name, spec in ours.slots.items():
        slots.setdefault(name, spec)
    if slots:
        doc["slots"] = slots
    text: str = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_flow_style=False)
    return text
