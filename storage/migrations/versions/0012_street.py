"""the street level (issue 14): streets above communities, street staff, 12345 hand-offs

The communities' ``street`` text becomes rows of ``street`` (one per distinct non-empty
name) and each community points at its row; the text stays as the street's name.

Revision ID: 0012_street
Revises: 0011_example_community
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = '0012_street'
down_revision: str | None = '0011_example_community'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('street',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('district', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('hotline', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('street', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_street_name'), ['name'], unique=True)

    op.create_table('cityorder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('order_no', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('contact_shared', sa.Boolean(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('last_reply', sa.Text(), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
    sa.Column('acknowledged_at', storage.models.UTCDateTime(), nullable=True),
    sa.Column('closed_at', storage.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['street_id'], ['street.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cityorder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cityorder_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cityorder_order_no'), ['order_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_cityorder_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cityorder_street_id'), ['street_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cityorder_ticket_id'), ['ticket_id'], unique=False)

    for table in ('community', 'gridworker', 'adminuser'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('street_id', sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f'ix_{table}_street_id'), ['street_id'], unique=False)
            batch_op.create_foreign_key(
                f'fk_{table}_street_id_street', 'street', ['street_id'], ['id']
            )
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'tier',
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default='',
            )
        )
        batch_op.create_index(batch_op.f('ix_ticket_tier'), ['tier'], unique=False)

    # the street text of every community becomes a street row the community points at
    bind = op.get_bind()
    names = [
        row[0]
        for row in bind.execute(
            sa.text("SELECT DISTINCT street FROM community WHERE street <> '' ORDER BY street")
        )
    ]
    for name in names:
        bind.execute(
            sa.text(
                "INSERT INTO street (name, district, hotline, created_at) "
                "VALUES (:name, '', '', CURRENT_TIMESTAMP)"
            ),
            {"name": name},
        )
    bind.execute(
        sa.text(
            "UPDATE community SET street_id = "
            "(SELECT street.id FROM street WHERE street.name = community.street) "
            "WHERE street <> ''"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_tier'))
        batch_op.drop_column('tier')
    for table in ('adminuser', 'gridworker', 'community'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'fk_{table}_street_id_street', type_='foreignkey')
            batch_op.drop_index(batch_op.f(f'ix_{table}_street_id'))
            batch_op.drop_column('street_id')
    with op.batch_alter_table('cityorder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cityorder_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_cityorder_street_id'))
        batch_op.drop_index(batch_op.f('ix_cityorder_status'))
        batch_op.drop_index(batch_op.f('ix_cityorder_order_no'))
        batch_op.drop_index(batch_op.f('ix_cityorder_created_at'))
    op.drop_table('cityorder')
    with op.batch_alter_table('street', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_street_name'))
    op.drop_table('street')
