"""reliability: database fallback for conversation state, inbound recovery, once-only effects

Revision ID: 0007_reliability
Revises: 0004_admin
Create Date: 2026-12-07 13:13:04.630863
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = '0007_reliability'
down_revision: str | None = '0004_admin'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SOURCE = sa.text("source_message_id <> ''")


def upgrade() -> None:
    op.create_table(
        'sessionentry',
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('expires_at', storage.models.UTCDateTime(), nullable=True),
        sa.Column('updated_at', storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'key'),
    )
    with op.batch_alter_table('sessionentry', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_sessionentry_expires_at'), ['expires_at'], unique=False
        )

    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('attempts', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.add_column(sa.Column('next_try_at', storage.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('lease_until', storage.models.UTCDateTime(), nullable=True))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('priority', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.add_column(
            sa.Column(
                'dedupe_key', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True
            )
        )
        batch_op.create_index(batch_op.f('ix_outbox_dedupe_key'), ['dedupe_key'], unique=True)

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'source_message_id',
                sqlmodel.sql.sqltypes.AutoString(length=128),
                nullable=False,
                server_default='',
            )
        )
        batch_op.create_index(
            'ux_ticket_source_message',
            ['channel', 'source_message_id'],
            unique=True,
            postgresql_where=_SOURCE,
            sqlite_where=_SOURCE,
        )


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ux_ticket_source_message')
        batch_op.drop_column('source_message_id')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_dedupe_key'))
        batch_op.drop_column('dedupe_key')
        batch_op.drop_column('priority')

    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('next_try_at')
        batch_op.drop_column('attempts')

    with op.batch_alter_table('sessionentry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessionentry_expires_at'))

    op.drop_table('sessionentry')
