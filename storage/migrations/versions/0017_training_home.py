"""training examples keep a Rasa project's example metadata (issue 16)

Revision ID: 0017_training_home
Revises: 0016_objects
Create Date: 2026-12-07 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017_training_home'
down_revision: str | None = '0016_objects'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('nluexample', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meta', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('nluexample', schema=None) as batch_op:
        batch_op.drop_column('meta')
