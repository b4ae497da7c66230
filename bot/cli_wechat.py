"""``minhu wechat``: stairwell QR codes, the custom menu, binding grid workers to openids."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli_common import load_settings
from bot.config import Settings, WeChatSettings

wechat_app = typer.Typer(
    help="WeChat official account: stairwell QR codes, menu, worker binding.",
    no_args_is_help=True,
)

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Serif CJK SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)


def _settings() -> tuple[Settings, WeChatSettings]:
    settings = load_settings()
    if settings.wechat is None:
        typer.echo(
            "未配置公众号 / WeChat is not configured: set MINHU_WECHAT__APP_ID, "
            "MINHU_WECHAT__SECRET and MINHU_WECHAT__TOKEN",
            err=True,
        )
        raise typer.Exit(2)
    return settings, settings.wechat


@dataclass
class _Tools:
    store: Any
    api: Any


@asynccontextmanager
async def _connected(settings: Settings, wechat: WeChatSettings) -> AsyncIterator[_Tools]:
    """Database, the shared token store (Redis when configured) and the WeChat API."""
    from bot.wechat import logs as wechat_logs
    from bot.wechat.api import WeChatApi
    from storage.db import Database
    from storage.repositories import SqlStore
    from storage.state import make_session_store

    wechat_logs.install()
    database = Database(settings.database_url)
    sessions = make_session_store(settings.redis_url, settings.redis_prefix)
    api = WeChatApi(
        app_id=wechat.app_id,
        secret=wechat.secret.get_secret_value(),
        base=wechat.api_base,
        sessions=sessions,
        timeout=wechat.api_timeout_seconds,
    )
    try:
        await database.migrate()
        await sessions.connect()
        yield _Tools(SqlStore(database), api)
    finally:
        await api.aclose()
        await sessions.close()
        await database.dispose()


def _run(coro: Any) -> Any:
    from bot.wechat.api import WeChatError
    from storage.errors import StorageError

    try:
        return asyncio.run(coro)
    except WeChatError as e:
        typer.echo(f"微信接口出错 / WeChat API error: {e}", err=True)
        raise typer.Exit(1) from e
    except StorageError as e:
        typer.echo(f"数据库或 Redis 不可用 / storage unavailable: {e}", err=True)
        raise typer.Exit(1) from e


def find_cjk_font() -> Path | None:
    """A font that can print Chinese captions, if the machine has one (fontconfig first)."""
    import shutil
    import subprocess

    if shutil.which("fc-list"):
        listed = subprocess.run(
            ["fc-list", ":lang=zh", "file", "family"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.splitlines()

        def rank(line: str) -> tuple[int, str]:
            for i, family in enumerate(CJK_FONTS):
                if family in line:
                    return i, line
            return len(CJK_FONTS), line

        for line in sorted(listed, key=rank):
            path = Path(line.split(":", 1)[0].strip())
            if "Mono" not in line and path.is_file():
                return path
    from matplotlib import font_manager

    for family in CJK_FONTS:
        try:
            found = font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        if found:
            return Path(found)
    return None


def qr_png(url: str, title: str, subtitle: str, font: Path | None) -> Any:
    """A printable code: the QR (error correction H survives a worn sticker) and a caption."""
    import qrcode
    from PIL import Image, ImageDraw, ImageFont

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_H, box_size=14, border=4)
    code.add_data(url)
    code.make(fit=True)
    qr = code.make_image(fill_color="black", back_color="white").convert("RGB")
    if font is None:
        return qr
    caption = 170
    image = Image.new("RGB", (qr.width, qr.height + caption), "white")
    image.paste(qr, (0, 0))
    draw = ImageDraw.Draw(image)
    big = ImageFont.truetype(str(font), 52)
    small = ImageFont.truetype(str(font), 32)
    for text, face, top in ((title, big, qr.height), (subtitle, small, qr.height + 80)):
        width = draw.textlength(text, font=face)
        draw.text(((image.width - width) / 2, top), text, fill="black", font=face)
    return image


def _safe_name(text: str) -> str:
    return re.sub(r"[^\w\-]+", "_", text).strip("_") or "building"


@wechat_app.command("qrcodes")
def qrcodes(
    out: Annotated[Path, typer.Option(help="folder for the PNG files")] = Path("qrcodes"),
    community: Annotated[str | None, typer.Option(help="only this community (name)")] = None,
    font: Annotated[Path | None, typer.Option(help="a TTF/OTF/TTC font with Chinese")] = None,
) -> None:
    """Create one permanent QR code per building (scene = the building's stable code) and
    write PNGs; the same building gets the same code after a registry rebuild.

    Post each code in its stairwell: a resident who scans it starts a report with the
    building already known (a new follower subscribes and starts it in one step).
    """
    settings, wechat = _settings()
    caption_font = font or find_cjk_font()

    async def main() -> list[tuple[str, Path]]:
        written: list[tuple[str, Path]] = []
        async with _connected(settings, wechat) as tools:
            async with tools.store.unit() as uow:
                communities = {c.id: c.name for c in await uow.registry.communities()}
                buildings = list(await uow.registry.buildings())
            if community is not None:
                buildings = [b for b in buildings if communities.get(b.community_id) == community]
            out.mkdir(parents=True, exist_ok=True)
            for building in buildings:
                answer = await tools.api.create_qrcode(building.code)
                place = f"{communities.get(building.community_id, '')}{building.name}"
                image = qr_png(
                    str(answer["url"]), place, "微信扫一扫 · 反映楼里的问题", caption_font
                )
                path = out / f"{_safe_name(place)}-{_safe_name(building.code)}.png"
                await asyncio.to_thread(image.save, path)
                written.append((place, path))
        return written

    written = _run(main())
    if not written:
        typer.echo("没有楼栋 / no buildings found", err=True)
        raise typer.Exit(1)
    for place, path in written:
        typer.echo(f"{place}\t{path}")
    if caption_font is None:
        typer.echo("（未找到中文字体，二维码未加文字说明；可用 --font 指定）", err=True)
    typer.echo(f"已生成 {len(written)} 个楼栋二维码 / {len(written)} codes written to {out}")


@wechat_app.command("menu")
def menu() -> None:
    """Install the custom menu: 我要报 / 我的工单 / 使用帮助."""
    from bot.channels.wechat import MENU

    settings, wechat = _settings()

    async def main() -> None:
        async with _connected(settings, wechat) as tools:
            await tools.api.create_menu(MENU)

    _run(main())
    names = " / ".join(b["name"] for b in MENU["button"])
    typer.echo(f"自定义菜单已生效 / menu installed: {names}")


@wechat_app.command("bind-worker")
def bind_worker(
    worker_id: Annotated[int, typer.Option("--worker-id", help="the grid worker's id")],
    openid: Annotated[
        str | None, typer.Option("--openid", help="the worker's openid on this account")
    ] = None,
    wecom_user: Annotated[
        str | None,
        typer.Option("--wecom-user", help="or: the worker's WeCom userid (notifications only)"),
    ] = None,
    priority: Annotated[
        int | None,
        typer.Option(
            help="lower = preferred among the worker's channels "
            "(default: WeChat first, WeCom as the fallback)"
        ),
    ] = None,
) -> None:
    """Let a grid worker receive tasks on WeChat (and act there with the worker commands)."""
    settings = load_settings()
    if (openid is None) == (wecom_user is None):
        typer.echo("请给出 --openid 或 --wecom-user 之一 / give --openid or --wecom-user", err=True)
        raise typer.Exit(2)
    channel, user_id = ("wechat", openid) if openid is not None else ("wecom", wecom_user or "")
    pattern = r"[A-Za-z0-9_\-]{6,64}" if channel == "wechat" else r"[A-Za-z0-9_.@\-]{1,64}"
    if not re.fullmatch(pattern, user_id):
        typer.echo(f"{channel} 用户 id 格式不对 / that is not a {channel} user id", err=True)
        raise typer.Exit(2)

    async def main() -> str | None:
        from storage.db import Database
        from storage.repositories import SqlStore

        database = Database(settings.database_url)
        try:
            await database.migrate()
            async with SqlStore(database).unit() as uow:
                worker = await uow.registry.worker(worker_id)
                if worker is None:
                    return None
                others = [
                    i.priority
                    for i in await uow.registry.worker_identities(worker_id)
                    if (i.channel, i.user_id) != (channel, user_id)
                ]
                default = (
                    min(others, default=1) - 1
                    if channel == "wechat"
                    else max(others, default=-1) + 1
                )
                await uow.registry.bind_worker_identity(
                    worker_id,
                    channel,
                    user_id,
                    priority=priority if priority is not None else default,
                )
                return worker.name
        finally:
            await database.dispose()

    name = _run(main())
    if name is None:
        typer.echo(f"没有编号为 {worker_id} 的网格员 / no worker {worker_id}", err=True)
        raise typer.Exit(1)
    where = "微信" if channel == "wechat" else "企业微信"
    typer.echo(f"已绑定：网格员{name}（{worker_id}）↔ {where} {user_id[:4]}…")
