"""RasaHttpInterpreter against a real HTTP server on 127.0.0.1 speaking Rasa's /model/parse."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

import nlu
from bot.rasa_backend import RasaBackendError, RasaHttpInterpreter, parse_from_rasa

TOKEN = "s3cret"


def rasa_answer(text: str) -> dict[str, Any]:
    """What Rasa 3 answers for our sample messages (shape copied from Rasa's HTTP API docs)."""
    if not text:
        return {"text": "", "intent": {"name": None, "confidence": 0.0}, "entities": []}
    if "天气" in text:
        return {
            "text": text,
            "intent": {"name": "nlu_fallback", "confidence": 0.3},
            "intent_ranking": [
                {"name": "nlu_fallback", "confidence": 0.3},
                {"name": "greet", "confidence": 0.2},
            ],
            "entities": [],
        }
    start = text.index("3幢")
    return {
        "text": text,
        "intent": {"name": "report_elevator", "confidence": 0.91},
        "intent_ranking": [
            {"name": "report_elevator", "confidence": 0.91},
            {"name": "report_safety", "confidence": 0.06},
            {"name": "report_property", "confidence": 0.03},
        ],
        "entities": [
            {
                "entity": "building",
                "start": start,
                "end": start + 2,
                "value": "3幢",
                "extractor": "DIETClassifier",
                "confidence_entity": 0.98,
            },
            {
                "entity": "number",
                "start": 0,
                "end": 1,
                "value": 3,
                "extractor": "DucklingEntityExtractor",
            },
        ],
    }


Behaviour = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def well_behaved(request: web.Request) -> web.StreamResponse:
    if request.query.get("token") != TOKEN:
        return web.json_response({"status": "failure", "reason": "NotAuthenticated"}, status=401)
    body = await request.json()
    return web.json_response(rasa_answer(body["text"]))


async def broken(request: web.Request) -> web.StreamResponse:
    return web.Response(status=500, text="Internal Server Error")


async def not_json(request: web.Request) -> web.StreamResponse:
    return web.Response(status=200, text="<html>proxy login</html>")


async def wrong_shape(request: web.Request) -> web.StreamResponse:
    return web.json_response({"intent": {"name": "x", "confidence": 1}, "entities": [{"x": 1}]})


async def slow(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(1)
    return web.json_response(rasa_answer("3幢"))


@pytest.fixture
async def rasa_server() -> AsyncIterator[Callable[[Behaviour], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(handler: Behaviour) -> str:
        app = web.Application()
        app.router.add_post("/model/parse", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_rasa_answer_becomes_our_parse_when_server_answers(
    rasa_server: Callable[[Behaviour], Awaitable[str]],
) -> None:
    url = await rasa_server(well_behaved)
    text = "3幢电梯坏了，有人被困"
    async with RasaHttpInterpreter(url, token=TOKEN, version="rasa-test") as interpreter:
        parse = await interpreter.parse(text)
        assert interpreter.version == "rasa-test"
    assert parse.intent == nlu.IntentScore("report_elevator", 0.91)
    assert [r.name for r in parse.ranking] == [
        "report_elevator",
        "report_safety",
        "report_property",
    ]
    building = parse.first("building")
    assert building is not None
    assert (building.value, building.text, building.extractor, building.confidence) == (
        "3幢",
        "3幢",
        "DIETClassifier",
        0.98,
    )
    number = parse.first("number")
    assert number is not None and (number.value, number.confidence) == ("3", 1.0)


@pytest.mark.parametrize(
    ("text", "urgent", "advice"),
    [
        ("3幢电梯坏了，有人被困", True, "96333"),
        ("3幢电梯坏了，没有人被困", False, None),
    ],
)
async def test_our_safety_layer_reads_the_message_when_rasa_classifies_it(
    rasa_server: Callable[[Behaviour], Awaitable[str]],
    text: str,
    urgent: bool,
    advice: str | None,
) -> None:
    """Rasa projects know nothing of our hazards: a trapped person is urgent all the same."""
    url = await rasa_server(well_behaved)
    async with RasaHttpInterpreter(url, token=TOKEN) as interpreter:
        parse = await interpreter.parse(text)
    assert parse.intent.name == "report_elevator"
    assert parse.urgent is urgent
    assert (advice in parse.advice) if advice else parse.advice == ()


@pytest.mark.parametrize(
    ("text", "intent", "confidence"),
    [("今天天气怎么样", nlu.OUT_OF_SCOPE, 0.3), ("", nlu.OUT_OF_SCOPE, 1.0)],
)
async def test_rasa_fallback_becomes_out_of_scope_when_rasa_is_unsure(
    rasa_server: Callable[[Behaviour], Awaitable[str]], text: str, intent: str, confidence: float
) -> None:
    url = await rasa_server(well_behaved)
    async with RasaHttpInterpreter(url, token=TOKEN) as interpreter:
        parse = await interpreter.parse(text)
    assert (parse.intent.name, parse.intent.confidence) == (intent, confidence)
    assert parse.ranking[0] == parse.intent


@pytest.mark.parametrize(
    ("handler", "token", "message"),
    [
        (well_behaved, None, "HTTP 401"),
        (broken, TOKEN, "HTTP 500"),
        (not_json, TOKEN, "not JSON"),
        (wrong_shape, TOKEN, "unexpected Rasa response"),
    ],
)
async def test_parse_raises_nlu_error_when_server_misbehaves(
    rasa_server: Callable[[Behaviour], Awaitable[str]],
    handler: Behaviour,
    token: str | None,
    message: str,
) -> None:
    url = await rasa_server(handler)
    async with RasaHttpInterpreter(url, token=token) as interpreter:
        with pytest.raises(nlu.NLUError, match=message):
            await interpreter.parse("3幢电梯坏了")


async def test_parse_raises_after_timeout_when_server_is_slow(
    rasa_server: Callable[[Behaviour], Awaitable[str]],
) -> None:
    url = await rasa_server(slow)
    async with RasaHttpInterpreter(url, timeout=0.2) as interpreter:
        with pytest.raises(RasaBackendError, match="timed out") as caught:
            await interpreter.parse("3幢")
    assert caught.value.__cause__ is not None


async def test_parse_raises_with_cause_when_nothing_listens() -> None:
    with socket.socket() as probe:  # find a free port, then leave it closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with RasaHttpInterpreter(f"http://127.0.0.1:{port}", timeout=1.0) as interpreter:
        with pytest.raises(RasaBackendError, match="cannot reach") as caught:
            await interpreter.parse("3幢")
    assert caught.value.__cause__ is not None


def test_mapping_keeps_rasa_json_values_when_they_are_structures() -> None:
    body = {
        "intent": {"name": "report_noise", "confidence": 0.8},
        "entities": [
            {"entity": "time", "start": 0, "end": 2, "value": {"to": "2024-05-01T22:00"}},
        ],
    }
    parse = parse_from_rasa("昨晚很吵", body)
    assert parse.values("time") == [json.dumps({"to": "2024-05-01T22:00"})]
    assert parse.ranking == (parse.intent,)


# --- the local model standing in (bot/nlu_fallback.py) ------------------------------------


class LocalModel:
    """The in-process model's role: answers every message, counts them."""

    thresholds = nlu.Thresholds()
    version = "local"

    def __init__(self) -> None:
        self.calls = 0

    async def parse(self, text: str, hints: Any = None) -> nlu.Parse:
        self.calls += 1
        return parse_from_rasa(text, rasa_answer(text))


@pytest.mark.parametrize("handler", [broken, not_json, wrong_shape, slow])
async def test_the_local_model_answers_when_rasa_is_slow_or_broken(
    rasa_server: Callable[[Behaviour], Awaitable[str]],
    handler: Behaviour,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.nlu_fallback import FallbackInterpreter

    url = await rasa_server(handler)
    local = LocalModel()
    interpreter = FallbackInterpreter(RasaHttpInterpreter(url, timeout=0.2), local, trip_after=2)
    try:
        parses = [await interpreter.parse("3幢电梯坏了") for _ in range(4)]
    finally:
        await interpreter.aclose()
    assert {p.intent.name for p in parses} == {"report_elevator"}
    assert (interpreter.fallbacks, local.calls) == (4, 4)
    assert interpreter.open  # two failures tripped the breaker: Rasa is not asked meanwhile
    assert "local model answers" in caplog.text


async def test_rasa_down_at_start_is_warned_and_the_local_model_answers() -> None:
    from bot.nlu_fallback import FallbackInterpreter

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    local = LocalModel()
    rasa = RasaHttpInterpreter(f"http://127.0.0.1:{port}", timeout=0.5)
    interpreter = FallbackInterpreter(rasa, local)
    try:
        assert not await interpreter.check()
        parse = await interpreter.parse("3幢电梯坏了")
    finally:
        await interpreter.aclose()
    assert parse.intent.name == "report_elevator" and interpreter.fallbacks == 1


async def test_rasa_answers_again_after_the_cooldown(
    rasa_server: Callable[[Behaviour], Awaitable[str]],
) -> None:
    from bot.nlu_fallback import FallbackInterpreter

    url = await rasa_server(well_behaved)
    local = LocalModel()
    rasa = RasaHttpInterpreter(url, token=TOKEN)
    interpreter = FallbackInterpreter(rasa, local, cooldown_seconds=0.0)
    try:
        interpreter._failed("HTTP 500")  # a failure earlier; the cooldown is over
        interpreter._failed("HTTP 500")
        interpreter._failed("HTTP 500")
        parse = await interpreter.parse("3幢电梯坏了")
    finally:
        await interpreter.aclose()
    assert parse.intent.name == "report_elevator" and local.calls == 0
