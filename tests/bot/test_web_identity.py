"""Web chat identity in production: nobody talks as someone else (issue 11, finding 1).

Each test replays what an attacker did against ``MINHU_ENV=prod``: naming a staff member's or
worker's web id in the request body or query, reading the demo registry, forging the session
cookie. Residents get a server-issued session; workers act only after a console login.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from pydantic import SecretStr

from tests.bot.admin.helpers import login, make_user

PROD = {"env": "prod", "secret_key": SecretStr("k" * 48)}


async def _with_demo(app: Any) -> None:
    from bot.demo import load_demo

    assert await load_demo(app.container.store)
    app.container.service.invalidate_registry()


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.app), base_url="http://minhu.test"
    )


async def _report(client: httpx.AsyncClient) -> str:
    """A resident (session cookie, no user_id) reports a fire; returns the ticket number."""
    response = await client.post("/api/v1/messages", json={"text": "2幢楼道着火冒烟了"})
    assert response.status_code == 200, response.text
    text = "\n".join(r["text"] for r in response.json()["replies"])
    match = re.search(r"MH-\d{8}-\d{4}", text)
    assert match, text
    return match.group()


async def test_staff_id_in_the_body_is_refused_when_prod(start_app: Any) -> None:
    async with start_app(**PROD) as app:
        await _with_demo(app)
        number = await _report(app.client)
        response = await app.client.post(
            "/api/v1/messages", json={"user_id": "staff-liu", "text": f"联系居民 {number}"}
        )
        assert response.status_code == 403
        assert "user_id" in response.json()["error"]
        assert "1" not in re.sub(r"[^0-9]", "", response.text.split("user_id")[0])


async def test_worker_id_cannot_resolve_a_ticket_when_prod(start_app: Any) -> None:
    async with start_app(**PROD) as app:
        await _with_demo(app)
        number = await _report(app.client)
        for text in ("接单", f"办结 {number} 已处理"):
            response = await app.client.post(
                "/api/v1/messages", json={"user_id": "worker-zhang", "text": text}
            )
            assert response.status_code == 403
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
        assert ticket is not None and ticket.status not in ("resolved", "closed")


async def test_worker_mailbox_cannot_be_read_by_naming_it_when_prod(start_app: Any) -> None:
    async with start_app(**PROD) as app:
        await _with_demo(app)
        number = await _report(app.client)
        response = await app.client.get("/api/v1/messages", params={"user_id": "worker-zhang"})
        assert response.status_code == 403
        assert number not in response.text


async def test_demo_registry_and_two_pane_page_are_absent_when_prod(start_app: Any) -> None:
    async with start_app(**PROD) as app:
        await _with_demo(app)
        assert (await app.client.get("/api/v1/demo")).status_code == 404
        page = await app.client.get("/")
        assert page.status_code == 200
        assert "worker-id" not in page.text and "扮演" not in page.text
        assert "工作人员登录" in page.text
        assert "/api/v1/demo" not in (await app.client.get("/openapi.json")).text


async def test_demo_community_is_not_loaded_at_startup_when_prod(start_app: Any) -> None:
    async with start_app(load_demo=True, **PROD) as app, app.container.store.unit() as uow:
        assert await uow.registry.communities() == []
        assert await uow.admin.users() == []


async def test_resident_session_is_issued_by_the_server_and_keeps_the_conversation(
    start_app: Any,
) -> None:
    async with start_app(**PROD) as app:
        await _with_demo(app)
        first = await app.client.post("/api/v1/messages", json={"text": "电梯坏了"})
        assert first.status_code == 200
        cookie = first.headers["set-cookie"]
        assert "minhu_chat=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        # the same browser continues its own conversation: the form asks for the building
        assert "哪一幢" in first.json()["replies"][-1]["text"]
        second = await app.client.post("/api/v1/messages", json={"text": "6号楼"})
        assert "set-cookie" not in second.headers
        assert "哪一幢" not in second.json()["replies"][-1]["text"]
        # another browser is someone else, and is asked from the start
        async with _client(app) as other:
            reply = await other.post("/api/v1/messages", json={"text": "6号楼"})
            assert reply.status_code == 200
            assert reply.headers["set-cookie"] != cookie


async def test_forged_session_cookie_gets_a_fresh_session_when_prod(start_app: Any) -> None:
    async with start_app(**PROD) as app:
        await _with_demo(app)
        first = await app.client.post("/api/v1/messages", json={"text": "你好"})
        value = app.client.cookies["minhu_chat"]
        sid, mac = value.split(".")
        forged = ("0" if sid[0] != "0" else "1") + sid[1:] + "." + mac
        async with _client(app) as attacker:
            attacker.cookies.set("minhu_chat", forged, domain="minhu.test", path="/api/v1")
            response = await attacker.post("/api/v1/messages", json={"text": "你好"})
            assert response.status_code == 200
            assert "minhu_chat=" in response.headers["set-cookie"]
            assert forged not in response.headers["set-cookie"]
        assert first.status_code == 200


async def test_worker_acts_in_the_chat_only_after_console_login_when_prod(
    start_app: Any,
) -> None:
    async with start_app(**PROD) as app:
        await _with_demo(app)
        number = await _report(app.client)
        async with app.container.store.unit() as uow:
            zhang = next(w for w in await uow.registry.workers() if w.name == "张伟")
        await make_user(app.container, "zhangwei", "grid_worker", worker_id=zhang.id)
        async with _client(app) as worker:
            anonymous = await worker.post("/api/v1/messages", json={"text": "我的任务"})
            assert number not in anonymous.text  # without a login it is just a resident
            await login(worker, "zhangwei")
            me = await worker.get("/api/v1/session")
            assert me.json() == {"kind": "worker", "demo": False, "worker": "张伟"}
            tasks = await worker.get("/api/v1/messages")
            assert number in tasks.text  # the task card pushed to 张伟's web identity
            reply = await worker.post("/api/v1/messages", json={"text": f"接单 {number}"})
            assert reply.status_code == 200
            assert "接单" in reply.text or "已接" in reply.text
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
        assert ticket is not None and ticket.status == "accepted"


async def test_client_ids_still_work_when_demo_mode(start_app: Any) -> None:
    async with start_app() as app:
        replies = await app.say("worker-zhang", "你好")
        assert replies
        assert (await app.client.get("/api/v1/demo")).status_code == 200
        assert "worker-id" in (await app.client.get("/")).text


async def test_html_pages_carry_security_headers(start_app: Any) -> None:
    async with start_app(**PROD) as app:
        for path in ("/", "/admin/login"):
            page = await app.client.get(path)
            assert page.status_code == 200
            csp = page.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
            assert page.headers["referrer-policy"] == "same-origin"
            assert page.headers["x-frame-options"] == "DENY"
        api = await app.client.get("/healthz")
        assert api.headers["x-content-type-options"] == "nosniff"
