"""Console accounts: login sessions, CSRF, lockout, logout, roles, tokens, audit, the CLI."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.bot.admin.helpers import (
    PASSWORD,
    api_token,
    bearer,
    csrf_of,
    fresh_client,
    login,
    make_user,
)
from tests.factories import FakeClock


async def test_demo_admin_logs_in_with_the_readme_credentials_and_gets_a_safe_cookie(
    start_app: Any,
) -> None:
    from bot.admin.accounts import DEMO_PASSWORD, DEMO_USERNAME

    async with start_app() as app:
        page = await app.client.get("/admin/login")
        assert "登录管理后台" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        response = await app.client.post(
            "/admin/login",
            data={"username": DEMO_USERNAME, "password": DEMO_PASSWORD, "csrf_token": token[1]},
        )
        assert response.status_code == 303
        cookie = next(
            v
            for k, v in response.headers.multi_items()
            if k == "set-cookie" and "minhu_admin=" in v
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        tickets = await app.client.get("/admin/tickets")
        assert tickets.status_code == 200 and "演示管理员" in tickets.text


async def test_pages_send_a_visitor_without_a_session_to_the_login_page(start_app: Any) -> None:
    async with start_app() as app:
        response = await app.client.get("/admin/tickets?status=assigned")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login?next=/admin/tickets")
        api = await app.client.get("/api/v1/tickets")
        assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
        assert "error" in api.json()


async def test_login_without_the_forms_own_token_is_refused(start_app: Any) -> None:
    async with start_app() as app:
        await make_user(app.container, "ops", "admin")
        response = await app.client.post(
            "/admin/login", data={"username": "ops", "password": PASSWORD, "csrf_token": "forged"}
        )
        assert response.status_code == 303 and response.headers["location"] == "/admin/login"
        assert (await app.client.get("/admin/tickets")).status_code == 303


async def test_account_locks_after_repeated_failures_and_unlocks_after_the_lockout(
    start_app: Any,
) -> None:
    clock = FakeClock()
    async with start_app(clock=clock) as app:
        await make_user(app.container, "ops", "admin")
        client = app.client
        for _ in range(5):
            page = await client.get("/admin/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            await client.post(
                "/admin/login",
                data={"username": "ops", "password": "wrong-password!", "csrf_token": token[1]},
            )
        # the right password does not help while locked
        page = await client.get("/admin/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        locked = await client.post(
            "/admin/login", data={"username": "ops", "password": PASSWORD, "csrf_token": token[1]}
        )
        assert locked.status_code == 303
        shown = await client.get(locked.headers["location"])
        assert "锁定" in shown.text
        assert (await client.get("/admin/tickets")).status_code == 303
        clock.advance(minutes=16)
        await login(client, "ops")
        async with app.container.store.unit() as uow:
            entries, _ = await uow.admin.audit(limit=20)
        actions = [e.action for e in entries]
        assert actions.count("login.failed") == 4 and "login.locked" in actions
        assert actions[0] == "login"


async def test_logout_ends_the_session_for_good(start_app: Any) -> None:
    async with start_app() as app:
        await make_user(app.container, "ops", "admin")
        csrf = await login(app.client, "ops")
        cookie = app.client.cookies.get("minhu_admin")
        out = await app.client.post("/admin/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        replay = fresh_client(app)
        replay.cookies.set("minhu_admin", cookie)
        async with replay:
            assert (await replay.get("/admin/tickets")).status_code == 303
            assert (await replay.get("/api/v1/admin/me")).status_code == 401


async def test_writes_without_the_csrf_token_are_refused(start_app: Any) -> None:
    async with start_app() as app:
        await make_user(app.container, "ops", "admin")
        csrf = await login(app.client, "ops")
        form = await app.client.post(
            "/admin/users", data={"username": "ops2", "password": PASSWORD, "role": "admin"}
        )
        assert form.status_code == 303  # back to the page with an error
        assert "CSRF" in (await app.client.get("/admin/users")).text
        body = {"username": "ops2", "password": PASSWORD, "role": "admin"}
        api = await app.client.post("/api/v1/admin/users", json=body)
        assert api.status_code == 403
        ok = await app.client.post("/api/v1/admin/users", json=body, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 201
        async with app.container.store.unit() as uow:
            assert [u.username for u in await uow.admin.users()] == ["admin", "ops", "ops2"]


async def test_only_admins_manage_accounts_and_every_change_is_audited(start_app: Any) -> None:
    async with start_app() as app:
        await make_user(app.container, "ops", "admin")
        await make_user(app.container, "liu", "community_staff", community_id=1)
        ops = bearer(app, await api_token(app.container, "ops"))
        staff = bearer(app, await api_token(app.container, "liu"))
        async with ops, staff:
            assert (await staff.get("/api/v1/admin/users")).status_code == 403
            denied = await staff.post(
                "/api/v1/admin/users",
                json={"username": "evil", "password": PASSWORD, "role": "admin"},
            )
            assert denied.status_code == 403
            short = await ops.post(
                "/api/v1/admin/users",
                json={"username": "ops3", "password": "short", "role": "admin"},
            )
            assert short.status_code == 422 and "10" in short.json()["error"]
            dup = await ops.post(
                "/api/v1/admin/users",
                json={"username": "liu", "password": PASSWORD, "role": "community_staff",
                      "community_id": 1},
            )  # fmt: skip
            assert dup.status_code == 409
            no_community = await ops.post(
                "/api/v1/admin/users",
                json={"username": "staff2", "password": PASSWORD, "role": "community_staff"},
            )
            assert no_community.status_code == 422
            created = await ops.post(
                "/api/v1/admin/users",
                json={"username": "zhang", "password": PASSWORD, "role": "grid_worker",
                      "worker_id": 1},
            )  # fmt: skip
            assert created.status_code == 201
            user_id = created.json()["id"]
            off = await ops.patch(f"/api/v1/admin/users/{user_id}", json={"active": False})
            assert off.status_code == 204
            audit = (await ops.get("/api/v1/admin/audit", params={"action": "user."})).json()
            assert (await staff.get("/api/v1/admin/audit")).status_code == 403
        actions = [e["action"] for e in audit["entries"]]
        assert actions == [
            "user.update",
            "user.create",
            "user.create",
            "user.create",
            "user.create",
        ]
        assert audit["entries"][0]["username"] == "ops"
        assert audit["entries"][0]["before"]["active"] is True
        assert audit["entries"][0]["after"]["active"] is False


async def test_a_deactivated_accounts_tokens_stop_working(start_app: Any) -> None:
    async with start_app() as app:
        user_id = await make_user(app.container, "liu", "community_staff", community_id=1)
        await make_user(app.container, "ops", "admin")
        token = await api_token(app.container, "liu")
        async with (
            bearer(app, token) as liu,
            bearer(app, await api_token(app.container, "ops")) as ops,
        ):
            assert (await liu.get("/api/v1/admin/me")).json()["username"] == "liu"
            await ops.patch(f"/api/v1/admin/users/{user_id}", json={"active": False})
            assert (await liu.get("/api/v1/admin/me")).status_code == 401


async def test_demo_account_is_never_created_or_accepted_in_production(tmp_path: Path) -> None:
    from bot.admin.accounts import DEMO_PASSWORD, check_password, ensure_demo_admin
    from bot.admin.errors import BadInput
    from storage.db import Database
    from storage.repositories import SqlStore

    database = Database(f"sqlite:///{tmp_path / 'prod.db'}")
    await database.migrate()
    try:
        store = SqlStore(database)
        assert not await ensure_demo_admin(store, env="prod", now=FakeClock().now())
        async with store.unit() as uow:
            assert list(await uow.admin.users()) == []
        with pytest.raises(BadInput):
            check_password(DEMO_PASSWORD, env="prod")
        assert await ensure_demo_admin(store, env="dev", now=FakeClock().now())
        assert not await ensure_demo_admin(store, env="dev", now=FakeClock().now())
    finally:
        await database.dispose()


async def test_production_login_refuses_the_demo_password_even_if_set(
    start_app: Any, tmp_path: Path
) -> None:
    from bot.admin.accounts import DEMO_PASSWORD, DEMO_USERNAME, login
    from bot.admin.errors import Unauthenticated

    async with start_app() as app:  # the demo account exists (dev/test)
        settings = app.container.settings
        with pytest.raises(Unauthenticated):
            await login(
                app.container.store,
                settings.admin,
                username=DEMO_USERNAME,
                password=DEMO_PASSWORD,
                env="prod",
                now=app.container.clock.now(),
            )


def test_cli_creates_the_first_admin_and_prints_a_working_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trained_models: Path
) -> None:
    from bot.cli import app as cli

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MINHU_DATABASE_URL", url)
    monkeypatch.setenv("MINHU_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    weak = runner.invoke(
        cli, ["admin", "create", "--username", "root", "--password-stdin"], input="123\n"
    )
    assert weak.exit_code == 2 and "10" in weak.output
    made = runner.invoke(
        cli,
        ["admin", "create", "--username", "root", "--role", "admin", "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    assert made.exit_code == 0, made.output
    again = runner.invoke(
        cli, ["admin", "create", "--username", "root", "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert again.exit_code == 2 and "已存在" in again.output
    printed = runner.invoke(cli, ["admin", "token", "--user", "root"])
    assert printed.exit_code == 0, printed.output
    token = printed.output.strip().splitlines()[-1]
    assert token.startswith("mh_")
    missing = runner.invoke(cli, ["admin", "token", "--user", "nobody"])
    assert missing.exit_code == 2

    async def use_token() -> tuple[int, dict[str, Any]]:
        import httpx

        from bot.app import create_app
        from tests.factories import make_settings

        settings = make_settings(tmp_path, models=trained_models, database_url=url)
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://minhu.test",
                headers={"Authorization": f"Bearer {token}"},
            ) as client:
                me = await client.get("/api/v1/admin/me")
                listed = await client.get("/api/v1/tickets")
                return listed.status_code, me.json()

    status, me = asyncio.run(use_token())
    assert status == 200 and me["username"] == "root" and me["role"] == "admin"
    # a bearer token was hashed before storage: the secret is nowhere in the database
    assert token.encode() not in (tmp_path / "cli.db").read_bytes()


async def test_a_session_cookie_is_no_bearer_token_and_vice_versa(start_app: Any) -> None:
    async with start_app() as app:
        await make_user(app.container, "ops", "admin")
        token = await api_token(app.container, "ops")
        client = fresh_client(app)
        client.cookies.set("minhu_admin", token)
        async with client:
            assert (await client.get("/admin/tickets")).status_code == 303
        await login(app.client, "ops")
        session = app.client.cookies.get("minhu_admin")
        async with bearer(app, session) as wrong:
            assert (await wrong.get("/api/v1/admin/me")).status_code == 401
        page = await app.client.get("/admin/users")
        assert csrf_of(page.text)


async def test_a_session_expires_after_its_lifetime(start_app: Any) -> None:
    clock = FakeClock()
    async with start_app(clock=clock) as app:
        await make_user(app.container, "ops", "admin")
        await login(app.client, "ops")
        clock.advance(hours=11, minutes=59)
        assert (await app.client.get("/admin/tickets")).status_code == 200
        clock.advance(minutes=2)
        assert (await app.client.get("/admin/tickets")).status_code == 303


async def test_openapi_documents_the_json_api_and_its_bearer_scheme(start_app: Any) -> None:
    async with start_app() as app:
        spec = (await app.client.get("/openapi.json")).json()
        assert {"/api/v1/tickets", "/api/v1/tickets/{number}", "/api/v1/admin/nlu/train"} <= set(
            spec["paths"]
        )
        assert not any(path.startswith("/admin") for path in spec["paths"])
        schemes = spec["components"]["securitySchemes"]
        assert any(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())
        detail = spec["paths"]["/api/v1/tickets/{number}"]["get"]
        assert detail["security"] and "TicketDetailOut" in str(detail["responses"]["200"])
