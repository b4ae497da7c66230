"""One contract for both object stores: a directory and S3 (a local moto server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storage.errors import StorageError
from storage.objects import FilesystemObjectStore, ObjectMissingError, S3ObjectStore


@pytest.fixture(params=["filesystem", "s3"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "filesystem":
        return FilesystemObjectStore(tmp_path / "objects")
    s3 = request.getfixturevalue("s3_settings")
    store = S3ObjectStore(**s3)
    store.ensure_bucket()
    store.ensure_bucket()  # a second start finds the bucket there
    return store


def test_what_is_put_is_got_back_and_replaced_whole(objects: Any) -> None:
    objects.put("photos/2026/12/a", b"\x89PNG first", "image/png")
    objects.put("photos/2026/12/a", b"second")
    assert objects.get("photos/2026/12/a") == b"second"


def test_a_missing_or_deleted_object_is_missing(objects: Any) -> None:
    with pytest.raises(ObjectMissingError):
        objects.get("photos/none")
    objects.put("models/ACTIVE", b"v1")
    objects.delete("models/ACTIVE")
    objects.delete("models/ACTIVE")  # deleting twice is fine
    with pytest.raises(ObjectMissingError):
        objects.get("models/ACTIVE")


def test_keys_are_listed_by_prefix_in_order(objects: Any) -> None:
    for key in ("models/v2/model.json", "models/v1/model.json", "photos/x", "models/ACTIVE"):
        objects.put(key, b"1")
    assert objects.keys("models/v") == ["models/v1/model.json", "models/v2/model.json"]
    assert objects.keys("nothing/") == []


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/../b", "", "a b"])
def test_keys_that_are_not_plain_paths_are_refused(objects: Any, key: str) -> None:
    with pytest.raises(StorageError):
        objects.put(key, b"x")


def test_an_unreachable_s3_is_a_storage_error() -> None:
    store = S3ObjectStore(
        endpoint_url="http://127.0.0.1:9",  # discard port: nothing listens
        bucket="minhu",
        access_key="a",
        secret_key="b",
        timeout=0.5,
    )
    with pytest.raises(StorageError, match="unreachable"):
        store.get("photos/x")
