"""Replicas share everything: photos in the object store (S3), the active model for all."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.channels.web import sign
from bot.nlu_runtime import ActiveInterpreter, ModelRepository
from storage.models import Attachment
from storage.objects import S3ObjectStore
from storage.sql_common import table_of
from tests.factories import FakeClock

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


async def test_a_photo_lands_in_s3_not_the_database_and_only_its_signed_link_serves_it(
    start_app: Any, s3_settings: dict[str, Any]
) -> None:
    async with start_app(s3=s3_settings) as app:
        uploaded = await app.client.post(
            "/api/v1/uploads",
            data={"user_id": "s3-r1"},
            files={"file": ("lift.png", PNG, "image/png")},
        )
        assert uploaded.status_code == 200, uploaded.text
        ident = int(uploaded.json()["media"].removeprefix("attachment:"))
        await app.say("s3-r1", "3幢电梯坏了", media=[f"attachment:{ident}"])
        async with app.container.store.unit() as uow:
            row = await uow.attachments.get(ident)
        assert row is not None and row.content == b"" and row.object_key.startswith("photos/")
        bucket = S3ObjectStore(**s3_settings)
        assert bucket.get(row.object_key) == PNG  # the bytes are in the bucket
        secret = app.container.settings.secret_key.get_secret_value()
        good = await app.client.get(f"/api/v1/attachments/{ident}?sig={sign(secret, str(ident))}")
        assert good.status_code == 200 and good.content == PNG
        assert good.headers["content-type"] == "image/png"
        ready = await app.client.get("/readyz")
        assert ready.json()["checks"]["objects"] == "ok"  # the bucket answers
        forged = await app.client.get(f"/api/v1/attachments/{ident}?sig={'0' * 64}")
        assert forged.status_code == 403 and PNG not in forged.content


async def test_photos_stored_in_rows_before_0016_move_to_the_object_store(
    start_app: Any, s3_settings: dict[str, Any]
) -> None:
    async with start_app(s3=s3_settings) as app:
        table = table_of(Attachment)
        async with app.container.database.session() as s:
            await s.execute(
                sa.insert(table).values(
                    kind="image",
                    mime="image/png",
                    size=len(PNG),
                    sha256="",
                    content=PNG,
                    object_key="",
                    channel="web",
                    uploaded_by="web:old",
                    filename="old.png",
                    created_at=app.container.clock.now(),
                )
            )
        store = app.container.store
        async with store.unit() as uow:
            assert await uow.attachments.move_to_objects(limit=10) == 1
        async with store.unit() as uow:
            assert await uow.attachments.move_to_objects(limit=10) == 0
            [row] = [r for r in await _all(uow) if r.uploaded_by == "web:old"]
            assert row.content == b"" and row.object_key
            assert await uow.attachments.content(row) == PNG


async def _all(uow: Any) -> list[Attachment]:
    from sqlmodel import select

    return list((await uow.session.exec(select(Attachment))).all())


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_retention_deletes_the_photo_from_the_object_store(
    start_app: Any, s3_settings: dict[str, Any]
) -> None:
    from handlers.retention_service import purge

    clock = FakeClock()
    async with start_app(clock=clock, s3=s3_settings) as app:
        uploaded = await app.client.post(
            "/api/v1/uploads", data={"user_id": "s3-old"}, files={"file": ("p.png", PNG)}
        )
        assert uploaded.status_code == 200, uploaded.text
        clock.advance(days=181)
        assert (await purge(app.container.store, now=clock.now(), days=180)).photos == 1
    assert S3ObjectStore(**s3_settings).keys("photos/") == []


async def test_a_model_activated_through_replica_a_is_used_by_replica_b(
    trained_models: Path, tmp_path: Path, s3_settings: dict[str, Any]
) -> None:
    bucket = S3ObjectStore(**s3_settings)
    bucket.ensure_bucket()
    a = ModelRepository(tmp_path / "a", shared=bucket)
    b = ModelRepository(tmp_path / "b", shared=S3ObjectStore(**s3_settings))
    # replica A has two versions on its disk (v-test-2: the same model under another name)
    (tmp_path / "a").mkdir()
    shutil.copytree(trained_models / "v-test-1", tmp_path / "a" / "v-test-1")
    shutil.copytree(trained_models / "v-test-1", tmp_path / "a" / "v-test-2")
    a.activate("v-test-1", force=True, reason="first")
    assert b.active_version() == "v-test-1"
    serving = ActiveInterpreter(b.load(), FakeClock())
    assert await serving.refresh(b) is False  # already serving what is active
    a.activate("v-test-2", force=True, reason="second")
    assert await serving.refresh(b) is True  # B swapped in A's activation
    assert (tmp_path / "b" / "v-test-2" / "model.json").is_file()  # fetched from the store
    assert [v.version for v in b.versions()] == ["v-test-1", "v-test-2"]
    assert [h.reason for h in b.history()] == ["first", "second"]
    assert b.rollback().version == "v-test-1"
    assert a.active_version() == "v-test-1"
