"""photo bytes move to the object store: attachment.object_key (issue 13)

Existing rows keep their bytes in ``attachment.content`` (served from there meanwhile) until
``minhu objects move-photos`` copies them to the configured object store and empties the
column; a migration cannot reach the object store, whose settings live in the app's env.

Revision ID: 0016_objects
Revises: 0012_street
Create Date: 2026-12-07 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016_objects'
down_revision: str | None = '0014_jobs'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('object_key', sa.String(length=300), nullable=False, server_default='')
        )


def downgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_column('object_key')
