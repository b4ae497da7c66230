"""prefix indexes for the ticket search's number and phone look-ups (issue 13)

Revision ID: 0020_city_queries
Revises: 0018_jobqueue
Create Date: 2026-12-07 20:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0020_city_queries'
down_revision: str | None = '0018_jobqueue'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# storage.admin_repositories._text_match: LIKE 'MH-20261207%' and LIKE '13700000001%'
PREFIXED = ('number', 'contact_phone')


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        # text_pattern_ops: a byte-order b-tree serves LIKE 'x%' whatever the collation
        for column in PREFIXED:
            op.execute(
                f'CREATE INDEX IF NOT EXISTS ix_ticket_{column}_prefix ON ticket '
                f'({column} text_pattern_ops)'
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for column in PREFIXED:
            op.execute(f'DROP INDEX IF EXISTS ix_ticket_{column}_prefix')
