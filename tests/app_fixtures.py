"""App-level fixtures: a trained model (once per session) and the app on either backend.

``backend`` is parametrized: ``embedded`` (SQLite file + in-process state) always runs;
``services`` (a fresh PostgreSQL database + a Redis key prefix) runs when the services are
configured and is required in CI (MINHU_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import FakeClock, make_settings

NLU_DATA = Path(__file__).resolve().parent.parent / "nlu" / "data"


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory with one trained, active version of our own intents."""
    import nlu
    from bot.nlu_runtime import ModelRepository

    root = tmp_path_factory.mktemp("models")
    repo = ModelRepository(root)
    model = nlu.train(nlu.load_training_data(NLU_DATA), version="v-test-1")
    repo.save(model)
    repo.activate(model.version)
    return root


@pytest.fixture
def models_copy(trained_models: Path, tmp_path: Path) -> Path:
    """A private copy of the trained models (for tests that activate other versions)."""
    target = tmp_path / "models"
    shutil.copytree(trained_models, target)
    return target


@dataclass
class Running:
    client: httpx.AsyncClient
    container: Any
    app: Any

    async def say(
        self, user_id: str, text: str | None = None, *, button: str | None = None, **extra: Any
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"user_id": user_id, **extra}
        if text is not None:
            body["text"] = text
        if button is not None:
            body["button"] = button
        response = await self.client.post("/api/v1/messages", json=body)
        assert response.status_code == 200, response.text
        replies: list[dict[str, Any]] = response.json()["replies"]
        return replies

    async def inbox(
        self, user_id: str, *, expect: int = 1, wait: float = 5.0
    ) -> list[dict[str, Any]]:
        """Poll GET /api/v1/messages until `expect` messages arrived (the outbox is async)."""
        got: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            response = await self.client.get("/api/v1/messages", params={"user_id": user_id})
            assert response.status_code == 200, response.text
            got += response.json()["messages"]
            if len(got) >= expect or asyncio.get_running_loop().time() > deadline:
                return got
            await asyncio.sleep(0.05)


@pytest.fixture(params=["embedded", pytest.param("services", marks=pytest.mark.services)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Connection settings for one backend; `services` gets a fresh database and prefix."""
    if request.param == "embedded":
        return {}
    make_db: Callable[[], str] = request.getfixturevalue("fresh_postgres_url")
    return {
        "database_url": make_db(),
        "redis_url": request.getfixturevalue("redis_url"),
        "redis_prefix": request.getfixturevalue("redis_prefix"),
    }


@pytest.fixture
def start_app(tmp_path: Path, trained_models: Path, backend: dict[str, Any]) -> Callable[..., Any]:
    """``async with start_app(**overrides) as running:`` — the app with its lifespan running."""

    @asynccontextmanager
    async def start(
        clock: FakeClock | None = None,
        models: Path | None = None,
        data_dir: Path | None = None,
        **overrides: Any,
    ) -> AsyncIterator[Running]:
        from bot.app import create_app

        settings = make_settings(
            data_dir or tmp_path, models=models or trained_models, **{**backend, **overrides}
        )
        app = create_app(settings, clock=clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://minhu.test"
            ) as client:
                yield Running(client=client, container=app.state.container, app=app)

    return start


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
async def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """A migrated SqlStore on SQLite (embedded) and on a fresh PostgreSQL database."""
    from storage.db import Database
    from storage.repositories import SqlStore

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'contract.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")()
    database = Database(url)
    await database.migrate()
    try:
        yield SqlStore(database)
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def s3_server() -> Any:
    """A local S3 server speaking the real protocol (moto's, on 127.0.0.1): its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"
    finally:
        server.stop()


@pytest.fixture
def s3_settings(s3_server: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """``s3`` settings for a fresh bucket on the fake server."""
    import re
    import uuid

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    return {
        "endpoint_url": s3_server,
        "bucket": f"{name}-{uuid.uuid4().hex[:8]}",
        "access_key": "test-access-key",
        "secret_key": "test-secret-key",
    }
