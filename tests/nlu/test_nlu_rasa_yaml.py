"""Rasa NLU YAML and domain.yml: reading, writing, round trips; loading data from disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nlu
from nlu.rasa import parse_example, render_example

RASA_NLU = """\
version: "3.1"
nlu:
- intent: report_elevator
  examples: |
    - [3幢](building)电梯坏了
    - [五号楼](building:5幢)电梯停了
    - [B区5号楼]{"entity": "building", "value": "B区5幢"}电梯困人
    - 从[3楼]{"entity": "floor", "role": "from"}到[5楼]{"entity": "floor", "role": "to", \
"group": "1"}
- intent: greet
  examples:
  - text: 你好
  - text: 在吗
- synonym: 3幢
  examples: |
    - 三号楼
    - 3号楼
- regex: phone
  examples: |
    - 1[3-9]\\d{9}
- lookup: community
  examples: |
    - 阳光花园
    - 幸福小区
"""


def test_rasa_yaml_annotations_become_spans_when_parsed() -> None:
    data = nlu.parse_rasa_yaml(RASA_NLU)
    assert data.intents == ["report_elevator", "greet"]
    first, second, third, fourth = data.examples[:4]
    assert first == nlu.Example(
        "3幢电梯坏了", "report_elevator", (nlu.AnnotatedEntity(0, 2, "building"),)
    )
    assert second.entities == (nlu.AnnotatedEntity(0, 3, "building", "5幢"),)
    assert third.text == "B区5号楼电梯困人"
    assert third.entities == (nlu.AnnotatedEntity(0, 5, "building", "B区5幢"),)
    assert fourth.entities == (
        nlu.AnnotatedEntity(1, 3, "floor", role="from"),
        nlu.AnnotatedEntity(4, 6, "floor", role="to", group="1"),
    )
    assert [e.text for e in data.examples[4:]] == ["你好", "在吗"]
    assert data.synonyms == {"3幢": ["三号楼", "3号楼"]}
    assert data.regexes == {"phone": [r"1[3-9]\d{9}"]}
    assert data.lookups == {"community": ["阳光花园", "幸福小区"]}


def test_rasa_yaml_round_trips_without_loss_when_dumped_and_parsed() -> None:
    data = nlu.parse_rasa_yaml(RASA_NLU)
    dumped = nlu.dump_rasa_yaml(data)
    again = nlu.parse_rasa_yaml(dumped)
    assert again.examples == data.examples
    assert (again.synonyms, again.regexes, again.lookups) == (
        data.synonyms,
        data.regexes,
        data.lookups,
    )
    assert nlu.dump_rasa_yaml(again) == dumped


def test_project_training_data_round_trips_when_present() -> None:
    directory = Path(__file__).resolve().parents[2] / "nlu" / "data"
    if not any(directory.glob("*.yml")):
        pytest.skip("nlu/data has no training data yet")
    data = nlu.load_training_data(directory)
    again = nlu.parse_rasa_yaml(nlu.dump_rasa_yaml(data))
    assert sorted(again.examples, key=repr) == sorted(data.examples, key=repr)
    assert again.lookups == data.lookups and again.synonyms == data.synonyms


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nlu: [", "not valid YAML"),
        ("- just a list", "mapping"),
        ("nlu:\n- intent: x\n  examples: |\n    no dash\n", "start with '- '"),
        ("nlu:\n- bogus: x\n", "unknown 'nlu' entry"),
        ('nlu:\n- intent: x\n  examples: |\n    - [a]{"value": "b"}\n', "without 'entity'"),
    ],
)
def test_rasa_yaml_error_explains_the_problem_when_file_is_malformed(
    text: str, message: str
) -> None:
    with pytest.raises(nlu.TrainingDataError, match=message):
        nlu.parse_rasa_yaml(text)


DOMAIN = """\
version: "3.1"
intents:
- greet
- report_elevator:
    use_entities:
    - building
entities:
- building
- floor:
    roles:
    - from
    - to
slots:
  building:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: building
responses:
  utter_greet:
  - text: 你好
"""


def test_domain_intents_entities_slots_round_trip_when_dumped() -> None:
    domain = nlu.parse_domain_yaml(DOMAIN)
    assert domain.intents == ["greet", "report_elevator"]
    assert domain.intent_properties == {"report_elevator": {"use_entities": ["building"]}}
    assert domain.entities == ["building", "floor"]
    assert domain.entity_properties == {"floor": {"roles": ["from", "to"]}}
    assert domain.slots["building"]["mappings"] == [{"type": "from_entity", "entity": "building"}]
    assert nlu.parse_domain_yaml(nlu.dump_domain_yaml(domain)) == domain


def test_jsonl_rows_join_title_and_text_when_title_is_separate(tmp_path: Path) -> None:
    rows = [
        {"title": "电梯坏了", "text": "3幢电梯停了", "label": "report_elevator"},
        {
            "title": "电梯坏了",
            "text": "电梯坏了3幢",
            "label": "report_elevator",
            "text_includes_title": True,
        },
        {"title": None, "text": "楼上太吵", "label": "report_noise"},
        {"text": "你好", "label": "greet"},
    ]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    data = nlu.load_training_data(path)
    assert [e.text for e in data.examples] == [
        "电梯坏了。3幢电梯停了",
        "电梯坏了3幢",
        "楼上太吵",
        "你好",
    ]
    assert data.intents == ["report_elevator", "report_noise", "greet"]


def test_jsonl_error_names_the_line_when_a_row_is_bad(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n', "utf-8")
    with pytest.raises(nlu.TrainingDataError, match=r"bad.jsonl:2"):
        nlu.load_training_data(path)


def test_directory_merges_nlu_files_and_skips_domain_when_loading(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        "nlu:\n- intent: greet\n  examples: |\n    - 你好\n"
        "- lookup: community\n  examples: |\n    - 阳光花园\n",
        "utf-8",
    )
    (tmp_path / "b.yml").write_text(
        "nlu:\n- intent: thanks\n  examples: |\n    - 谢谢\n"
        "- lookup: community\n  examples: |\n    - 阳光花园\n    - 幸福小区\n",
        "utf-8",
    )
    (tmp_path / "domain.yml").write_text(DOMAIN, "utf-8")
    data = nlu.load_training_data(tmp_path)
    assert [e.text for e in data.examples] == ["你好", "谢谢"]
    assert data.lookups == {"community": ["阳光花园", "幸福小区"]}


def test_load_training_data_fails_clearly_when_path_is_missing(tmp_path: Path) -> None:
    with pytest.raises(nlu.TrainingDataError, match="no training data"):
        nlu.load_training_data(tmp_path / "missing.yml")


PROJECT = Path(__file__).resolve().parents[1] / "data" / "rasa_project"


def project_data() -> nlu.TrainingData:
    return nlu.parse_rasa_yaml((PROJECT / "data" / "nlu.yml").read_text("utf-8"))


def test_several_entities_on_one_span_are_read_in_both_forms_and_written_as_a_list() -> None:
    data = project_data()
    moves = {e.text: e for e in data.examples if e.intent == "transfer_household"}
    listed = moves["我要把户口迁到宁波"]
    assert [(a.entity, a.role, listed.text[a.start : a.end]) for a in listed.entities] == [
        ("city", "to", "宁波"),
        ("place", None, "宁波"),
    ]
    chained = moves["从上海迁户口需要什么"]  # [上海]{..}{..}: two entities, no literal braces
    assert [(a.entity, a.role) for a in chained.entities] == [("city", "from"), ("place", None)]
    assert "{" not in chained.text and "[" not in chained.text
    written = render_example(chained)
    assert written == (
        '从[上海][{"entity": "city", "role": "from"}, {"entity": "place"}]迁户口需要什么'
    )
    assert parse_example(written, "transfer_household") == chained
    again = nlu.parse_rasa_yaml(nlu.dump_rasa_yaml(data))
    assert [(e.text, e.entities) for e in again.examples] == [
        (e.text, e.entities) for e in data.examples
    ]


@pytest.mark.parametrize(
    "markup",
    [
        '从[上海][{"entity": "city"} 和 {"entity": "place"}]出发',
        '从[上海]{"entity": {"nested": 1}}出发',
        '从[上海]{"entity": "city"',
    ],
)
def test_an_entity_annotation_that_cannot_be_read_is_refused_never_kept_as_text(
    markup: str,
) -> None:
    with pytest.raises(nlu.TrainingDataError, match="cannot read an entity annotation"):
        parse_example(markup, "transfer_household")


def test_example_and_intent_metadata_and_retrieval_intents_survive_a_round_trip() -> None:
    data = project_data()
    book = [e for e in data.examples if e.intent == "book_visit"]
    assert book[0].metadata == {"owner": "户籍科", "sentiment": "neutral"}
    assert all(e.metadata and e.metadata["owner"] == "户籍科" for e in book)
    assert "faq/ask_hours" in data.intents and "faq/ask_documents" in data.intents
    text = nlu.dump_rasa_yaml(data)
    assert "- intent: faq/ask_hours\n" in text  # as a Rasa project writes it
    again = nlu.parse_rasa_yaml(text)
    assert [(e.intent, e.text, e.metadata) for e in again.examples] == [
        (e.intent, e.text, e.metadata) for e in data.examples
    ]
    assert nlu.dump_rasa_yaml(again) == text


def test_merging_our_domain_keeps_everything_the_project_has() -> None:
    theirs = (PROJECT / "domain.yml").read_text("utf-8")
    ours = nlu.Domain(
        intents=["greet", "report_elevator", "faq"],
        entities=["building", "date", "time"],
        slots={
            "building": {"type": "text", "mappings": [{"type": "from_text"}]},
            "description": {"type": "text", "mappings": [{"type": "from_text"}]},
        },
    )
    merged_text = nlu.merge_domain_yaml(theirs, ours)
    merged = nlu.parse_domain_yaml(merged_text)
    assert merged.intents == ["greet", "book_visit", "transfer_household", "faq", "report_elevator"]
    assert merged.intent_properties["book_visit"] == {"use_entities": ["date", "office"]}
    assert merged.entities == ["date", "office", "city", "place", "building", "time"]
    assert merged.entity_properties["city"] == {"roles": ["from", "to"]}
    assert merged.slots["building"]["type"] == "float"  # theirs, not ours
    assert merged.slots["office"]["values"] == ["户籍窗口", "社保窗口"]
    assert "description" in merged.slots
    import yaml

    doc = yaml.safe_load(merged_text)
    assert doc["responses"]["utter_faq/ask_hours"] == [{"text": "工作日上午九点到下午五点。"}]
    assert doc["actions"] == ["action_book_visit"]
    assert doc["session_config"]["session_expiration_time"] == 60
    with pytest.raises(nlu.TrainingDataError):
        nlu.merge_domain_yaml("- just\n- a list\n", ours)


def test_a_projects_own_date_entity_is_not_overridden_by_the_time_extractor() -> None:
    mini = nlu.load_training_data(Path(__file__).resolve().parent / "fixtures" / "mini.yml")
    project = project_data()
    own = nlu.train(mini.merge(nlu.TrainingData(project.examples, lookups=project.lookups)))
    found = [(e.type, e.text, e.value) for e in own.parse("我想明天去社区").entities]
    assert ("date", "明天", "明天") in found and all(t != "time" for t, _, _ in found)
    ours = nlu.train(mini)  # without a date entity of its own the built-in reading stays
    assert [e.type for e in ours.parse("我想明天去社区").entities] == ["time"]
