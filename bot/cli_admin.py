"""`minhu admin ...`: console accounts and API tokens from the command line."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from bot.cli_common import load_settings

app = typer.Typer(help="Admin console accounts and API tokens.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("密码 / password", hide_input=True, confirmation_prompt=True)
    return password


@app.command("create")
def create(
    username: Annotated[str, typer.Option(help="login name")],
    role: Annotated[str, typer.Option(help="admin | community_staff | grid_worker")] = "admin",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
    display_name: Annotated[str, typer.Option(help="name shown in the console")] = "",
    community: Annotated[str | None, typer.Option(help="community name (community_staff)")] = None,
    worker: Annotated[int | None, typer.Option(help="grid worker id (grid_worker)")] = None,
) -> None:
    """Create a console account (the first admin, or staff and worker accounts)."""
    from bot.admin.accounts import create_user
    from bot.admin.errors import AdminProblem
    from handlers.ports import SystemClock
    from storage.db import Database
    from storage.repositories import SqlStore

    settings = load_settings()
    password = _read_password(password_stdin)

    async def main() -> int:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            store = SqlStore(database)
            async with store.unit() as uow:
                community_id = None
                if community is not None:
                    found = await uow.registry.community_by_name(community)
                    if found is None:
                        raise typer.BadParameter(f"no community named {community!r}")
                    community_id = found.id
                user = await create_user(
                    uow,
                    username=username,
                    password=password,
                    role=role,
                    env=settings.env,
                    now=SystemClock().now(),
                    display_name=display_name,
                    community_id=community_id,
                    worker_id=worker,
                )
                return user.id or 0
        finally:
            await database.dispose()

    try:
        user_id = asyncio.run(main())
    except AdminProblem as e:
        typer.echo(f"无法创建账号 / cannot create the account: {e.message}", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"已创建账号 {username}（{role}，#{user_id}）/ account created")


@app.command("token")
def token(
    user: Annotated[str, typer.Option(help="the account's username")],
    days: Annotated[int | None, typer.Option(help="lifetime in days")] = None,
    name: Annotated[str, typer.Option(help="what the token is for")] = "",
) -> None:
    """Print a new API token for scripts (Authorization: Bearer <token>)."""
    from bot.admin.accounts import issue_api_token
    from handlers.ports import SystemClock
    from storage.db import Database
    from storage.repositories import SqlStore

    settings = load_settings()

    async def main() -> str | None:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            store = SqlStore(database)
            async with store.unit() as uow:
                account = await uow.admin.user_by_name(user)
                if account is None or not account.active:
                    return None
                return await issue_api_token(
                    uow,
                    account,
                    now=SystemClock().now(),
                    days=days or settings.admin.token_days,
                    name=name or "cli",
                )
        finally:
            await database.dispose()

    secret = asyncio.run(main())
    if secret is None:
        typer.echo(f"没有启用的账号 {user!r} / no active account {user!r}", err=True)
        raise typer.Exit(2)
    typer.echo(secret)


@app.command("list")
def list_users() -> None:
    """List console accounts."""
    from storage.db import Database
    from storage.repositories import SqlStore

    settings = load_settings()

    async def main() -> list[str]:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            async with SqlStore(database).unit() as uow:
                return [
                    f"{u.id:>4}  {u.username:<20} {u.role:<16} "
                    f"{'active' if u.active else 'inactive'}"
                    for u in await uow.admin.users()
                ]
        finally:
            await database.dispose()

    for line in asyncio.run(main()):
        typer.echo(line)
