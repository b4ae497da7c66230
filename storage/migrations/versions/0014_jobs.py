"""stable stairwell QR codes (building.code, the map of old numeric scenes); why a dead letter
died (outbox.dead_reason) (issue 12)

Existing buildings get their code, and the numeric scene each one's printed code carries
(scene = the building's id, as `minhu wechat qrcodes` printed them so far) is recorded, so
those stickers keep working after the registry is rebuilt.

Revision ID: 0014_jobs
Revises: 0011_example_community
Create Date: 2026-12-07 17:05:00
"""

import hashlib
from datetime import UTC, datetime
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = '0014_jobs'
down_revision: str | None = '0013_people'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CODE = sa.text("code <> ''")


def _code(community: str, building: str) -> str:
    # the same derivation as storage.registry_repository.building_code, frozen here
    digest = hashlib.sha256(f"{community.strip()}\x1f{building.strip()}".encode()).hexdigest()
    return f"b1.{digest[:16]}"


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'dead_reason',
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default='',
            )
        )
    # dead before reasons were kept: brought back when the recipient writes, as until now
    op.execute("UPDATE outbox SET dead_reason = 'gave_up' WHERE status = 'dead'")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('dead_reason', server_default=None)
    op.create_table(
        'qrscene',
        sa.Column('scene_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            'building_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('scene_id'),
    )
    with op.batch_alter_table('building', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'code',
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default='',
            )
        )
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT b.id, b.name, c.name FROM building b JOIN community c ON c.id = b.community_id"
        )
    ).all()
    scenes = sa.table(
        'qrscene',
        sa.column('scene_id', sa.Integer()),
        sa.column('building_code', sa.String()),
        sa.column('created_at', storage.models.UTCDateTime()),
    )
    now = datetime.now(UTC)
    for ident, name, community in rows:
        code = _code(community, name)
        connection.execute(
            sa.text("UPDATE building SET code = :code WHERE id = :id"), {"code": code, "id": ident}
        )
        connection.execute(
            sa.insert(scenes).values(scene_id=ident, building_code=code, created_at=now)
        )
    with op.batch_alter_table('building', schema=None) as batch_op:
        batch_op.alter_column('code', server_default=None)
        batch_op.create_index(
            'ux_building_code', ['code'], unique=True, postgresql_where=_CODE, sqlite_where=_CODE
        )


def downgrade() -> None:
    with op.batch_alter_table('building', schema=None) as batch_op:
        batch_op.drop_index('ux_building_code', postgresql_where=_CODE, sqlite_where=_CODE)
        batch_op.drop_column('code')
    op.drop_table('qrscene')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('dead_reason')
