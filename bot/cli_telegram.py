"""`minhu telegram ...`: webhook registration and long polling for the Telegram channel."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from bot.cli_common import load_settings
from bot.config import Settings, TelegramSettings

app = typer.Typer(help="Telegram bot: webhook or long polling.", no_args_is_help=True)

_T = TypeVar("_T")


def _settings() -> tuple[Settings, TelegramSettings]:
    settings = load_settings()
    if settings.telegram is None:
        typer.echo("未配置 Telegram / not configured: set MINHU_TELEGRAM__TOKEN", err=True)
        raise typer.Exit(2)
    return settings, settings.telegram


def _with_bot(telegram: TelegramSettings, action: Callable[..., Awaitable[_T]]) -> _T:
    from aiogram.exceptions import TelegramAPIError

    from bot.channels.telegram import make_bot

    async def main() -> _T:
        bot = make_bot(telegram)
        try:
            return await action(bot)
        finally:
            await bot.session.close()

    try:
        return asyncio.run(main())
    except TelegramAPIError as e:
        typer.echo(f"Telegram 接口错误 / Bot API error: {e.message}", err=True)
        raise typer.Exit(1) from e


@app.command("set-webhook")
def set_webhook(
    url: Annotated[
        str | None, typer.Option(help="public HTTPS URL (default: MINHU_PUBLIC_BASE_URL)")
    ] = None,
    drop_pending: Annotated[
        bool, typer.Option("--drop-pending", help="discard updates Telegram is holding")
    ] = False,
) -> None:
    """Point Telegram at POST /webhooks/telegram, with the secret header, and set the menu."""
    from aiogram import Bot

    from bot.channels.telegram import ALLOWED_UPDATES, publish_commands

    settings, telegram = _settings()
    if telegram.webhook_secret is None:
        typer.echo("请先设置 MINHU_TELEGRAM__WEBHOOK_SECRET / set a webhook secret first", err=True)
        raise typer.Exit(2)
    target = url or f"{settings.public_base_url.rstrip('/')}/webhooks/telegram"
    secret = telegram.webhook_secret.get_secret_value()

    async def action(bot: Bot) -> None:
        await bot.set_webhook(
            target,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=drop_pending,
        )
        await publish_commands(bot)

    _with_bot(telegram, action)
    typer.echo(f"webhook set: {target}")


@app.command("delete-webhook")
def delete_webhook(
    drop_pending: Annotated[
        bool, typer.Option("--drop-pending", help="discard updates Telegram is holding")
    ] = False,
) -> None:
    """Remove the webhook (for example before switching to `minhu telegram poll`)."""
    from aiogram import Bot

    _, telegram = _settings()

    async def action(bot: Bot) -> None:
        await bot.delete_webhook(drop_pending_updates=drop_pending)

    _with_bot(telegram, action)
    typer.echo("webhook deleted")


@app.command("info")
def info() -> None:
    """Show the bot's username and the webhook Telegram has on record."""
    from aiogram import Bot

    _, telegram = _settings()

    async def action(bot: Bot) -> str:
        me = await bot.get_me()
        hook = await bot.get_webhook_info()
        lines = [f"bot: @{me.username} ({me.first_name})", f"webhook: {hook.url or '-'}"]
        lines.append(f"pending updates: {hook.pending_update_count}")
        if hook.last_error_message:
            lines.append(f"last error: {hook.last_error_message}")
        return "\n".join(lines)

    typer.echo(_with_bot(telegram, action))


@app.command("poll")
def poll() -> None:
    """Run the bot with long polling (no public URL needed): updates, outbox, card edits."""
    from bot.channels import CHANNELS
    from bot.channels.telegram import TelegramRuntime, publish_commands
    from bot.container import build, start_background
    from bot.demo import load_demo
    from bot.logs import configure_logging
    from bot.notify.telegram import CHANNEL as NAME

    settings, _ = _settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)

    async def main() -> None:
        container = await build(settings, channels=CHANNELS)
        try:
            if settings.loads_demo and await load_demo(container.store):
                container.service.invalidate_registry()
            runtime = container.extras[NAME]
            if not isinstance(runtime, TelegramRuntime):  # pragma: no cover - wiring
                raise RuntimeError("telegram channel not wired")
            for channel in CHANNELS:
                if channel.enabled(settings):
                    await channel.start(container)
            await start_background(container)
            await publish_commands(runtime.bot)
            typer.echo("polling Telegram (Ctrl-C to stop)")
            await runtime.poll()
        finally:
            await container.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
