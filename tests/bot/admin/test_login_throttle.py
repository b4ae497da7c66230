"""Login throttling: atomic per account and per IP, no username enumeration (issue 11)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from tests.bot.admin.helpers import PASSWORD, fresh_client, login, make_user


async def _form_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/admin/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return token[1]


async def _try(client: httpx.AsyncClient, token: str, username: str, password: str) -> str:
    """One login through the form; returns the message the login page then shows."""
    response = await client.post(
        "/admin/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303
    if response.headers["location"].startswith("/admin/login"):
        flash = response.cookies.get("minhu_flash", "")
        return flash or "refused"
    return "ok"


async def test_forty_parallel_wrong_passwords_lock_and_the_right_one_is_refused(
    start_app: Any,
) -> None:
    async with start_app() as app:
        await make_user(app.container, "ops", "admin")
        token = await _form_token(app.client)
        passwords = [f"wrong-password-{i}" for i in range(40)]
        passwords[34] = PASSWORD  # attempt 35 is the right one
        results = await asyncio.gather(*(_try(app.client, token, "ops", p) for p in passwords))
        assert "ok" not in results
        async with app.container.store.unit() as uow:
            entries, _ = await uow.admin.audit(limit=100)
            user = await uow.admin.user_by_name("ops")
        checked = [e for e in entries if e.action in ("login.failed", "login.locked", "login")]
        assert len(checked) <= 5  # only the allowance was checked at all
        assert user is not None and user.locked_until is not None
        # after the burst, the right password is still refused while the lock lasts
        assert await _try(app.client, token, "ops", PASSWORD) != "ok"
        assert (await app.client.get("/admin/tickets")).status_code == 303


async def test_unknown_and_locked_names_get_the_same_answer(start_app: Any) -> None:
    async with start_app() as app:
        await make_user(app.container, "ops", "admin")
        answers: dict[str, list[str]] = {}
        for name in ("ops", "nobody-here"):
            async with fresh_client(app) as client:
                answers[name] = []
                for _ in range(7):
                    await _try(client, await _form_token(client), name, "wrong-password!")
                    shown = await client.get("/admin/login")
                    message = re.search(r'class="flash[^"]*"[^>]*>([^<]*)<', shown.text)
                    answers[name].append(message[1].strip() if message else "")
        assert answers["ops"] == answers["nobody-here"]
        assert "锁定" in answers["ops"][-1] and "用户名或密码错误" in answers["ops"][0]


async def test_one_address_cannot_try_many_accounts(start_app: Any) -> None:
    async with start_app() as app:
        app.container.settings.admin.max_logins_per_ip = 12
        await make_user(app.container, "ops", "admin")
        token = await _form_token(app.client)
        for i in range(12):
            await _try(app.client, token, f"guess-{i}", "wrong-password!")
        # a different, real account from the same address is refused now too
        assert await _try(app.client, token, "ops", PASSWORD) != "ok"


async def test_admin_unlock_lets_the_account_log_in_again(start_app: Any) -> None:
    async with start_app() as app:
        await make_user(app.container, "ops", "admin")
        await make_user(app.container, "boss", "admin")
        async with fresh_client(app) as client:
            token = await _form_token(client)
            for _ in range(6):
                await _try(client, token, "ops", "wrong-password!")
            assert await _try(client, token, "ops", PASSWORD) != "ok"
        csrf = await login(app.client, "boss")
        async with app.container.store.unit() as uow:
            ops = await uow.admin.user_by_name("ops")
        assert ops is not None
        unlocked = await app.client.patch(
            f"/api/v1/admin/users/{ops.id}", json={"unlock": True}, headers={"X-CSRF-Token": csrf}
        )
        assert unlocked.status_code in (200, 204), unlocked.text
        async with fresh_client(app) as client:
            await login(client, "ops")
