"""The `minhu` command line, run as a user would (a subprocess with its own environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.storage.test_migrations import CHAIN

ROOT = Path(__file__).resolve().parents[2]


def minhu(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(tmp_path: Path, trained_models: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MINHU_")}
    clean.update(
        MINHU_DATA_DIR=str(tmp_path),
        MINHU_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        MINHU_MODEL_DIR=str(trained_models),
    )
    return clean


def test_demo_loads_once_and_prints_the_registry_as_json(env: dict[str, str]) -> None:
    first = minhu("demo", env=env)
    assert first.returncode == 0, first.stderr
    assert "demo community loaded" in first.stdout
    second = minhu("demo", env=env)
    assert "unchanged" in second.stdout
    shown = minhu("demo", "--json", env=env)
    registry = json.loads(shown.stdout)
    assert [g["name"] for g in registry["grids"]][:3] == ["第一网格", "第二网格", "第三网格"]
    assert len(registry["buildings"]) == 12
    zhang = next(w for w in registry["workers"] if w["name"] == "张伟")
    assert zhang["web_user_id"] == "worker-zhang" and zhang["grid"] == "第一网格"


def test_terminal_chat_files_a_report(env: dict[str, str]) -> None:
    script = "\n".join(["5号楼楼道里有人给电动车充电，很危险", "跳过", "13900001234", "1", ""])
    done = minhu("chat", "--user", "cli-resident", env=env, stdin=script)
    assert done.returncode == 0, done.stderr
    assert "已受理！工单号 MH-" in done.stdout
    assert "李娜" in done.stdout  # 5幢 is in 第二网格


def test_bad_configuration_is_reported_without_a_traceback(env: dict[str, str]) -> None:
    env = {**env, "MINHU_CONVERSATION_TTL_SECONDS": "soon"}
    done = minhu("demo", env=env)
    assert done.returncode == 2
    assert "configuration error" in done.stderr and "Traceback" not in done.stderr


def test_db_upgrade_says_what_it_did_on_a_new_and_on_a_current_database(
    env: dict[str, str],
) -> None:
    first = minhu("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert f"new database: created the schema with {len(CHAIN)} migrations" in first.stdout
    assert " → ".join(CHAIN) in first.stdout
    second = minhu("db", "upgrade", env=env)
    assert f"database already at {CHAIN[-1]}: nothing to apply" in second.stdout
    assert "数据库已是最新版本" in second.stdout


def test_objects_move_photos_moves_rows_stored_before_0016_to_s3(
    env: dict[str, str], tmp_path: Path, s3_settings: dict[str, str]
) -> None:
    import sqlite3

    from storage.objects import S3ObjectStore

    assert minhu("db", "upgrade", env=env).returncode == 0
    png = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32
    with sqlite3.connect(tmp_path / "cli.db") as db:
        for n in range(3):
            db.execute(
                "INSERT INTO attachment (kind, mime, filename, size, sha256, content, object_key,"
                " channel, uploaded_by, created_at) VALUES ('image', 'image/png', ?, ?, '', ?,"
                " '', 'web', 'web:old', '2026-01-05 08:00:00.000000')",
                (f"p{n}.png", len(png), png),
            )
    env = {**env, **{f"MINHU_S3__{k.upper()}": v for k, v in s3_settings.items()}}
    moved = minhu("objects", "move-photos", "--batch", "2", env=env)
    assert moved.returncode == 0, moved.stderr
    assert "moved 3 photos" in moved.stdout and f"s3://{s3_settings['bucket']}" in moved.stdout
    again = minhu("objects", "move-photos", env=env)
    assert "moved 0 photos" in again.stdout
    with sqlite3.connect(tmp_path / "cli.db") as db:
        rows = db.execute("SELECT object_key, length(content) FROM attachment").fetchall()
    bucket = S3ObjectStore(**s3_settings)
    assert [n for _, n in rows] == [0, 0, 0]
    assert all(key.startswith("photos/2026/01/") and bucket.get(key) == png for key, _ in rows)
