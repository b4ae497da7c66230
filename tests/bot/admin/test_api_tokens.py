"""API tokens: short default life, listed and revoked one by one, gone after a password reset."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.bot.admin.helpers import api_token, bearer, login, make_user


async def test_tokens_are_listed_revoked_one_by_one_and_die_with_the_password(
    start_app: Any,
) -> None:
    async with start_app() as app:
        await make_user(app.container, "boss", "admin")
        ops_id = await make_user(app.container, "ops", "admin")
        first, second = await api_token(app.container, "ops"), await api_token(app.container, "ops")
        csrf = await login(app.client, "boss")
        listed = await app.client.get(f"/api/v1/admin/users/{ops_id}/tokens")
        assert listed.status_code == 200
        tokens = listed.json()
        assert len(tokens) == 2 and not any(t["revoked"] for t in tokens)
        assert first not in listed.text and second not in listed.text  # secrets never shown
        # revoke the older one only
        older = min(t["id"] for t in tokens)
        gone = await app.client.delete(
            f"/api/v1/admin/users/{ops_id}/tokens/{older}", headers={"X-CSRF-Token": csrf}
        )
        assert gone.status_code == 204
        async with bearer(app, first) as one, bearer(app, second) as two:
            assert (await one.get("/api/v1/admin/me")).status_code == 401
            assert (await two.get("/api/v1/admin/me")).status_code == 200
            # a password reset revokes the remaining API token too
            reset = await app.client.patch(
                f"/api/v1/admin/users/{ops_id}",
                json={"password": "another-Long-pass-2026"},
                headers={"X-CSRF-Token": csrf},
            )
            assert reset.status_code == 204, reset.text
            assert (await two.get("/api/v1/admin/me")).status_code == 401


async def test_api_tokens_default_to_thirty_days(start_app: Any) -> None:
    async with start_app() as app:
        await make_user(app.container, "boss", "admin")
        ops_id = await make_user(app.container, "ops", "admin")
        csrf = await login(app.client, "boss")
        issued = await app.client.post(
            f"/api/v1/admin/users/{ops_id}/tokens", headers={"X-CSRF-Token": csrf}
        )
        assert issued.status_code == 200, issued.text
        async with app.container.store.unit() as uow:
            [token] = await uow.admin.tokens(ops_id, kind="api")
        assert token.expires_at is not None
        assert token.expires_at - token.created_at == timedelta(days=30)
