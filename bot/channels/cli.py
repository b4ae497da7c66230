"""`minhu chat`: talk to Minhu in the terminal, as a resident or (with a worker id) a worker."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from typing import TYPE_CHECKING, TextIO

from fastapi import APIRouter

from bot.config import Settings
from bot.notify.mailbox import MailboxNotifier
from handlers.messages import Inbound, Outbound
from handlers.ports import Notifier
from handlers.service import outbound_from_dict

if TYPE_CHECKING:
    from bot.container import Container


class CliChannel:
    name = "cli"

    def enabled(self, settings: Settings) -> bool:
        return True

    def notifier(self, container: Container) -> Notifier | None:
        return MailboxNotifier("cli", container.store, container.clock)

    def router(self, settings: Settings) -> APIRouter | None:
        return None

    async def start(self, container: Container) -> None:
        return None


CHANNEL = CliChannel()


def format_message(message: Outbound, prefix: str = "民呼") -> tuple[str, list[str]]:
    """Text for the terminal; buttons become a numbered list the user can answer with."""
    lines = [f"{prefix}: {message.text}"]
    payloads: list[str] = []
    for i, button in enumerate(message.buttons, 1):
        lines.append(f"   [{i}] {button.title}")
        payloads.append(button.payload)
    return "\n".join(lines), payloads


async def run_chat(
    container: Container,
    *,
    user_id: str,
    channel: str = "cli",
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    poll_seconds: float = 1.0,
) -> None:
    """A read-eval-print loop; pushed messages are printed as they arrive."""
    inp, out = stdin or sys.stdin, stdout or sys.stdout
    buttons: list[str] = []

    def show(message: Outbound, prefix: str = "民呼") -> None:
        nonlocal buttons
        text, payloads = format_message(message, prefix)
        if payloads:
            buttons = payloads
        print(text, file=out, flush=True)

    async def pushes() -> None:
        while True:
            async with container.store.unit() as uow:
                items = await uow.mailbox.drain(channel, user_id)
            for item in items:
                show(outbound_from_dict(item), "民呼（推送）")
            await asyncio.sleep(poll_seconds)

    print(
        f"民呼终端聊天（{channel}:{user_id}）。输入消息回车发送，数字选择按钮，Ctrl-D 退出。",
        file=out,
    )
    poller = asyncio.create_task(pushes(), name="cli-pushes")
    try:
        while True:
            line = await asyncio.to_thread(inp.readline)
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            button = None
            if text.isdigit() and 1 <= int(text) <= len(buttons):
                button, text = buttons[int(text) - 1], ""
            inbound = Inbound(
                channel=channel,
                user_id=user_id,
                message_id=uuid.uuid4().hex,
                text=text,
                button=button,
            )
            for reply in await container.service.handle(inbound):
                show(reply)
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        # a last look so pushes that arrived with the final reply are not left unread
        async with container.store.unit() as uow:
            items = await uow.mailbox.drain(channel, user_id)
        for item in items:
            show(outbound_from_dict(item), "民呼（推送）")
