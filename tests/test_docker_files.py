"""No Docker engine runs here, so the docker files are checked for consistency instead."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_compose_environment_is_valid_configuration() -> None:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text(encoding="utf-8"))
    assert set(compose["services"]) == {"app", "postgres", "redis"}
    env = {
        k: re.sub(r"\$\{[^}]+\}", "x" * 40, str(v))
        for k, v in compose["services"]["app"]["environment"].items()
    }
    fields = {f"MINHU_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields, set(env) - fields
    settings = Settings(**{k.removeprefix("MINHU_").lower(): v for k, v in env.items()})
    assert settings.env == "prod"
    assert settings.database_url.startswith("postgresql://")
    assert settings.redis_url == "redis://redis:6379/0"


def test_dockerfile_copies_what_exists_and_runs_the_cli() -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    for source in re.findall(r"^COPY (?:--chown=\S+ )?(\S+)", dockerfile, flags=re.M):
        for part in source.split():
            assert (ROOT / part).exists(), part
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text(encoding="utf-8")
    assert "minhu db upgrade" in entrypoint and "minhu nlu train --if-missing" in entrypoint
    assert 'CMD ["minhu", "serve"]' in dockerfile
