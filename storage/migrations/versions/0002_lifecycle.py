"""ticket lifecycle: SLA clocks, followers, departments and their part in tickets

Adds five tables and changes none: ticketclock (durable SLA timers, swept with a lease and
fired by a conditional update), ticketfollower (residents following a ticket they did not
report), department and departmentcontact (the parties a ticket can be handed to and where
they are reached), ticketparty (a department's part in a ticket: lead or co-handler).

Revision ID: 0002_lifecycle
Revises: 0001
Create Date: 2026-11-22 03:50:11.788296
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = '0002_lifecycle'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'name')
    )
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_department_community_id'), ['community_id'], unique=False)

    op.create_table('departmentcontact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('reachable', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'user_id')
    )
    with op.batch_alter_table('departmentcontact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_departmentcontact_department_id'), ['department_id'], unique=False)

    op.create_table('ticketclock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('due_at', storage.models.UTCDateTime(), nullable=False),
    sa.Column('deadline_at', storage.models.UTCDateTime(), nullable=True),
    sa.Column('target_seconds', sa.Integer(), nullable=False),
    sa.Column('started_at', storage.models.UTCDateTime(), nullable=False),
    sa.Column('fired_at', storage.models.UTCDateTime(), nullable=True),
    sa.Column('cancelled_at', storage.models.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_until', storage.models.UTCDateTime(), nullable=True),
    sa.Column('claim_token', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ticketclock', schema=None) as batch_op:
        batch_op.create_index('ix_ticketclock_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticketclock_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ticketfollower',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('via', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ticket_id', 'channel', 'user_id')
    )
    with op.batch_alter_table('ticketfollower', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticketfollower_resident_id'), ['resident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticketfollower_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ticketparty',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('added_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('added_at', storage.models.UTCDateTime(), nullable=False),
    sa.Column('done_at', storage.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ticket_id', 'department_id')
    )
    with op.batch_alter_table('ticketparty', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticketparty_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticketparty_ticket_id'), ['ticket_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ticketparty', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticketparty_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_ticketparty_department_id'))

    op.drop_table('ticketparty')
    with op.batch_alter_table('ticketfollower', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticketfollower_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_ticketfollower_resident_id'))

    op.drop_table('ticketfollower')
    with op.batch_alter_table('ticketclock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticketclock_ticket_id'))
        batch_op.drop_index('ix_ticketclock_status_due')

    op.drop_table('ticketclock')
    with op.batch_alter_table('departmentcontact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_departmentcontact_department_id'))

    op.drop_table('departmentcontact')
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_department_community_id'))

    op.drop_table('department')
