"""Channel adapters: each turns a platform's payloads into Inbound and renders Outbound.

To add a channel: write ``bot/channels/<name>.py`` exposing ``CHANNEL`` (see base.Channel),
add it to CHANNELS below, add its settings section to bot/config.py. The wiring
(``bot/container.build``) receives CHANNELS from its caller and never imports this package,
so channels may import the container.
"""

from __future__ import annotations

from bot.channels import city12345, cli, sms, telegram, web, wechat, wecom
from bot.channels.base import Channel

CHANNELS: tuple[Channel, ...] = (
    web.CHANNEL,
    cli.CHANNEL,
    telegram.CHANNEL,
    wechat.CHANNEL,
    wecom.CHANNEL,  # notifications only (grid workers)
    city12345.CHANNEL,  # the street's work orders to the city's 12345 hotline (issue 14)
    sms.CHANNEL,  # notifications only (residents who reported by phone / at the counter)
)
