"""Channel adapters: each turns a platform's payloads into Inbound and renders Outbound.

To add a channel: write ``bot/channels/<name>.py`` exposing ``CHANNEL`` (see base.Channel),
add it to CHANNELS below, add its settings section to bot/config.py.
"""

from __future__ import annotations

from bot.channels import cli, telegram, web, wechat
from bot.channels.base import Channel
from bot.notify import wecom

CHANNELS: tuple[Channel, ...] = (
    web.CHANNEL,
    cli.CHANNEL,
    telegram.CHANNEL,
    wechat.CHANNEL,
    wecom.CHANNEL,  # notifications only (grid workers)
)
