"""`minhu nlu …` as other tools script it: exit codes, files written, JSON on the last line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import nlu
from bot.cli import app

MINI = Path(__file__).resolve().parents[1] / "nlu" / "fixtures" / "mini.yml"
SOURCE_DATA = Path(__file__).resolve().parents[2] / "nlu" / "data"
runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data directory (models under it), a new database, our mini data as its seed."""
    monkeypatch.setenv("MINHU_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MINHU_DATABASE_URL", f"sqlite:///{tmp_path / 'minhu.db'}")
    monkeypatch.setenv("MINHU_NLU_DATA", str(MINI))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["nlu", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def trained(env: Path) -> str:
    code, out, _ = invoke("train")
    assert code == 0, out
    assert "activated" in out
    return (env / "var" / "models" / "ACTIVE").read_text("utf-8").strip()


def test_eval_prints_json_last_and_writes_png_misclassified_and_predictions(
    env: Path, trained: str
) -> None:
    test = env / "test.jsonl"
    rows = [
        {"title": "电梯坏了", "text": "门打不开，有人被困", "label": "report_elevator"},
        {"text": "楼上装修太吵了", "label": "report_noise"},
        {"text": "车停在消防通道", "label": "report_parking"},
        {"text": "你好", "label": "report_leak"},  # deliberately wrong
    ]
    test.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    code, out, _ = invoke(
        "eval",
        "--data",
        str(test),
        "--json",
        "--predictions",
        str(env / "pred.jsonl"),
        "--report-dir",
        str(env / "report"),
    )
    assert code == 0, out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["accuracy"] == pytest.approx(0.75)
    assert 0.0 <= summary["macro_f1"] <= 1.0
    assert summary["model"] == trained
    assert "report_elevator" in out and "macro-F1" in out  # the human-readable report too
    assert (env / "report" / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    wrong = [
        json.loads(x)
        for x in (env / "report" / "misclassified.jsonl").read_text("utf-8").splitlines()
    ]
    assert [(w["text"], w["gold"]) for w in wrong] == [("你好", "report_leak")]
    predictions = [json.loads(x) for x in (env / "pred.jsonl").read_text("utf-8").splitlines()]
    assert len(predictions) == 4
    first = predictions[0]
    assert first["text"] == "电梯坏了。门打不开，有人被困"  # title and text joined
    assert first["gold"] == first["predicted"] == "report_elevator"
    assert first["ranking"][0] == {"name": "report_elevator", "confidence": first["confidence"]}


def test_eval_fails_clearly_when_no_model_is_active(env: Path) -> None:
    code, _, err = invoke("eval", "--data", str(MINI))
    assert code == 2
    assert "no active NLU model" in err


def test_cv_reports_every_intent_and_json_when_asked(env: Path) -> None:
    code, out, _ = invoke("cv", "--folds", "3", "--json", "--report-dir", str(env / "cv"))
    assert code == 0, out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["folds"] == 3 and len(summary["fold_macro_f1"]) == 3
    assert set(summary["per_intent"]) == set(nlu.load_training_data(MINI).intents)
    assert (env / "cv" / "confusion.png").is_file()


def test_export_then_import_round_trips_rasa_yaml_without_loss(env: Path) -> None:
    data = nlu.load_training_data(Path(__file__).resolve().parents[2] / "nlu" / "data")
    code, _, _ = invoke(
        "export",
        "--data",
        str(Path(__file__).resolve().parents[2] / "nlu" / "data"),
        "--out",
        str(env / "export" / "nlu.yml"),
        "--domain",
        str(env / "export" / "domain.yml"),
    )
    assert code == 0
    exported = nlu.load_training_data(env / "export" / "nlu.yml")
    by_intent = sorted((e.intent, e.text, e.entities) for e in data.examples)
    assert sorted((e.intent, e.text, e.entities) for e in exported.examples) == by_intent
    assert (exported.synonyms, exported.regexes, exported.lookups) == (
        data.synonyms,
        data.regexes,
        data.lookups,
    )
    domain = nlu.parse_domain_yaml((env / "export" / "domain.yml").read_text("utf-8"))
    assert set(domain.intents) == set(data.intents)
    assert {"building", "unit", "room", "phone", "plate"} <= set(domain.entities)
    assert domain.slots["building"]["mappings"] == [{"type": "from_entity", "entity": "building"}]

    into = env / "site-data"
    code, out, _ = invoke(
        "import", str(env / "export" / "nlu.yml"), "--into", str(into), "--domain",
        str(env / "export" / "domain.yml"),
    )  # fmt: skip
    assert code == 0, out
    assert f"{len(data.examples)} examples" in out
    # exporting the imported copy gives the same file, byte for byte
    code, again, _ = invoke("export", "--data", str(into))
    assert again == (env / "export" / "nlu.yml").read_text("utf-8")
    # importing twice is refused unless replaced
    code, _, err = invoke("import", str(env / "export" / "nlu.yml"), "--into", str(into))
    assert code == 2 and "exists" in err


def test_import_refuses_intents_the_domain_does_not_declare(env: Path) -> None:
    domain = env / "domain.yml"
    domain.write_text('version: "3.1"\nintents:\n  - greet\n', "utf-8")
    code, _, err = invoke("import", str(MINI), "--into", str(env / "d"), "--domain", str(domain))
    assert code == 2
    assert "report_elevator" in err


def test_versions_activate_and_rollback_through_the_cli(env: Path, trained: str) -> None:
    code, out, _ = invoke("train", "--no-activate")
    assert code == 0 and "not activated" in out
    code, out, _ = invoke("versions", "--json")
    listing = json.loads(out)
    assert listing["active"] == trained
    names = [v["version"] for v in listing["versions"]]
    assert len(names) == 2 and trained in names
    second = next(n for n in names if n != trained)
    assert all("macro_f1" in v["metrics"] for v in listing["versions"])

    code, _, err = invoke("activate", second, "--force")
    assert code == 2 and "--reason" in err
    # same data, same held-out split: the candidate is not worse, so no force is needed
    code, out, err = invoke("activate", second)
    assert code == 0, err
    assert f"activated {second} (was {trained})" in out
    code, out, _ = invoke("rollback")
    assert code == 0 and f"rolled back to {trained}" in out
    code, out, _ = invoke("versions")
    assert f"* {trained}" in out


def test_parse_prints_the_decision_and_thresholds(env: Path, trained: str) -> None:
    code, out, _ = invoke("parse", "3幢电梯坏了，有人被困在里面")
    assert code == 0
    parsed = json.loads(out)
    assert parsed["intent"]["name"] == "report_elevator"
    assert parsed["decision"] in {"act", "clarify"}
    assert {e["entity"] for e in parsed["entities"]} >= {"building", "urgency"}
    assert parsed["model"] == trained


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


PETS_YAML = """version: "3.1"
nlu:
- intent: report_pets
  examples: |
    - 我家的猫跑丢了
    - 邻居家的狗半夜一直叫
    - 楼道里有流浪猫
    - 小区里有人遛狗不牵绳
    - 狗屎没人清理
    - 有条大狗在[2幢](building)单元门口咬人
    - 谁家的鹦鹉太吵
    - 捡到一只小猫
"""


def test_import_goes_into_the_database_and_never_into_the_source_tree(env: Path) -> None:
    before = _tree(SOURCE_DATA)
    pets = env / "pets.yml"
    pets.write_text(PETS_YAML, "utf-8")
    code, out, err = invoke("import", str(pets))
    assert code == 0, err
    assert "seeded the database" in err  # a new database gets the seed first
    assert "1 new intents, 8 new examples" in out and "into the database" in out
    assert _tree(SOURCE_DATA) == before and not (SOURCE_DATA / "pets.yml").exists()
    assert not list(env.glob("**/pets.yml.*"))
    # the database is what export and training read
    code, exported, _ = invoke("export")
    assert code == 0
    data = nlu.parse_rasa_yaml(exported)
    assert "report_pets" in data.intents and "report_elevator" in data.intents
    pet = next(e for e in data.examples if e.text == "有条大狗在2幢单元门口咬人")
    assert [(a.entity, pet.text[a.start : a.end]) for a in pet.entities] == [("building", "2幢")]
    code, out, err = invoke("train", "--no-activate")
    assert code == 0, err
    assert "training on the database" in err
    listing = json.loads(invoke("versions", "--json")[1])
    assert "report_pets" in listing["versions"][0]["intents"]
    # importing again adds nothing; a replacement that drops the dialogue's intents is refused
    code, out, _ = invoke("import", str(pets))
    assert code == 0 and "0 new examples (8 already there)" in out
    code, _, err = invoke("import", str(pets), "--replace")
    assert code == 2 and "nothing imported" in err and "report_elevator" in err
    code, _, err = invoke("import", str(pets), "--name", "x")
    assert code == 2 and "--into" in err


def test_train_refuses_a_new_intent_below_the_floor_unless_forced(env: Path, trained: str) -> None:
    bad = env / "bad.yml"
    bad.write_text(
        'version: "3.1"\nnlu:\n- intent: report_misc\n  examples: |\n'
        + "".join(
            f"    - {t}\n"
            for t in (
                "电梯又坏了啊", "楼上又在装修好吵", "有车停在我家门口", "厨房天花板在漏水",
                "电梯门关不上", "半夜有人大声唱歌", "消防通道被车堵了", "卫生间水管漏了",
            )
        ),
        "utf-8",
    )  # fmt: skip
    assert invoke("import", str(bad))[0] == 0
    code, out, err = invoke("train")
    assert code == 0, err
    assert "NOT activated" in out and "report_misc (new) F1" in out
    assert "below the F1 floor 0.50" in out
    listing = json.loads(invoke("versions", "--json")[1])
    assert listing["active"] == trained
    candidate = next(v["version"] for v in listing["versions"] if v["version"] != trained)
    code, _, err = invoke("activate", candidate)
    assert code == 1 and "report_misc" in err
    code, out, _ = invoke("activate", candidate, "--force", "--reason", "试用一天")
    assert code == 0 and f"activated {candidate}" in out


PROJECT = Path(__file__).resolve().parents[1] / "data" / "rasa_project"


def test_a_rasa_project_comes_in_whole_and_goes_out_whole(env: Path) -> None:
    import shutil

    import yaml

    project = env / "project"
    shutil.copytree(PROJECT, project)
    code, out, err = invoke(
        "import", str(project / "data" / "nlu.yml"), "--domain", str(project / "domain.yml")
    )
    assert code == 0, err
    assert "4 new intents" in out  # greet is ours already; both faq/… intents are kept
    assert "will not predict roles or groups" in err  # said at import, not discovered later
    assert "faq/ask_hours" in err and "date entity wins over the built-in time extractor" in err

    code, exported, _ = invoke("export")
    data = nlu.parse_rasa_yaml(exported)
    source = nlu.parse_rasa_yaml((PROJECT / "data" / "nlu.yml").read_text("utf-8"))
    theirs = {(e.intent, e.text): e for e in source.examples}
    back = {(e.intent, e.text): e for e in data.examples if (e.intent, e.text) in theirs}
    assert back.keys() == theirs.keys()
    for key, example in theirs.items():
        assert back[key].entities == example.entities, key  # roles, several on one span
        assert back[key].metadata == example.metadata, key
    assert data.lookups["date"] == ["明天", "后天", "周五", "下周一"]

    code, _, err = invoke(
        "export", "--out", str(env / "nlu.yml"), "--domain", str(project / "domain.yml")
    )
    assert code == 0 and "merged our intents" in err
    domain = nlu.parse_domain_yaml((project / "domain.yml").read_text("utf-8"))
    assert domain.intents[:4] == ["greet", "book_visit", "transfer_household", "faq"]
    assert "report_elevator" in domain.intents and "faq/ask_hours" not in domain.intents
    assert domain.slots["building"]["type"] == "float"  # the project's slot, not ours
    assert domain.entity_properties["city"] == {"roles": ["from", "to"]}
    assert {"building", "phone", "city", "place", "date"} <= set(domain.entities)
    doc = yaml.safe_load((project / "domain.yml").read_text("utf-8"))
    assert "utter_faq/ask_documents" in doc["responses"]
    assert doc["session_config"]["carry_over_slots_to_new_session"] is True


def test_import_with_a_domain_refuses_a_retrieval_intent_whose_base_is_undeclared(
    env: Path,
) -> None:
    domain = env / "domain.yml"
    domain.write_text('version: "3.1"\nintents:\n  - greet\n', "utf-8")
    faq = env / "faq.yml"
    faq.write_text(
        'version: "3.1"\nnlu:\n- intent: faq/ask_hours\n  examples: |\n    - 几点上班\n', "utf-8"
    )
    code, _, err = invoke("import", str(faq), "--domain", str(domain))
    assert code == 2 and "faq/ask_hours" in err
