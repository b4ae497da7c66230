"""Reading training data from disk: Rasa NLU YAML files, directories of them, or JSONL."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from nlu.errors import TrainingDataError
from nlu.rasa import parse_rasa_yaml
from nlu.types import Example, TrainingData

_YAML_SUFFIXES = (".yml", ".yaml")


def jsonl_row_text(row: dict[str, object]) -> str:
    """The input text of a JSONL row: title + "。" + text, unless the text has the title.

    A row's ``title`` is joined in front of ``text`` with "。"; ``text_includes_title: true``
    means the text already starts with it, and a null or missing title means text only.
    """
    text = str(row.get("text") or "")
    title = row.get("title")
    if not title or row.get("text_includes_title"):
        return text
    return f"{title}。{text}"


def load_jsonl(path: Path, *, label_field: str = "label") -> TrainingData:
    """Read a JSONL file with ``text`` and ``label`` fields (and optional ``title``).

    Raises:
        TrainingDataError: unreadable file, a line that is not JSON, or a row lacking fields.
    """
    data = TrainingData()
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise TrainingDataError(f"cannot read {path}: {e}") from e
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise TrainingDataError(f"{path}:{number}: not JSON: {e}") from e
        if not isinstance(row, dict) or "text" not in row or label_field not in row:
            raise TrainingDataError(f"{path}:{number}: needs 'text' and '{label_field}' fields")
        data.examples.append(Example(jsonl_row_text(row), str(row[label_field])))
    return data


def _is_nlu_yaml(text: str) -> bool:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        return True  # let parse_rasa_yaml report the error with its message
    return isinstance(raw, dict) and "nlu" in raw


def load_training_data(path: Path) -> TrainingData:
    """Load training data from a Rasa NLU YAML file, a directory of them, or a JSONL file.

    In a directory, every ``*.yml``/``*.yaml`` file with an ``nlu:`` section is read (in name
    order, recursively) and merged; other YAML files there (a domain, stories) are skipped.

    Raises:
        TrainingDataError: the path does not exist, or a file cannot be parsed.
    """
    if path.is_dir():
        merged = TrainingData()
        files = sorted(p for p in path.rglob("*") if p.suffix in _YAML_SUFFIXES and p.is_file())
        for file in files:
            text = _read(file)
            if _is_nlu_yaml(text):
                merged = merged.merge(_parse(file, text))
        return merged
    if not path.is_file():
        raise TrainingDataError(f"no training data at {path}")
    if path.suffix == ".jsonl":
        return load_jsonl(path)
    return _parse(path, _read(path))


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TrainingDataError(f"cannot read {path}: {e}") from e


def _parse(path: Path, text: str) -> TrainingData:
    try:
        return parse_rasa_yaml(text)
    except TrainingDataError as e:
        raise TrainingDataError(f"{path}: {e}") from e
