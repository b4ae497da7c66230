"""No Docker engine runs here, so the docker files are checked for consistency instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (ROOT / "docker" / "compose.yaml").read_text(encoding="utf-8")
    )
    return data


def _env_file(name: str) -> dict[str, str]:
    text = (ROOT / "docker" / name).read_text(encoding="utf-8")
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return {k: v for k, v in pairs}


def test_compose_runs_replicas_behind_a_proxy_with_every_service_health_checked() -> None:
    services = _compose()["services"]
    assert set(services) == {
        "migrate",
        "app",
        "worker",
        "proxy",
        "postgres",
        "redis",
        "minio",
        "prometheus",
        "grafana",
    }
    for name in ("app", "proxy", "postgres", "redis", "minio", "prometheus", "grafana"):
        assert services[name]["healthcheck"]["test"], name
    assert services["app"]["deploy"]["replicas"] >= 2
    assert "/readyz" in " ".join(services["app"]["healthcheck"]["test"])
    assert services["app"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert "ports" not in services["app"]  # only through the proxy
    # heavy work off the web replicas: they queue it, the worker service takes it
    assert services["app"]["environment"]["MINHU_JOBS__RUNNER"] == "worker"
    assert services["worker"]["command"] == ["minhu", "worker", "run"]
    assert services["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert "ports" not in services["worker"] and "expose" not in services["worker"]
    nginx = (ROOT / "docker" / "nginx.conf").read_text(encoding="utf-8")
    assert "server app:8000" in nginx and "ssl_certificate" in nginx


def test_compose_takes_secrets_from_env_files_and_loads_no_demo() -> None:
    compose = _compose()
    text = (ROOT / "docker" / "compose.yaml").read_text(encoding="utf-8")
    assert "PASSWORD:" not in text and "SECRET_KEY:" not in text  # no inline secrets
    for name in ("migrate", "app", "postgres", "redis", "minio", "grafana"):
        for env_file in compose["services"][name]["env_file"]:
            assert (ROOT / "docker" / f"{env_file}.example").exists(), env_file
    for secret in compose["secrets"].values():  # files that are never committed
        assert (ROOT / "docker" / f"{secret['file']}.example").exists(), secret
        assert f"docker/{secret['file'].removeprefix('./')}" in (ROOT / ".gitignore").read_text()
    for name in ("migrate", "app"):
        env = compose["services"][name]["environment"]
        assert env["MINHU_ENV"] == "prod" and env["MINHU_LOAD_DEMO"] == "false"
    assert compose["services"]["app"]["environment"]["MINHU_BOOTSTRAP"] == "false"
    assert compose["services"]["migrate"]["environment"]["MINHU_BOOTSTRAP"] == "true"


def test_compose_environment_is_valid_configuration() -> None:
    env = {**_env_file("minhu.env.example"), **_compose()["services"]["app"]["environment"]}
    env["MINHU_SECRET_KEY"] = "k" * 64  # the example's placeholder is refused in prod
    env.pop("MINHU_BOOTSTRAP")  # read by the entrypoint, not by Settings
    env.pop("PROMETHEUS_MULTIPROC_DIR")  # read by prometheus_client
    # the compose secret exists only in a container: the same value, given directly
    assert env.pop("MINHU_METRICS_TOKEN_FILE") == "/run/secrets/metrics_token"
    env["MINHU_METRICS_TOKEN"] = "t" * 64
    fields = {f"MINHU_{name.upper()}" for name in Settings.model_fields}
    nested: dict[str, Any] = {}
    for key, value in env.items():
        assert key.split("__")[0] in fields, key
        name, _, sub = key.removeprefix("MINHU_").lower().partition("__")
        if sub:
            nested.setdefault(name, {})[sub] = value
        else:
            nested[name] = value
    settings = Settings(**nested)
    assert settings.s3 is not None and settings.s3.endpoint_url == "http://minio:9000"
    minio = _env_file("minio.env.example")
    assert settings.s3.access_key.get_secret_value() == minio["MINIO_ROOT_USER"]
    assert settings.s3.secret_key.get_secret_value() == minio["MINIO_ROOT_PASSWORD"]
    assert settings.env == "prod" and not settings.load_demo
    assert settings.database_url.startswith("postgresql://")
    assert settings.redis_url is not None and settings.redis_url.startswith("redis://")
    pg = _env_file("postgres.env.example")
    assert f"{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}" in (
        settings.database_url
    )
    assert _env_file("redis.env.example")["REDIS_PASSWORD"] in settings.redis_url


def test_lock_file_pins_every_runtime_dependency() -> None:
    import tomllib

    from packaging.requirements import Requirement

    pins = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, line
            pins[name] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for dep in project["dependencies"]:
        req = Requirement(dep)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} missing from requirements.lock"
        assert req.specifier.contains(pins[name]), (name, pins[name], str(req.specifier))
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".git" in ignored and ".venv" in ignored and "tests" in ignored


def test_dockerfile_copies_what_exists_and_runs_the_cli() -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    for source in re.findall(r"^COPY (?:--chown=\S+ )?(\S+)", dockerfile, flags=re.M):
        for part in source.split():
            assert (ROOT / part).exists(), part
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text(encoding="utf-8")
    assert "minhu db upgrade" in entrypoint and "minhu nlu train --if-missing" in entrypoint
    assert 'CMD ["minhu", "serve"]' in dockerfile


def test_prometheus_scrapes_every_replica_with_the_token_and_the_proxy_hides_metrics() -> None:
    compose = _compose()
    config = yaml.safe_load((ROOT / "docker" / "prometheus.yml").read_text(encoding="utf-8"))
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["dns_sd_configs"] == [
        {"names": ["app"], "type": "A", "port": 8000, "refresh_interval": "30s"}
    ]
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert "metrics_token" in compose["services"]["prometheus"]["secrets"]
    assert "metrics_token" in compose["services"]["app"]["secrets"]
    nginx = (ROOT / "docker" / "nginx.conf").read_text(encoding="utf-8")
    assert "location = /metrics {\n        return 404;" in nginx
    assert compose["services"]["grafana"]["ports"] == ["127.0.0.1:3000:3000"]


def test_the_grafana_dashboard_uses_only_metrics_minhu_exports() -> None:
    import json

    from bot.metrics import exposition
    from storage.observability import Snapshot

    exported = set(
        re.findall(
            r"^# TYPE (\S+)",
            exposition(Snapshot({}, 0.0, {}, {}, 0)).decode(),
            flags=re.M,
        )
    )
    dashboard = json.loads((ROOT / "docker" / "grafana" / "minhu.json").read_text("utf-8"))
    provisioned = yaml.safe_load(
        (ROOT / "docker/grafana/provisioning/datasources/prometheus.yaml").read_text("utf-8")
    )
    uid = provisioned["datasources"][0]["uid"]
    used: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        for target in panel["targets"]:
            used |= set(re.findall(r"minhu_[a-z_]+", target["expr"]))
    assert len(dashboard["panels"]) >= 10
    for name in used:
        base = re.sub(r"_(bucket|count|sum|total)$", "", name)
        assert name in exported or base in exported, name
    for wanted in (
        "minhu_messages",
        "minhu_reply_seconds",
        "minhu_nlu_fallback",
        "minhu_outbox_items",
        "minhu_dead_letters",
        "minhu_sla_breached",
        "minhu_tickets",
    ):
        assert any(n.startswith(wanted) for n in used), wanted
