"""Object storage for bytes that every replica must see: photos and trained NLU models.

Two implementations of one ``ObjectStore`` protocol, run through one contract suite
(tests/storage/test_objects.py): ``FilesystemObjectStore`` (a directory: the embedded
default, one machine) and ``S3ObjectStore`` (any S3-compatible service: MinIO in
docker/compose.yaml, or a cloud bucket), through boto3.

The methods block (boto3 is a synchronous SDK): async code calls them through
``asyncio.to_thread``. Keys are ``/``-separated paths of plain characters.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from storage.errors import StorageError

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class ObjectMissingError(StorageError):
    """No object under that key."""


class ObjectStore(Protocol):
    """Named byte blobs shared by every process of a deployment."""

    @property
    def location(self) -> str:
        """Where the objects are, for messages (``s3://bucket`` or a directory)."""
        ...

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store ``data`` under ``key`` (replacing what was there; readers see old or new).

        Raises:
            StorageError: the store failed, or the key is not a plain path.
        """
        ...

    def get(self, key: str) -> bytes:
        """The bytes under ``key``.

        Raises:
            ObjectMissingError: nothing is stored there.
            StorageError: the store failed.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (nothing happens when it does not exist)."""
        ...

    def keys(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``, sorted."""
        ...


def check_key(key: str) -> str:
    """The key itself, or StorageError for anything but a plain relative path."""
    if len(key) > 500 or not _KEY.match(key) or ".." in key.split("/"):
        raise StorageError(f"invalid object key {key!r}")
    return key


class FilesystemObjectStore:
    """Objects as files under a directory (written to a temporary name, then renamed)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        return str(self.root)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self.root / check_key(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".put-", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError as e:
            raise StorageError(f"cannot write object {key}: {e}") from e

    def get(self, key: str) -> bytes:
        try:
            return (self.root / check_key(key)).read_bytes()
        except FileNotFoundError as e:
            raise ObjectMissingError(f"no object {key}") from e
        except OSError as e:
            raise StorageError(f"cannot read object {key}: {e}") from e

    def delete(self, key: str) -> None:
        try:
            (self.root / check_key(key)).unlink(missing_ok=True)
        except OSError as e:
            raise StorageError(f"cannot delete object {key}: {e}") from e

    def keys(self, prefix: str) -> list[str]:
        if not self.root.is_dir():
            return []
        found = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        return sorted(k for k in found if k.startswith(prefix))


class S3ObjectStore:
    """Objects in an S3 bucket (MinIO, or any S3-compatible service), through boto3.

    Args:
        endpoint_url: the service (``http://minio:9000``); None for AWS itself.
        bucket: the bucket; created on ``ensure_bucket`` when missing.
        access_key: the access key id.
        secret_key: the secret key.
        region: the region name (MinIO accepts any).
        timeout: connect and read timeout of every call, seconds.
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        timeout: float = 10.0,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": 3, "mode": "standard"},
                # MinIO and most S3-compatible servers want path-style URLs
                s3={"addressing_style": "path"},
            ),
        )

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}"

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (first start of a fresh MinIO)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as e:
            if _code(e) not in ("404", "NoSuchBucket", "NotFound"):
                raise StorageError(f"object store {self.location}: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"object store {self.location} unreachable: {e}") from e
        try:
            self.client.create_bucket(Bucket=self.bucket)
        except ClientError as e:
            if _code(e) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise StorageError(f"cannot create bucket {self.bucket}: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"object store {self.location} unreachable: {e}") from e

    def ping(self) -> None:
        """Fail (StorageError) unless the bucket answers (readiness)."""
        self._call("head_bucket", self.bucket, Bucket=self.bucket)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._call(
            "put_object",
            key,
            Bucket=self.bucket,
            Key=check_key(key),
            Body=data,
            ContentType=content_type,
        )

    def get(self, key: str) -> bytes:
        response = self._call("get_object", key, Bucket=self.bucket, Key=check_key(key))
        body: bytes = response["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self._call("delete_object", key, Bucket=self.bucket, Key=check_key(key))

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = self._call("list_objects_v2", prefix, Bucket=self.bucket, Prefix=prefix, **extra)
            found += [item["Key"] for item in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return sorted(found)
            token = page.get("NextContinuationToken")

    def _call(self, method: str, key: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(**kwargs)
        except ClientError as e:
            if _code(e) in ("NoSuchKey", "404", "NotFound"):
                raise ObjectMissingError(f"no object {key} in {self.location}") from e
            raise StorageError(f"object store {self.location}: {method} {key}: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"object store {self.location} unreachable: {e}") from e


def _code(error: Any) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
