"""Verifying and opening what WeChat posts: signatures, replay window, safe XML, AES.

Every check raises `Rejected` with the HTTP status the webhook answers; nothing here logs.

XML: wechatpy parses with xmltodict (expat). Untrusted bytes reach it only after defusedxml
accepted them with DTDs, entity declarations and external references forbidden, so a billion-
laughs or XXE payload is refused before any parser expands anything. The size limit is
enforced on the raw body by the webhook and again on the decrypted message here.
"""

from __future__ import annotations

import hmac
import time
from xml.etree.ElementTree import Element  # the type only; parsing is defusedxml's

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as defused_fromstring
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner


class Rejected(Exception):  # noqa: N818 -- reads as what happened to the request
    """A request the webhook refuses; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted, concatenated parts (computed by wechatpy)."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    signature: str = signer.signature
    return signature


def check_signature(token: str, signature: str, timestamp: str, nonce: str) -> None:
    """The URL signature every callback carries (``signature`` = sha1(token, timestamp, nonce))."""
    if not signature or not hmac.compare_digest(
        sign(token, timestamp, nonce).encode(), signature.encode()
    ):
        raise Rejected(403, "bad signature")


def check_timestamp(timestamp: str, max_skew: int, now: float | None = None) -> None:
    """Refuse replays: the signed timestamp must be within ``max_skew`` seconds of now."""
    try:
        sent = int(timestamp)
    except ValueError:
        raise Rejected(403, "bad timestamp") from None
    if abs((now if now is not None else time.time()) - sent) > max_skew:
        raise Rejected(403, "stale timestamp")


def parse_xml(data: bytes | str, *, max_bytes: int) -> dict[str, str]:
    """Parse a WeChat ``<xml>`` document into its top-level fields, safely.

    Raises:
        Rejected: too large (413), or malformed, with a DTD/entities, or not ``<xml>`` (400).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise Rejected(413, "message too large")
    try:
        root: Element = defused_fromstring(
            raw, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except (DefusedXmlException, ParseError, ValueError):
        raise Rejected(400, "malformed or unsafe XML") from None
    if root.tag != "xml":
        raise Rejected(400, "not a WeChat message")
    tags = [child.tag for child in root]
    if len(tags) != len(set(tags)):
        raise Rejected(400, "a field appears twice")
    for child in root:
        # these are plain text in every WeChat message; an element inside one is not WeChat
        if child.tag in _TEXT_FIELDS and len(child):
            raise Rejected(400, f"<{child.tag}> holds elements")
    return {child.tag: (child.text or "") for child in root}


_TEXT_FIELDS = frozenset(
    {
        "ToUserName",
        "FromUserName",
        "CreateTime",
        "MsgType",
        "MsgId",
        "Content",
        "Event",
        "EventKey",
        "MediaId",
        "Recognition",
        "Encrypt",
    }
)


class Envelope:
    """Opens safe-mode (AES) bodies and seals replies with wechatpy's ``WeChatCrypto``."""

    def __init__(self, token: str, aes_key: str, app_id: str) -> None:
        self._token = token
        self._crypto = WeChatCrypto(token, aes_key, app_id)

    def open(self, fields: dict[str, str], msg_signature: str, timestamp: str, nonce: str) -> str:
        """Check ``msg_signature`` (constant time), decrypt, check the AppID; return the XML.

        Raises:
            Rejected: 400 without ``Encrypt``; 403 for a bad signature, undecryptable content
                or another account's AppID.
        """
        encrypted = fields.get("Encrypt")
        if not encrypted:
            raise Rejected(400, "no Encrypt element")
        expected = sign(self._token, timestamp, nonce, encrypted)
        if not msg_signature or not hmac.compare_digest(expected.encode(), msg_signature.encode()):
            raise Rejected(403, "bad msg_signature")
        try:
            # the signature was checked above; wechatpy checks it again and the AppID
            xml: str = self._crypto.decrypt_message(
                {"Encrypt": encrypted}, msg_signature, timestamp, nonce
            )
        except Exception:  # InvalidAppIdException, padding/base64/UTF-8 garbage
            raise Rejected(403, "cannot decrypt for this AppID") from None
        return xml

    def seal(self, reply_xml: str, nonce: str, timestamp: str) -> str:
        sealed: str = self._crypto.encrypt_message(reply_xml, nonce, timestamp)
        return sealed
