"""the job table becomes a durable queue: payload, attempts, a lease and its holder (issue 12)

Revision ID: 0018_jobqueue
Revises: 0017_training_home
Create Date: 2026-12-07 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0018_jobqueue'
down_revision: str | None = '0017_training_home'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('nlujob', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('payload', sa.JSON(), nullable=False, server_default='{}')
        )
        batch_op.add_column(
            sa.Column('attempts', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.add_column(
            sa.Column('max_attempts', sa.Integer(), nullable=False, server_default='3')
        )
        batch_op.add_column(sa.Column('lease_until', storage.models.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column('worker', sa.String(length=64), nullable=False, server_default='')
        )


def downgrade() -> None:
    with op.batch_alter_table('nlujob', schema=None) as batch_op:
        batch_op.drop_column('worker')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('max_attempts')
        batch_op.drop_column('attempts')
        batch_op.drop_column('payload')
