"""examples promoted from residents carry their community (issue 11)

Revision ID: 0011_example_community
Revises: 0009_console
Create Date: 2026-12-07 14:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_example_community'
down_revision: str | None = '0009_console'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('nluexample', schema=None) as batch_op:
        batch_op.add_column(sa.Column('community_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_nluexample_community_id'), ['community_id'], unique=False)
        batch_op.create_foreign_key(
            'fk_nluexample_community_id_community', 'community', ['community_id'], ['id']
        )


def downgrade() -> None:
    with op.batch_alter_table('nluexample', schema=None) as batch_op:
        batch_op.drop_constraint('fk_nluexample_community_id_community', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_nluexample_community_id'))
        batch_op.drop_column('community_id')
