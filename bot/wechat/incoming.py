"""What a WeChat message is before the channel handles it: the menu keys, the channel's own
short answers, the conversational message (``Incoming``), its de-duplication key and text that
is safe inside wechatpy's CDATA."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from handlers.messages import Inbound

# the custom menu `minhu wechat menu` installs: CLICK keys are the dialogue's button payloads
MENU: dict[str, Any] = {
    "button": [
        {"type": "click", "name": "我要报", "key": "report"},
        {"type": "click", "name": "我的工单", "key": "status"},
        {"type": "click", "name": "使用帮助", "key": "help"},
    ]
}
# the same keys for a grid worker: "my tickets" lists their tasks
_WORKER_KEYS = {"report": "help", "status": "tasks", "help": "help"}
_RESIDENT_KEYS = {"report": "report", "status": "status", "help": "help"}

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

TEXTS: dict[str, dict[str, str]] = {
    "holding": {
        "zh": "收到，正在为您处理，结果稍后发给您。",
        "en": "Got it. We're working on it and will send you the answer shortly.",
    },
    "unsupported": {
        "zh": "暂时看不了视频和文件。请用文字描述遇到的问题，或者发一张现场照片。",
        "en": "Videos and files can't be viewed here yet. Please describe the problem in words "
        "or send a photo.",
    },
    "voice_no_text": {
        "zh": "这条语音没能转成文字。请用文字描述遇到的问题，或者发一张现场照片。",
        "en": "That voice message couldn't be turned into text. Please type the problem or send "
        "a photo.",
    },
    "photo_failed": {
        "zh": "照片没有接收成功，请稍后再发一次。",
        "en": "The photo didn't come through. Please send it again in a moment.",
    },
    "photo_format": {
        "zh": "这张图片的格式暂时打不开，请换成普通照片（JPG/PNG）再发一次。",
        "en": "That picture's format can't be opened. Please send a normal photo (JPG/PNG).",
    },
}


def say(key: str, locale: str = "zh") -> str:
    entry = TEXTS[key]
    return entry.get(locale) or entry["zh"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """A conversational WeChat message, before its photo (if any) is fetched."""

    inbound: Inbound
    image_media_id: str | None = None
    direct: str | None = None  # a TEXTS key answered by the channel itself
    welcome: bool = False  # subscribe: greet before the answer

    @property
    def key(self) -> str:
        return self.inbound.message_id

    @property
    def openid(self) -> str:
        return self.inbound.user_id


def dedupe_key(fields: dict[str, str]) -> str:
    """MsgId for messages; FromUserName + CreateTime + Event for events (they have no MsgId)."""
    msg_id = fields.get("MsgId", "").strip()
    if msg_id:
        return msg_id
    # EventKey too: two different menu taps within one second are two turns
    return (
        f"evt:{fields.get('FromUserName', '')}:{fields.get('CreateTime', '')}:"
        + fields.get("Event", "").lower()
        + (f":{fields['EventKey'][:40]}" if fields.get("EventKey") else "")
    )


def xml_text(text: str) -> str:
    """Text safe inside wechatpy's CDATA: no illegal characters, no early ``]]>``."""
    return _XML_ILLEGAL.sub("", text).replace("]]>", "]]]]><![CDATA[>")
