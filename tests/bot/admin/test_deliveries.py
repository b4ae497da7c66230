"""The dead-letter view: what was not delivered within the horizon, for admins, sent again."""

from __future__ import annotations

from typing import Any

from tests.bot.admin.helpers import fresh_client, login, make_user


async def _dead_item(container: Any) -> int:
    async with container.store.unit() as uow:
        item = await uow.outbox.enqueue(
            "telegram",
            "884422113377",
            {"text": "被困时请按警铃，不要扒门", "buttons": [], "data": {"priority": "urgent"}},
            now=container.clock.now(),
        )
        [claimed] = await uow.outbox.claim_due(container.clock.now(), limit=1, lease_seconds=60)
        await uow.outbox.mark_dead(
            claimed.id, claimed.claim_token, error="429 Too Many Requests", reason="gave_up"
        )
        return int(item.id or 0)


async def test_an_admin_sees_a_dead_letter_masked_and_sends_it_again(start_app: Any) -> None:
    async with start_app() as app:
        item_id = await _dead_item(app.container)
        await make_user(app.container, "ops", "admin")
        async with fresh_client(app) as client:
            csrf = await login(client, "ops")
            page = await client.get("/admin/deliveries")
            assert page.status_code == 200
            assert "被困时请按警铃" in page.text and "紧急" in page.text
            assert "429 Too Many Requests" in page.text
            assert "重试到期仍失败" in page.text  # why it died, and that it comes back by itself
            assert "24 小时" in page.text
            api = (await client.get("/api/v1/admin/deliveries")).json()
            assert api["dead"][0]["reason"] == "gave_up"
            assert "884422113377" not in page.text  # the recipient is masked
            metrics = (await client.get("/metrics")).text
            assert 'minhu_outbox_items{status="dead"} 1.0' in metrics

            sent = await client.post(f"/admin/deliveries/{item_id}", data={"csrf_token": csrf})
            assert sent.status_code == 303
            async with app.container.store.unit() as uow:
                item = await uow.outbox.get(item_id)
            assert item is not None and item.status in ("pending", "sent", "dead")
            assert item.attempts <= 1


async def test_staff_may_not_read_the_dead_letters(start_app: Any) -> None:
    async with start_app() as app:
        async with app.container.store.unit() as uow:
            [community] = await uow.registry.communities()
        await make_user(app.container, "staff1", "community_staff", community_id=community.id)
        async with fresh_client(app) as client:
            await login(client, "staff1")
            page = await client.get("/admin/deliveries")
            assert page.status_code == 403
            assert "未送达消息" not in (await client.get("/admin")).text
