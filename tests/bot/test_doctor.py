"""`minhu doctor` and `serve` in production; `minhu demo` and the first admin (issue 11)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from bot.config import Settings
from bot.doctor import config_findings
from tests.bot.test_cli import env as env
from tests.bot.test_cli import minhu

KEY = "k" * 48


def test_an_unsafe_prod_configuration_is_reported() -> None:
    settings = Settings(
        env="prod",
        secret_key=SecretStr("short-but-not-dev"),
        demo_in_prod=True,
        wechat={"app_id": "wx1", "secret": "s" * 32, "token": "t" * 32},
        redis_url=None,  # whatever the environment running the tests says
    )
    codes = {f.code: f.level for f in config_findings(settings)}
    assert codes["secret_key"] == "fatal" and codes["demo"] == "fatal"
    assert codes["wechat_plaintext"] == "warning" and codes["no_redis"] == "warning"


def test_a_safe_prod_configuration_has_no_findings() -> None:
    settings = Settings(
        env="prod",
        secret_key=SecretStr(KEY),
        redis_url="redis://127.0.0.1:6379/0",
        public_base_url="https://minhu.example.cn",
        metrics_token=SecretStr("t" * 32),
        s3={"endpoint_url": "http://minio:9000", "access_key": "minhu", "secret_key": "s" * 32},
    )
    assert config_findings(settings) == []


def test_prod_without_a_metrics_token_is_warned_that_metrics_are_off() -> None:
    settings = Settings(env="prod", secret_key=SecretStr(KEY), redis_url="redis://h:6379/0")
    codes = {f.code: f.level for f in config_findings(settings)}
    assert codes["metrics"] == "warning" and codes["objects_local"] == "warning"


def test_secret_key_is_read_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(KEY + "\n", encoding="utf-8")
    settings = Settings(env="prod", secret_key_file=path)
    assert settings.secret_key.get_secret_value() == KEY


def test_serve_refuses_prod_with_demo_mode_and_doctor_says_why(env: dict[str, str]) -> None:
    prod = {**env, "MINHU_ENV": "prod", "MINHU_SECRET_KEY": KEY, "MINHU_DEMO_IN_PROD": "true"}
    served = minhu("serve", "--port", "1", env=prod)
    assert served.returncode == 2
    assert "拒绝启动" in served.stderr and "[demo]" in served.stderr
    checked = minhu("doctor", env=prod)
    assert checked.returncode == 1 and "[demo]" in checked.stdout


def test_prod_never_loads_the_demo_and_bootstraps_the_first_admin(env: dict[str, str]) -> None:
    prod = {**env, "MINHU_ENV": "prod", "MINHU_SECRET_KEY": KEY}
    refused = minhu("demo", env=prod)
    assert refused.returncode == 2 and "prod" in refused.stderr
    created = minhu(
        "admin",
        "create",
        "--username",
        "chief",
        "--password-stdin",
        env=prod,
        stdin="a-Long-Passphrase-2026\n",
    )
    assert created.returncode == 0, created.stderr
    assert "chief" in created.stdout
    checked = minhu("doctor", env=prod)
    assert "default_password" not in checked.stdout
