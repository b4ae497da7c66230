"""Property-based fuzz of the public HTTP surface: whatever arrives, never a 5xx (issue 11).

Every public operation of the OpenAPI schema (chat, Open311, health) plus the WeChat and
Telegram webhooks gets hypothesis-generated path parameters, query strings and bodies —
strings of any script, numbers, nested JSON, wrong types. Production mode, so identity checks
are exercised too. The budget is bounded (``MAX_EXAMPLES`` requests, well under a minute).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

MAX_EXAMPLES = 120
PUBLIC_PREFIXES = ("/api/v1/messages", "/api/v1/session", "/api/v1/uploads", "/api/v1/att")
PUBLIC_PREFIXES += ("/open311", "/healthz", "/webhooks")

text = st.text(max_size=60)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), text
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    ops = []
    for path, methods in schema["paths"].items():
        if not path.startswith(PUBLIC_PREFIXES):
            continue
        for method, op in methods.items():
            ops.append((method.upper(), path, op))
    return ops


@st.composite
def requests(draw: Any, ops: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    method, path, op = draw(st.sampled_from(ops))
    params: dict[str, Any] = {}
    for p in op.get("parameters", []):
        value = draw(st.one_of(text, st.integers(), st.sampled_from(["", "1", "-1", "0" * 40])))
        if p["in"] == "path":
            path = path.replace("{" + p["name"] + "}", quote(str(value), safe="") or "x")
        elif p["in"] == "query" and draw(st.booleans()):
            params[p["name"]] = str(value)
    request: dict[str, Any] = {"method": method, "url": path, "params": params}
    if method in ("POST", "PUT", "PATCH"):
        kind = draw(st.sampled_from(["json", "raw", "form"]))
        if kind == "json":
            body = draw(
                st.one_of(
                    json_values,
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "text": text,
                            "button": text,
                            "media": st.lists(text, max_size=3),
                            "message_id": text,
                            "locale": text,
                            "user_id": text,
                        },
                    ),
                )
            )
            request["json"] = body
        elif kind == "raw":
            request["content"] = draw(st.binary(max_size=300))
        else:
            request["data"] = draw(st.dictionaries(text, text, max_size=3))
    return request


async def test_no_public_request_gets_a_server_error(start_app: Any) -> None:
    # the WeChat API is never reached by a request that fails its signature; 127.0.0.1:9
    # refuses at once should anything try
    wechat = {
        "app_id": "wx1234567890",
        "secret": "s" * 32,
        "token": "t" * 32,
        "api_base": "http://127.0.0.1:9",
    }
    async with start_app(env="prod", secret_key=SecretStr("k" * 48), wechat=wechat) as app:
        schema = (await app.client.get("/openapi.json")).json()
        ops = _operations(schema)
        ops += [("POST", "/webhooks/wechat", {}), ("GET", "/webhooks/wechat", {})]
        paths = {p for _, p, _ in ops}
        assert any(p.startswith("/open311") for p in paths) and "/api/v1/messages" in paths
        loop = asyncio.get_running_loop()
        failures: list[str] = []

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(requests(ops))
        def fuzz(request: dict[str, Any]) -> None:
            future = asyncio.run_coroutine_threadsafe(app.client.request(**request), loop)
            response = future.result(timeout=30)
            if response.status_code >= 500:
                failures.append(f"{request} → {response.status_code} {response.text[:200]}")
            assert response.status_code < 500, failures[-1]
            assert not re.search(r"Traceback", response.text)

        await asyncio.to_thread(fuzz)
        assert failures == []
