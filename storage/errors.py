"""Errors raised by the storage package.

Adapters wrap driver errors (redis, psycopg, SQLAlchemy) in these with ``raise ... from e``, so
callers outside storage/ catch ``StorageError`` and never import a driver.
"""

from __future__ import annotations


class StorageError(Exception):
    """Root of every storage error: the backend failed, is unreachable or holds bad data."""


class StorageUnavailable(StorageError):  # noqa: N818 -- reads as a state, like NotFound
    """The backend cannot be reached at all (connection refused, dropped, shutting down).

    Unlike other storage errors this says nothing about the data: the same call is expected to
    succeed once the server is back, so a caller may keep the work elsewhere meanwhile.
    """


class LockTimeout(StorageError):  # noqa: N818 -- the name the project agreed on
    """A conversation lock could not be acquired within the allowed time."""


class DuplicateError(StorageError):
    """A row or key that must be unique already exists."""


class NotFound(StorageError):  # noqa: N818 -- the name the project agreed on
    """The requested row or key does not exist."""
