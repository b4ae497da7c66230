"""`minhu doctor`: is this configuration safe to run in production?

``config_findings`` looks at the settings alone (``serve`` refuses to start in prod when one is
fatal); ``account_findings`` also looks at the console accounts (the published demo password).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.config import Settings
from handlers.account_service import verify_password
from handlers.accounts import DEMO_PASSWORD
from storage.interfaces import Store

Level = Literal["fatal", "warning"]


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    code: str
    message: str  # Chinese, then English


def config_findings(settings: Settings) -> list[Finding]:
    """Unsafe production settings (none outside prod: dev and test are meant to be easy)."""
    if settings.env != "prod":
        return []
    found: list[Finding] = []
    key = settings.secret_key.get_secret_value()
    if "dev-only" in key or len(key) < 32:
        found.append(
            Finding(
                "fatal",
                "secret_key",
                "缺少足够长的密钥：请设置 MINHU_SECRET_KEY 或 MINHU_SECRET_KEY_FILE（至少32个字符）"
                " / missing or short secret key",
            )
        )
    if settings.demo_in_prod:
        found.append(
            Finding(
                "fatal",
                "demo",
                "生产环境开启了演示模式（MINHU_DEMO_IN_PROD）：任何人都能冒充网格员"
                " / demo mode is on in prod: anyone can act as any worker",
            )
        )
    if settings.wechat is not None and settings.wechat.aes_key is None:
        found.append(
            Finding(
                "warning",
                "wechat_plaintext",
                "微信公众号使用明文模式：请在公众号后台改为安全模式并设置 MINHU_WECHAT__AES_KEY"
                " / WeChat plaintext mode: use safe mode (AES)",
            )
        )
    if not settings.redis_url:
        found.append(
            Finding(
                "warning",
                "no_redis",
                "未配置 Redis（MINHU_REDIS_URL）：登录锁定、频率限制和防重放只在单个进程内有效"
                " / no Redis: login locks, rate limits and replay checks are per process",
            )
        )
    if not settings.rate_limits.enabled:
        found.append(Finding("warning", "rate_limits", "频率限制已关闭 / rate limits are off"))
    if not settings.public_base_url.startswith("https://"):
        found.append(
            Finding(
                "warning",
                "http",
                "MINHU_PUBLIC_BASE_URL 不是 https：登录 Cookie 不会带 Secure 标记"
                " / public URL is not https: cookies are not Secure",
            )
        )
    if settings.s3 is None:
        found.append(
            Finding(
                "warning",
                "objects_local",
                "未配置对象存储（MINHU_S3__…）：照片和模型只在本机目录，多副本之间不共享"
                " / no object store: photos and models stay on this machine's disk",
            )
        )
    if settings.metrics_token is None:
        found.append(
            Finding(
                "warning",
                "metrics",
                "未设置 MINHU_METRICS_TOKEN：/metrics 在生产环境不提供，Prometheus 无法抓取"
                " / no metrics token: /metrics is off in prod",
            )
        )
    return found


async def account_findings(store: Store, settings: Settings) -> list[Finding]:
    """Active console accounts that still open with the published demo password."""
    if settings.env != "prod":
        return []
    async with store.unit() as uow:
        users = [u for u in await uow.admin.users() if u.active][:200]
    found: list[Finding] = []
    for user in users:
        ok, _ = await verify_password(DEMO_PASSWORD, user.password_hash)
        if ok:
            found.append(
                Finding(
                    "fatal",
                    "default_password",
                    f"账号 {user.username} 仍在使用公开的演示密码，请立即修改或停用"
                    f" / account {user.username} has the published demo password",
                )
            )
    return found


def report(findings: list[Finding]) -> str:
    if not findings:
        return "未发现不安全的配置 / no unsafe configuration found"
    marks = {"fatal": "✗ 严重", "warning": "! 注意"}
    return "\n".join(f"{marks[f.level]} [{f.code}] {f.message}" for f in findings)
