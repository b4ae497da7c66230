"""city-scale indexes (issue 13): open tickets per assignee, a community's tickets by date, and
trigram indexes for the console's ticket search on PostgreSQL

Revision ID: 0015_city_indexes
Revises: 0014_jobs
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015_city_indexes'
down_revision: str | None = '0014_jobs'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the open statuses as of this migration (storage.sql_common.OPEN_STATUSES); a later change of
# that list needs a migration that rebuilds the index
_OPEN = sa.text(
    "status IN ('accepted', 'assigned', 'escalated', 'in_progress', 'reopened', "
    "'submitted', 'transferred')"
)
# the columns the console's search looks through (storage.admin_repositories._where)
SEARCHED = ('number', 'description', 'building_name', 'location_note', 'contact_phone')


def upgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.create_index(
            'ix_ticket_open_assignee',
            ['assignee_id'],
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        )
        batch_op.create_index('ix_ticket_community_created', ['community_id', 'created_at'])
        # Open311 requests.json: a service's requests in a date range, newest first
        batch_op.create_index('ix_ticket_category_created', ['category', 'created_at'])
    if op.get_bind().dialect.name == 'postgresql':
        # ILIKE '%…%' over millions of tickets: trigram GIN indexes (pg_trgm is a trusted
        # extension: the database owner may create it). SQLite scans, as the embedded default.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        for column in SEARCHED:
            op.execute(
                f'CREATE INDEX IF NOT EXISTS ix_ticket_{column}_trgm ON ticket '
                f'USING gin ({column} gin_trgm_ops)'
            )
        # the dashboard reads a month of tickets from this index alone (an index-only scan)
        op.execute(
            'CREATE INDEX IF NOT EXISTS ix_ticket_dashboard ON ticket (created_at) INCLUDE '
            '(id, community_id, grid_id, assignee_id, category, priority, status, rating, '
            'accepted_at, resolved_at)'
        )
        # index-only scans need a fresh visibility map: vacuum after 2 % of a big table
        # changed, not the default 20 %
        op.execute(
            'ALTER TABLE ticket SET (autovacuum_vacuum_scale_factor = 0.02, '
            'autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            'ALTER TABLE ticket RESET (autovacuum_vacuum_scale_factor, '
            'autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor)'
        )
        op.execute('DROP INDEX IF EXISTS ix_ticket_dashboard')
        for column in SEARCHED:
            op.execute(f'DROP INDEX IF EXISTS ix_ticket_{column}_trgm')
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_category_created')
        batch_op.drop_index('ix_ticket_community_created')
        batch_op.drop_index('ix_ticket_open_assignee')
