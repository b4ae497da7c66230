"""`minhu worker ...`: grid workers and binding their messenger accounts (`list`,
`bind-code`), and the job worker that takes the queue's jobs (`run`)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

app = typer.Typer(
    help="Grid workers (list, bind-code) and the job worker process (run).",
    no_args_is_help=True,
)


@app.command("run")
def run_jobs(
    once: Annotated[
        bool, typer.Option("--once", help="do what is queued now, then exit (cron, tests)")
    ] = False,
) -> None:
    """The job worker: takes queued jobs (training, CSV imports, notice broadcasts, privacy
    purges) from the database and runs them; SIGTERM/Ctrl-C hands a running job back to the
    queue. Run one or more next to `minhu serve` with MINHU_JOBS__RUNNER=worker."""
    import signal

    from bot.cli_common import load_settings
    from bot.jobqueue import JobRunner, open_context
    from handlers.ports import SystemClock

    settings = load_settings()

    async def main() -> int:
        ctx = await open_context(settings, SystemClock(), migrate=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner = JobRunner(ctx)
        done = 0
        try:
            if once:
                while not stop.is_set() and await runner.run_once(stop):
                    done += 1
            else:
                typer.echo(f"job worker {runner.name}: waiting for jobs (Ctrl-C stops)")
                await runner.run_forever(stop)
        finally:
            if ctx.database is not None:
                await ctx.database.dispose()
        return done

    done = asyncio.run(main())
    if once:
        typer.echo(f"完成 {done} 个任务 / {done} jobs run")


@app.command("list")
def list_workers() -> None:
    """Workers with their ids, roles and bound channels."""
    from bot.cli_common import load_settings
    from handlers.privacy import mask_id
    from storage.db import Database
    from storage.repositories import SqlStore

    settings = load_settings()

    async def main() -> list[str]:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            lines = []
            async with SqlStore(database).unit() as uow:
                for worker in await uow.registry.workers():
                    idents = await uow.registry.worker_identities(worker.id or 0)
                    channels = ", ".join(
                        f"{i.channel}:{mask_id(i.user_id)}{'' if i.reachable else '(unreachable)'}"
                        for i in idents
                    )
                    state = "" if worker.active else " [inactive]"
                    lines.append(f"{worker.id:>4}  {worker.name}  {worker.role}{state}  {channels}")
            return lines
        finally:
            await database.dispose()

    for line in asyncio.run(main()):
        typer.echo(line)


@app.command("bind-code")
def bind_code(
    worker_id: Annotated[int, typer.Option("--worker-id", help="the grid worker's id")],
    ttl: Annotated[str, typer.Option(help="how long the code is valid: 30m, 24h, 7d")] = "24h",
) -> None:
    """Issue a one-time code; the worker opens the printed t.me link to bind their Telegram."""
    from bot.binding import BindingError, issue_bind_code, parse_ttl
    from bot.cli_common import load_settings
    from handlers.ports import SystemClock
    from storage.db import Database
    from storage.repositories import SqlStore

    settings = load_settings()
    try:
        lifetime = parse_ttl(ttl)
    except BindingError as e:
        raise typer.BadParameter(str(e), param_hint="--ttl") from e

    async def main() -> tuple[str, str, str, str]:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            issued = await issue_bind_code(
                SqlStore(database), SystemClock(), worker_id, ttl=lifetime, created_by="cli"
            )
        finally:
            await database.dispose()
        username = await _bot_username(settings)
        link = f"https://t.me/{username}?start=bind-{issued.code}" if username else ""
        return issued.code, issued.worker_name, issued.expires_at.isoformat(), link

    try:
        code, name, expires, link = asyncio.run(main())
    except BindingError as e:
        typer.echo(f"无法生成绑定码 / cannot issue a code: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"worker: {name} (id {worker_id})")
    typer.echo(f"code: {code}")
    typer.echo(f"valid until: {expires} (one use)")
    if link:
        typer.echo(f"telegram: {link}")
    else:
        typer.echo(
            "telegram: set MINHU_TELEGRAM__TOKEN (and MINHU_TELEGRAM__BOT_USERNAME) for the link;"
            f" the worker can also send /start bind-{code} to the bot"
        )


async def _bot_username(settings: object) -> str:
    from bot.config import Settings

    if not isinstance(settings, Settings) or settings.telegram is None:
        return ""
    if settings.telegram.bot_username:
        return settings.telegram.bot_username.lstrip("@")
    from aiogram.exceptions import TelegramAPIError

    from bot.channels.telegram import make_bot

    bot = make_bot(settings.telegram)
    try:
        me = await bot.get_me()
        return me.username or ""
    except TelegramAPIError as e:
        typer.echo(f"(could not ask Telegram for the bot's name: {e.message})", err=True)
        return ""
    finally:
        await bot.session.close()
