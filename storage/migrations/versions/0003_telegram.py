"""messenger consoles: one-time worker binding codes, editable task cards (issue 5)

Revision ID: 0003_telegram
Revises: 0002_lifecycle
Create Date: 2026-11-22 03:49:43.697619
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = '0003_telegram'
down_revision: str | None = '0002_lifecycle'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'workerbindcode',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('worker_id', sa.Integer(), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
        sa.Column('expires_at', storage.models.UTCDateTime(), nullable=False),
        sa.Column('used_at', storage.models.UTCDateTime(), nullable=True),
        sa.Column('used_channel', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('used_user_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.ForeignKeyConstraint(['worker_id'], ['gridworker.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code_hash'),
    )
    with op.batch_alter_table('workerbindcode', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_workerbindcode_worker_id'), ['worker_id'], unique=False
        )

    op.create_table(
        'taskcard',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('worker_id', sa.Integer(), nullable=True),
        sa.Column('media', sa.Boolean(), nullable=False),
        sa.Column('last_event_id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id']),
        sa.ForeignKeyConstraint(['worker_id'], ['gridworker.id']),
        sa.PrimaryKeyConstraint('id'),
        # also the index for "this chat's cards" lookups (channel, recipient prefix)
        sa.UniqueConstraint('channel', 'recipient', 'message_id'),
    )
    with op.batch_alter_table('taskcard', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_taskcard_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_taskcard_ticket_id'), ['ticket_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('taskcard', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_taskcard_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_taskcard_created_at'))
    op.drop_table('taskcard')
    with op.batch_alter_table('workerbindcode', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workerbindcode_worker_id'))
    op.drop_table('workerbindcode')
