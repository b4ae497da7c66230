"""The `minhu` command line."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Any

import typer

from bot import cli_admin as admin_cli
from bot import cli_telegram, cli_worker
from bot.cli_common import fail, load_settings
from bot.cli_nlu import nlu_app
from bot.cli_sla import sla_app
from bot.cli_wechat import wechat_app
from storage.db import Upgrade

app = typer.Typer(help="民呼 Minhu — community reporting service.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(nlu_app, name="nlu")  # bot/cli_nlu.py
app.add_typer(db_app, name="db")
app.add_typer(sla_app, name="sla")
app.add_typer(cli_telegram.app, name="telegram")
app.add_typer(cli_worker.app, name="worker")
app.add_typer(wechat_app, name="wechat")
app.add_typer(admin_cli.app, name="admin")  # bot/cli_admin.py
privacy_app = typer.Typer(help="Personal data retention.", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")


@privacy_app.command("purge")
def privacy_purge(
    days: Annotated[
        int | None, typer.Option(help="anonymise data older than this (default: configured)")
    ] = None,
) -> None:
    """Anonymise inbound messages, sent messages and photos older than N days (default 180)."""
    from bot.container import object_store
    from handlers.ports import SystemClock
    from handlers.retention_service import purge
    from storage.db import Database
    from storage.repositories import SqlStore

    settings = load_settings()
    keep = days if days is not None else settings.privacy.retention_days
    if keep < 1:
        raise fail("--days 至少为 1 / --days must be at least 1", 2)

    async def main() -> str:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            store = SqlStore(database, object_store(settings))  # purged photos' bytes too
            done = await purge(store, now=SystemClock().now(), days=keep)
            return done.text()
        finally:
            await database.dispose()

    typer.echo(asyncio.run(main()))


journal_app = typer.Typer(
    help="The inbound journal (messages kept in Redis while PostgreSQL was down).",
    no_args_is_help=True,
)
app.add_typer(journal_app, name="journal")


@journal_app.command("buried")
def journal_buried(
    limit: Annotated[int, typer.Option(min=1, max=10000, help="at most this many")] = 100,
) -> None:
    """List journaled messages set aside because they could not be stored (text masked)."""
    from nlu.pii import mask
    from storage.errors import StorageError
    from storage.journal import RedisInboundJournal

    settings = load_settings()
    if settings.redis_url is None:
        raise fail("没有配置 Redis（MINHU_REDIS_URL），也就没有入站日志 / no Redis, no journal", 2)

    async def main() -> list[str]:
        journal = RedisInboundJournal(settings.redis_url or "", prefix=settings.redis_prefix)
        try:
            found = await journal.buried(limit)
        finally:
            await journal.close()
        lines = []
        for b in found:
            try:
                entry = json.loads(b.raw)
                text = str(entry.get("payload", {}).get("text", ""))
                who = f"{entry.get('channel', '?')} {entry.get('message_id', '?')}"
            except (ValueError, AttributeError):
                text, who = b.raw, "?"
            preview = mask(text)[:60].replace("\n", " ")
            lines.append(
                f"{b.entry_id}  {b.buried_at:%Y-%m-%d %H:%M:%S}  {who}  {b.reason}  {preview}"
            )
        return lines

    try:
        lines = asyncio.run(main())
    except StorageError as e:
        raise fail(f"读取入站日志失败 / could not read the journal: {e}", 1) from e
    typer.echo("\n".join(lines) if lines else "没有被搁置的消息 / nothing set aside")


objects_app = typer.Typer(help="Photos and models in the object store.", no_args_is_help=True)
app.add_typer(objects_app, name="objects")


@objects_app.command("move-photos")
def objects_move_photos(
    batch: Annotated[int, typer.Option(min=1, max=1000, help="photos per transaction")] = 100,
) -> None:
    """Move photos stored in the database (before migration 0016) to the object store."""
    from bot.container import object_store
    from storage.db import Database
    from storage.objects import S3ObjectStore
    from storage.repositories import SqlStore

    settings = load_settings()
    objects = object_store(settings)

    async def main() -> int:
        if isinstance(objects, S3ObjectStore):
            await asyncio.to_thread(objects.ensure_bucket)
        database = Database(settings.database_url)
        moved = 0
        try:
            await database.migrate()
            store = SqlStore(database, objects)
            while True:  # one transaction per batch: an interruption loses nothing
                async with store.unit() as uow:
                    n = await uow.attachments.move_to_objects(limit=batch)
                moved += n
                if n < batch:
                    return moved
        finally:
            await database.dispose()

    moved = asyncio.run(main())
    typer.echo(f"已移动 {moved} 张照片到 {objects.location} / moved {moved} photos")


# --- service -------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="worker processes sharing PostgreSQL + Redis")
    ] = 1,
) -> None:
    """Run the web service (web chat at /, API at /api/v1, docs at /docs)."""
    import uvicorn

    from bot.app import create_app
    from bot.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    from bot.doctor import config_findings, report

    findings = config_findings(settings)
    if findings:
        typer.echo(report(findings), err=True)
    if any(f.level == "fatal" for f in findings):
        raise fail("生产环境配置不安全，拒绝启动（见 minhu doctor）/ unsafe prod configuration", 2)
    if settings.rasa is None:
        # A missing or damaged NLU model is a plain message here, not a startup traceback.
        from bot.container import object_store
        from bot.nlu_runtime import preflight

        try:
            shared = object_store(settings) if settings.s3 is not None else None
            preflight(settings.models_path, shared)
        except Exception as e:
            raise fail(f"无法启动 / cannot start: {e}", 2) from e
    if workers > 1:
        # each worker process builds its own app from the same environment (bot.app:app_from_env)
        # and counts into files that a scrape of any of them adds up (bot/metrics.py)
        from bot.metrics import prepare_multiprocess

        prepare_multiprocess()
        uvicorn.run(
            "bot.app:app_from_env",
            factory=True,
            workers=workers,
            host=host or settings.host,
            port=port or settings.port,
            log_config=None,
            proxy_headers=True,
        )
        return
    uvicorn.run(
        create_app(settings, freeze_heap=True),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        proxy_headers=True,
    )


@app.command()
def doctor() -> None:
    """Check the configuration (and console accounts) for what is unsafe in production."""
    from bot.doctor import account_findings, config_findings, report
    from storage.db import Database
    from storage.repositories import SqlStore

    settings = load_settings()

    async def accounts() -> list[Any]:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            return list(await account_findings(SqlStore(database), settings))
        finally:
            await database.dispose()

    findings = config_findings(settings)
    try:
        findings += asyncio.run(accounts())
    except Exception as e:
        typer.echo(f"! 无法检查控制台账号 / cannot check console accounts: {e}", err=True)
    typer.echo(f"MINHU_ENV={settings.env}")
    typer.echo(report(findings))
    if any(f.level == "fatal" for f in findings):
        raise typer.Exit(1)


@app.command()
def chat(
    user: Annotated[str, typer.Option(help="your user id (a worker's id acts as that worker)")] = (
        "terminal-resident"
    ),
    channel: Annotated[str, typer.Option(help="channel of that id: cli or web")] = "cli",
) -> None:
    """Chat with Minhu in the terminal."""
    from bot.channels import CHANNELS
    from bot.channels.cli import run_chat
    from bot.container import build
    from bot.demo import load_demo
    from bot.logs import configure_logging

    settings = load_settings()
    configure_logging("WARNING")

    async def main() -> None:
        container = await build(settings, channels=CHANNELS)
        try:
            if settings.loads_demo:
                await load_demo(container.store)
            container.spawn(container.dispatcher.run_forever(), "outbox")
            await run_chat(container, user_id=user, channel=channel)
        finally:
            await container.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except Exception as e:
        raise fail(f"无法启动聊天 / cannot start: {e}") from e


@app.command()
def demo(
    reset: Annotated[bool, typer.Option("--reset", help="wipe all data and reload")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the demo registry")] = False,
) -> None:
    """Load the demo community (if the database is empty, or always with --reset)."""
    from bot.demo import demo_registry, load_demo
    from storage.db import Database
    from storage.repositories import SqlStore

    settings = load_settings()
    if not settings.demo_enabled:
        raise fail(
            "生产环境（MINHU_ENV=prod）不加载示例社区 / the demo community is never loaded in prod",
            2,
        )

    async def main() -> dict[str, Any] | bool:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            store = SqlStore(database)
            loaded = await load_demo(store, reset=reset)
            if as_json:
                return await demo_registry(store)
            return loaded
        finally:
            await database.dispose()

    result = asyncio.run(main())
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    elif result:
        typer.echo("已加载示例社区 / demo community loaded")
    else:
        typer.echo("数据库已有数据，未改动（--reset 可重置）/ data exists, unchanged")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    from storage.db import upgrade
    from storage.errors import StorageError

    settings = load_settings()
    try:
        done = upgrade(settings.database_url)
    except StorageError as e:
        raise fail(f"迁移失败 / migration failed: {e}") from e
    typer.echo(upgrade_report(done))


def upgrade_report(done: Upgrade) -> str:
    """What `minhu db upgrade` did, in words (Chinese, then English)."""
    steps = " → ".join(done.applied)
    if done.renamed:
        renamed = f"（旧版本号 {done.renamed} 已更名为 {done.before}）"
        renamed_en = f" (old revision id {done.renamed} renamed to {done.before})"
    else:
        renamed = renamed_en = ""
    if done.before is None:
        return (
            f"新数据库：已建表，应用了 {len(done.applied)} 个迁移（{steps}）\n"
            f"new database: created the schema with {len(done.applied)} migrations ({steps})"
        )
    if not done.applied:
        return (
            f"数据库已是最新版本 {done.after}，未做改动{renamed}\n"
            f"database already at {done.after}: nothing to apply{renamed_en}"
        )
    return (
        f"数据库已从 {done.before} 升级到 {done.after}，应用了 {len(done.applied)} 个迁移"
        f"（{steps}）{renamed}\n"
        f"database upgraded from {done.before} to {done.after}: applied {len(done.applied)} "
        f"migrations ({steps}){renamed_en}"
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
