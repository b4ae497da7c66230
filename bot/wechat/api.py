"""The WeChat official-account HTTP API, asynchronous (httpx), with one shared access token.

Why not wechatpy's ``WeChatClient``: it is synchronous (a thread per call), and its token
refresh calls ``/cgi-bin/token``, which invalidates the token every other replica holds. Here:

* the token comes from ``/cgi-bin/stable_token``, which hands every caller the *same* token
  while it is valid (calling it again never invalidates a token someone else uses);
* it is cached in the session store (Redis when configured), so all processes share it;
* a refresh is single-flight under the store's lock: of two replicas that find the token
  missing or rejected at once, one fetches and the other reads what it stored;
* a token the API rejects (40001/40014/42001) is replaced once and the call retried; only when
  ``stable_token`` insists on the rejected token is a forced refresh requested.

Errors leave as `WeChatApiError` (the platform said no: ``errcode``) or
`WeChatTransportError` (network, timeout, garbage). Messages never contain the secret or the
access token (httpx's own exception texts include the URL, so they are not passed on).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from storage.interfaces import SessionStore

log = logging.getLogger("minhu.wechat.api")

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential / token, token expired
_TOKEN_MARGIN_SECONDS = 300  # stop using a token five minutes before WeChat's expiry


class WeChatError(Exception):
    """Root of the WeChat adapter's errors."""


class WeChatApiError(WeChatError):
    """WeChat answered with a non-zero ``errcode``."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatTransportError(WeChatError):
    """The API could not be reached or answered something that is not its protocol."""


def _json_body(payload: dict[str, Any]) -> bytes:
    # WeChat wants raw UTF-8: some endpoints (menu, custom messages) show \\u escapes verbatim
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WeChatApi:
    """One official account's HTTP API.

    Args:
        app_id: the AppID.
        secret: the AppSecret.
        base: API root, e.g. ``https://api.weixin.qq.com`` (tests point it at a fake server).
        sessions: the shared store holding the access token and the refresh lock.
        timeout: seconds for each HTTP request.
        client: an httpx client to use (then not closed by `aclose`).
    """

    def __init__(
        self,
        *,
        app_id: str,
        secret: str,
        base: str,
        sessions: SessionStore,
        timeout: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.app_id = app_id
        self._secret = secret
        self._base = base.rstrip("/")
        self._sessions = sessions
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout))
        self._token_key = f"wechat:token:{app_id}"

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    # --- access token ------------------------------------------------------------------------

    async def access_token(self) -> str:
        """The account's current access token (shared by every process)."""
        cached = await self._sessions.get_value(self._token_key)
        if cached:
            return cached
        return await self._refresh(stale=None)

    async def _refresh(self, stale: str | None) -> str:
        async with self._sessions.lock(self._token_key, timeout=15):
            cached = await self._sessions.get_value(self._token_key)
            if cached and cached != stale:
                return cached  # another process refreshed while we waited for the lock
            token, expires_in = await self._fetch_token(force=False)
            if stale is not None and token == stale:
                # WeChat still hands out the token its API just rejected: ask for a new one
                token, expires_in = await self._fetch_token(force=True)
            ttl = max(60, expires_in - _TOKEN_MARGIN_SECONDS)
            await self._sessions.set_value(self._token_key, token, ttl_seconds=ttl)
            log.info("WeChat access token refreshed (valid %d s)", expires_in)
            return token

    async def _fetch_token(self, *, force: bool) -> tuple[str, int]:
        data = await self._post_json(
            "/cgi-bin/stable_token",
            {
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self._secret,
                "force_refresh": force,
            },
            params={},
        )
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatTransportError("stable_token answered without an access_token")
        return token, int(data.get("expires_in") or 7200)

    # --- calls -------------------------------------------------------------------------------

    async def call(
        self,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        """POST to an API path with the access token; retried once with a fresh token.

        Raises:
            WeChatApiError: a non-zero errcode (other than a token error fixed by refreshing).
            WeChatTransportError: network trouble or a reply that is not WeChat's JSON.
        """
        for attempt in (1, 2):
            token = await self.access_token()
            query = {**(params or {}), "access_token": token}
            try:
                return await self._post_json(path, payload, params=query, files=files)
            except WeChatApiError as e:
                if e.errcode in TOKEN_ERRORS and attempt == 1:
                    log.warning("WeChat rejected the access token (%d); refreshing", e.errcode)
                    await self._refresh(stale=token)
                    continue
                raise
        raise WeChatTransportError("unreachable")  # pragma: no cover - loop returns or raises

    async def _post_json(
        self,
        path: str,
        payload: dict[str, Any] | None,
        *,
        params: dict[str, str],
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        url = self._base + path
        try:
            if files is not None:
                response = await self._client.post(url, params=params, files=files)
            else:
                response = await self._client.post(
                    url,
                    params=params,
                    content=_json_body(payload or {}),
                    headers={"Content-Type": "application/json; charset=utf-8"},
                )
        except httpx.HTTPError as e:
            raise WeChatTransportError(f"{path}: {type(e).__name__}") from None
        return self._decode(path, response)

    @staticmethod
    def _decode(path: str, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            raise WeChatTransportError(f"{path}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise WeChatTransportError(f"{path}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise WeChatTransportError(f"{path}: the answer is not a JSON object")
        errcode = int(data.get("errcode") or 0)
        if errcode != 0:
            raise WeChatApiError(errcode, str(data.get("errmsg", ""))[:200])
        return data

    # --- endpoints ---------------------------------------------------------------------------

    async def media(self, media_id: str, *, max_bytes: int) -> tuple[bytes, str]:
        """Download a user's media (``/cgi-bin/media/get``): its bytes and content type.

        Raises:
            WeChatApiError: WeChat refused (expired or unknown media id …).
            WeChatTransportError: network trouble, or larger than ``max_bytes``.
        """
        for attempt in (1, 2):
            token = await self.access_token()
            try:
                content, mime = await self._download(media_id, token, max_bytes)
            except WeChatApiError as e:
                if e.errcode in TOKEN_ERRORS and attempt == 1:
                    await self._refresh(stale=token)
                    continue
                raise
            return content, mime
        raise WeChatTransportError("unreachable")  # pragma: no cover

    async def _download(self, media_id: str, token: str, max_bytes: int) -> tuple[bytes, str]:
        url = self._base + "/cgi-bin/media/get"
        chunks: list[bytes] = []
        size = 0
        try:
            async with self._client.stream(
                "GET", url, params={"access_token": token, "media_id": media_id}
            ) as response:
                if response.status_code >= 400:
                    raise WeChatTransportError(f"media/get: HTTP {response.status_code}")
                mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise WeChatTransportError(f"media larger than {max_bytes} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as e:
            raise WeChatTransportError(f"media/get: {type(e).__name__}") from None
        content = b"".join(chunks)
        # errors come back as JSON (or text/plain JSON) instead of the file
        if mime in ("application/json", "text/plain") or content[:1] == b"{":
            try:
                data = json.loads(content)
            except ValueError:
                raise WeChatTransportError("media/get: neither a file nor JSON") from None
            raise WeChatApiError(int(data.get("errcode") or -1), str(data.get("errmsg", ""))[:200])
        return content, mime

    async def send_custom(self, body: dict[str, Any]) -> None:
        """A customer-service message (only within 48 hours of the user's last message)."""
        await self.call("/cgi-bin/message/custom/send", body)

    async def send_template(self, body: dict[str, Any]) -> str:
        """A template message; returns WeChat's msgid."""
        data = await self.call("/cgi-bin/message/template/send", body)
        return str(data.get("msgid", ""))

    async def upload_image(self, content: bytes, mime: str, filename: str) -> str:
        """Upload a temporary image (3 days); returns its media_id."""
        data = await self.call(
            "/cgi-bin/media/upload",
            params={"type": "image"},
            files={"media": (filename, content, mime)},
        )
        media_id = data.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WeChatTransportError("media/upload answered without a media_id")
        return media_id

    async def create_qrcode(self, scene: str) -> dict[str, Any]:
        """A permanent QR code carrying a string scene (``QR_LIMIT_STR_SCENE``, 1–64
        characters): ``{ticket, url}``. Scanning it sends the scene as the event's EventKey."""
        return await self.call(
            "/cgi-bin/qrcode/create",
            {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}},
        )

    async def create_menu(self, menu: dict[str, Any]) -> None:
        """Install the custom menu (replaces the current one)."""
        await self.call("/cgi-bin/menu/create", menu)
