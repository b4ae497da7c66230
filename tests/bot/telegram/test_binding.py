"""Binding a grid worker's Telegram with a one-time code: issue, redeem, expire, never reuse."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.binding import BindingError, issue_bind_code, parse_ttl
from bot.cli import app as cli
from tests.bot.telegram.conftest import RESIDENT, WORKER, TelegramApp
from tests.bot.telegram.test_e2e_telegram import file_noise_report, last_with, worker_id
from tests.bot.telegram.updates import TgUser
from tests.factories import FakeClock

OTHER = TgUser(5333333333, "冒充者")


async def code_for(tg: TelegramApp, name: str, **kwargs: Any) -> str:
    issued = await issue_bind_code(
        tg.container.store, tg.container.clock, await worker_id(tg, name), **kwargs
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", issued.code)
    return issued.code


async def identity_worker(tg: TelegramApp, user: TgUser) -> int | None:
    async with tg.container.store.unit() as uow:
        ident = await uow.registry.identity("telegram", str(user.id))
        return ident.worker_id if ident else None


async def test_a_bound_worker_gets_new_tasks_on_telegram_first(start_telegram: Any) -> None:
    async with start_telegram() as tg:
        code = await code_for(tg, "张伟")
        reply = last_with(await tg.say(WORKER, f"/start bind-{code}"), WORKER.id)
        assert "绑定成功" in reply.text and "第一网格" in reply.text
        assert await identity_worker(tg, WORKER) == await worker_id(tg, "张伟")
        # the code is not kept in the inbound log
        async with tg.container.store.unit() as uow:
            [row] = await uow.inbound.recent_for_user("telegram", str(WORKER.id))
        assert code not in str(row.payload)
        # 张伟 also has a web identity from the demo; the card now comes to Telegram
        number = await file_noise_report(tg, RESIDENT)
        assert any(number in c.text for c in tg.fake.sent_to(WORKER.id))
        async with tg.container.store.unit() as uow:
            assert await uow.mailbox.drain("web", "worker-zhang") == []


async def test_a_code_cannot_be_used_twice(start_telegram: Any) -> None:
    async with start_telegram() as tg:
        code = await code_for(tg, "张伟")
        await tg.say(WORKER, f"/start bind-{code}")
        reply = last_with(await tg.say(OTHER, f"/start bind-{code}"), OTHER.id)
        assert "已经使用过" in reply.text
        assert await identity_worker(tg, OTHER) is None
        # the same person trying again is told the same, and stays bound
        reply = last_with(await tg.say(WORKER, f"/start bind-{code}"), WORKER.id)
        assert "已经使用过" in reply.text
        assert await identity_worker(tg, WORKER) is not None


async def test_a_code_expires(start_telegram: Any) -> None:
    clock = FakeClock()
    async with start_telegram(clock=clock) as tg:
        code = await code_for(tg, "张伟", ttl=timedelta(hours=1))
        clock.advance(minutes=61)
        reply = last_with(await tg.say(WORKER, f"/start bind-{code}"), WORKER.id)
        assert "已过期" in reply.text
        assert await identity_worker(tg, WORKER) is None


async def test_an_unknown_or_malformed_code_binds_nobody(start_telegram: Any) -> None:
    async with start_telegram() as tg:
        for code in ("AAAAAAAAAAAAAAAA", "x", "../../etc/passwd"):
            reply = last_with(await tg.say(OTHER, f"/start bind-{code}"), OTHER.id)
            assert "绑定码无效" in reply.text
        assert await identity_worker(tg, OTHER) is None


async def test_codes_are_refused_for_unknown_or_inactive_workers(start_telegram: Any) -> None:
    async with start_telegram() as tg:
        store, clock = tg.container.store, tg.container.clock
        with pytest.raises(BindingError, match="no grid worker"):
            await issue_bind_code(store, clock, 9999)
        zhang = await worker_id(tg, "张伟")
        async with store.unit() as uow:
            worker = await uow.registry.worker(zhang)
            assert worker is not None
            worker.active = False
            await uow.registry.save(worker)
        with pytest.raises(BindingError, match="inactive"):
            await issue_bind_code(store, clock, zhang)
        with pytest.raises(BindingError, match="TTL"):
            await issue_bind_code(store, clock, zhang, ttl=timedelta(days=90))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86400), ("30m", 1800), ("7d", 604800), ("3600", 3600), (" 2h ", 7200)],
)
def test_ttl_values_parse(text: str, seconds: int) -> None:
    assert parse_ttl(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1y", "-5m", "30s", "31d", "abc"])
def test_bad_ttl_values_are_refused(text: str) -> None:
    with pytest.raises(BindingError):
        parse_ttl(text)


def test_the_cli_prints_a_code_and_the_t_me_link(tmp_path: Path) -> None:
    env = {
        "MINHU_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "MINHU_TELEGRAM__TOKEN": "7000000001:AAHfake-token-for-the-local-bot-api",
        "MINHU_TELEGRAM__BOT_USERNAME": "minhu_test_bot",
    }
    runner = CliRunner()
    assert runner.invoke(cli, ["demo"], env=env).exit_code == 0
    listing = runner.invoke(cli, ["worker", "list"], env=env)
    assert listing.exit_code == 0, listing.output
    zhang = re.search(r"^\s*(\d+)\s+张伟", listing.output, re.MULTILINE)
    assert zhang is not None, listing.output
    result = runner.invoke(
        cli, ["worker", "bind-code", "--worker-id", zhang.group(1), "--ttl", "2h"], env=env
    )
    assert result.exit_code == 0, result.output
    code = re.search(r"code: ([A-Za-z0-9_-]{16})", result.output)
    assert code is not None
    assert f"https://t.me/minhu_test_bot?start=bind-{code.group(1)}" in result.output
    assert "one use" in result.output

    missing = runner.invoke(cli, ["worker", "bind-code", "--worker-id", "9999"], env=env)
    assert missing.exit_code == 2 and "no grid worker" in missing.output
    bad_ttl = runner.invoke(
        cli, ["worker", "bind-code", "--worker-id", zhang.group(1), "--ttl", "forever"], env=env
    )
    assert bad_ttl.exit_code == 2


def test_a_bot_name_without_a_token_is_a_plain_configuration_error(tmp_path: Path) -> None:
    env: dict[str, str | None] = {
        "MINHU_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "MINHU_TELEGRAM__TOKEN": None,  # unset, whatever the shell has
        "MINHU_TELEGRAM__BOT_USERNAME": "minhu_test_bot",
    }
    result = CliRunner().invoke(cli, ["worker", "bind-code", "--worker-id", "1"], env=env)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "MINHU_TELEGRAM__TOKEN 未设置：设置了 MINHU_TELEGRAM__* 中的其他变量时必须同时设置它"
        " / MINHU_TELEGRAM__TOKEN is not set: it is required once other MINHU_TELEGRAM__*"
        " variables are set"
    )
    assert "Field required" not in result.output and "pydantic" not in result.output


async def test_a_building_head_links_telegram_by_tapping_the_consoles_deep_link(
    start_telegram: Any,
) -> None:
    from tests.bot.admin.helpers import api_token, make_user

    head = TgUser(5444444444, "孙丽")
    async with start_telegram() as tg:
        async with tg.container.store.unit() as uow:
            [community] = await uow.registry.communities()
            nine = next(b for b in await uow.registry.buildings() if b.name == "9幢")
        await make_user(tg.container, "tg-staff", "community_staff", community_id=community.id)
        auth = {"Authorization": f"Bearer {await api_token(tg.container, 'tg-staff')}"}
        made = await tg.client.post(
            "/api/v1/helpers",
            json={"name": "孙丽", "role": "unit_head", "buildings": [nine.id], "unit": "1单元"},
            headers=auth,
        )
        assert made.status_code in (200, 201), made.text
        issued = (
            await tg.client.post(f"/api/v1/helpers/{made.json()['id']}/link-code", headers=auth)
        ).json()
        link = issued["telegram_link"]
        assert link == f"https://t.me/minhu_test_bot?start=link-{issued['code'].replace(' ', '')}"
        # Telegram turns the tap into "/start <payload>"
        reply = last_with(await tg.say(head, f"/start {link.rpartition('=')[2]}"), head.id)
        assert reply.text == (
            "绑定成功！孙丽，您是9幢的单元长，需要您帮忙确认或转告的消息会发到这里。"
        )
        # a malformed payload is not a link code: the ordinary welcome, nothing linked
        stranger = TgUser(5444444445, "路人")
        other = last_with(await tg.say(stranger, "/start link-123"), stranger.id)
        assert "绑定成功" not in other.text
