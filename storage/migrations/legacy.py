"""Revision ids the migrations had before they were renamed to read in order.

They ran 0001 → 0007_lifecycle → 0005_telegram → 0006_admin; now 0001 → 0002_lifecycle →
0003_telegram → 0004_admin, the same steps in the same order. A database stamped with an
old id gets the new one before Alembic looks (``rename_legacy_revisions``), so it upgrades
as if it had always carried the new names.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

LEGACY_REVISIONS = {
    "0007_lifecycle": "0002_lifecycle",
    "0005_telegram": "0003_telegram",
    "0006_admin": "0004_admin",
}

_VERSION = sa.table("alembic_version", sa.column("version_num", sa.String))


def rename_legacy_revisions(connection: Connection) -> str | None:
    """Rewrite an old revision id in ``alembic_version`` to its new name.

    Returns:
        The old id that was renamed, or None when there was nothing to rename.
    """
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    current: list[str] = list(connection.execute(sa.select(_VERSION.c.version_num)).scalars())
    for old in current:
        if old in LEGACY_REVISIONS:
            connection.execute(
                _VERSION.update()
                .where(_VERSION.c.version_num == old)
                .values(version_num=LEGACY_REVISIONS[old])
            )
            return old
    return None
