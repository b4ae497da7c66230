"""An Interpreter that delegates parsing to an external Rasa server (``POST /model/parse``).

For sites that already run Rasa: Minhu keeps its dialogue, tickets and routing and asks the
Rasa server what a message means. Rasa's response is mapped onto our :class:`nlu.types.Parse`:
its ``nlu_fallback`` intent (and a missing intent, as for empty text) becomes
``out_of_scope``; entity values that are not strings (numbers, Duckling time objects) become
strings (JSON for structures). Registry hints are not sent: Rasa's API has no place for them.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

import httpx

from nlu.errors import NLUError
from nlu.model import OUT_OF_SCOPE
from nlu.safety import detect_hazards
from nlu.types import Entity, Hints, IntentScore, Parse, Thresholds

_RASA_FALLBACK = "nlu_fallback"


class RasaBackendError(NLUError):
    """The Rasa server could not be reached or answered something we cannot use."""


class RasaHttpInterpreter:
    """``handlers.ports.Interpreter`` backed by a Rasa server's HTTP API.

    Args:
        base_url: the server's root, e.g. ``http://127.0.0.1:5005``.
        token: Rasa's ``--auth-token``, sent as the ``token`` query parameter.
        timeout: seconds for the whole request (connect + read).
        thresholds: decision thresholds for the dialogue (Rasa's own fallback threshold
            applies inside Rasa; these apply to the confidences it returns).
        version: label shown in logs and the admin console.
        client: an httpx client to use (the interpreter then does not close it).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 5.0,
        thresholds: Thresholds | None = None,
        version: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/model/parse"
        self._params = {"token": token} if token else {}
        self._thresholds = thresholds or Thresholds()
        self._version = version or f"rasa@{base_url.rstrip('/')}"
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout))

    @property
    def thresholds(self) -> Thresholds:
        """Decision thresholds applied to Rasa's confidences."""
        return self._thresholds

    @property
    def version(self) -> str:
        """Label of the backend (``rasa@<base url>`` unless given)."""
        return self._version

    async def parse(self, text: str, hints: Hints | None = None) -> Parse:
        """Ask Rasa to parse one message.

        Args:
            text: the message as sent.
            hints: ignored (Rasa's API does not take registry names).

        Returns:
            The parse, with Rasa's ranking and entities.

        Raises:
            RasaBackendError: network error, timeout, non-2xx status or an unusable body.
        """
        del hints
        try:
            response = await self._client.post(self._url, params=self._params, json={"text": text})
        except httpx.TimeoutException as e:
            raise RasaBackendError(f"Rasa server at {self._url} timed out") from e
        except httpx.HTTPError as e:
            raise RasaBackendError(f"cannot reach Rasa server at {self._url}: {e}") from e
        if response.status_code != 200:
            raise RasaBackendError(
                f"Rasa server answered HTTP {response.status_code}: {response.text[:200]}"
            )
        try:
            body = response.json()
        except ValueError as e:
            raise RasaBackendError("Rasa server answered with a body that is not JSON") from e
        try:
            return parse_from_rasa(text, body)
        except (TypeError, KeyError, ValueError) as e:
            raise RasaBackendError(f"unexpected Rasa response shape: {e!r}") from e

    async def aclose(self) -> None:
        """Close the HTTP client if this interpreter created it."""
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> RasaHttpInterpreter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _intent(raw: Any) -> IntentScore | None:
    if not isinstance(raw, dict) or not raw.get("name"):
        return None
    name = str(raw["name"])
    if name == _RASA_FALLBACK:
        name = OUT_OF_SCOPE
    confidence = float(raw.get("confidence") or 0.0)
    return IntentScore(name, min(max(confidence, 0.0), 1.0))


def _value(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    return json.dumps(raw, ensure_ascii=False, sort_keys=True)


def parse_from_rasa(text: str, body: Any) -> Parse:
    """Map a Rasa ``/model/parse`` response body onto a :class:`Parse`."""
    if not isinstance(body, dict):
        raise TypeError("the response is not a JSON object")
    intent = _intent(body.get("intent")) or IntentScore(OUT_OF_SCOPE, 1.0)
    ranking: list[IntentScore] = []
    for raw in body.get("intent_ranking") or []:
        scored = _intent(raw)
        if scored is not None and scored.name not in {r.name for r in ranking}:
            ranking.append(scored)
    ranking = [r for r in ranking if r.name != intent.name]
    ranking.sort(key=lambda r: -r.confidence)
    entities: list[Entity] = []
    for raw in body.get("entities") or []:
        start, end = int(raw["start"]), int(raw["end"])
        confidence = raw.get("confidence_entity")
        entities.append(
            Entity(
                type=str(raw["entity"]),
                value=_value(raw.get("value", text[start:end])),
                start=start,
                end=end,
                text=text[start:end],
                extractor=str(raw.get("extractor") or "rasa"),
                confidence=1.0 if confidence is None else float(confidence),
            )
        )
    entities.sort(key=lambda e: (e.start, e.end))
    # the safety layer is ours, not the Rasa project's: a danger is never missed because the
    # intents come from another server
    return Parse(
        text=text,
        intent=intent,
        ranking=(intent, *ranking),
        entities=tuple(entities),
        hazards=detect_hazards(text),
    )
