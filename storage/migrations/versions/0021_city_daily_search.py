"""the dashboard's daily counts (issue 13): table ticketdaily, kept in step with every ticket
change by triggers on ticket (PostgreSQL and SQLite), backfilled from the existing tickets; and
a (community, description) trigram index for a search within one community (PostgreSQL)

Revision ID: 0021_city_daily_search
Revises: 0020_city_queries
Create Date: 2026-12-07 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021_city_daily_search'
down_revision: str | None = '0020_city_queries'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# storage.models.TicketDaily: a ticket counts once in each of these figures of the local day it
# was reported (Asia/Shanghai, UTC+8 without DST since 1991), rating only when rated (not 0),
# resolved only when resolved
_CHANGED = (
    'created_at',
    'community_id',
    'status',
    'category',
    'rating',
    'resolved_at',
)

# --- PostgreSQL -------------------------------------------------------------------------------

_PG_LOCAL_DAY = "(({0}) AT TIME ZONE 'UTC' AT TIME ZONE 'Asia/Shanghai')::date"

_PG_COUNT = f"""
CREATE OR REPLACE FUNCTION ticketdaily_count(t ticket, delta integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    d date := {_PG_LOCAL_DAY.format('t.created_at')};
    c integer := coalesce(t.community_id, 0);
BEGIN
    -- the ticket's four figures in one statement (rows that reach 0 stay, read as nothing)
    INSERT INTO ticketdaily AS a (day, community_id, dim, key, n)
    SELECT d, c, v.dim, v.key, delta
    FROM (VALUES
        ('category', t.category),
        ('rating', CASE WHEN t.rating <> 0 THEN t.rating::text END),
        ('resolved', to_char({_PG_LOCAL_DAY.format('t.resolved_at')}, 'YYYY-MM-DD')),
        ('status', t.status)
    ) AS v (dim, key)
    WHERE v.key IS NOT NULL
    ON CONFLICT (day, community_id, dim, key) DO UPDATE SET n = a.n + excluded.n;
END $$
"""

_PG_TRIGGER = """
CREATE OR REPLACE FUNCTION ticketdaily_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM ticketdaily_count(OLD, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM ticketdaily_count(NEW, 1);
    END IF;
    RETURN NULL;
END $$
"""

# the whole table again from the tickets (the backfill, and bench/city.py after a bulk load
# with the triggers disabled)
_PG_REBUILD = f"""
CREATE OR REPLACE FUNCTION ticketdaily_rebuild() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM ticketdaily;
    INSERT INTO ticketdaily (day, community_id, dim, key, n)
    SELECT day, c, v.dim, v.key, count(*)
    FROM (
        SELECT {_PG_LOCAL_DAY.format('created_at')} AS day, coalesce(community_id, 0) AS c,
               category,
               CASE WHEN rating <> 0 THEN rating::text END AS rating,
               to_char({_PG_LOCAL_DAY.format('resolved_at')}, 'YYYY-MM-DD') AS resolved, status
        FROM ticket
    ) t
    CROSS JOIN LATERAL (VALUES
        ('category', t.category), ('rating', t.rating),
        ('resolved', t.resolved), ('status', t.status)
    ) AS v (dim, key)
    WHERE v.key IS NOT NULL
    GROUP BY day, c, v.dim, v.key;
$$
"""


def _pg_changed() -> str:
    return ' OR '.join(f'OLD.{c} IS DISTINCT FROM NEW.{c}' for c in _CHANGED)


# --- SQLite -------------------------------------------------------------------------------------

_SQLITE_DAY = "date({0}, '+8 hours')"


def _sqlite_figures(row: str) -> list[tuple[str, str, str]]:
    """(figure, key expression, condition) of one ticket row (NEW or OLD)."""
    return [
        ('category', f'{row}.category', '1'),
        ('rating', f'CAST({row}.rating AS TEXT)', f'{row}.rating IS NOT NULL AND {row}.rating <> 0'),
        ('resolved', _SQLITE_DAY.format(f'{row}.resolved_at'), f'{row}.resolved_at IS NOT NULL'),
        ('status', f'{row}.status', '1'),
    ]


def _sqlite_statements(row: str, delta: int) -> str:
    day = _SQLITE_DAY.format(f'{row}.created_at')
    return ''.join(
        f"INSERT INTO ticketdaily (day, community_id, dim, key, n) "
        f"SELECT {day}, coalesce({row}.community_id, 0), '{dim}', {key}, {delta} WHERE {cond} "
        f"ON CONFLICT (day, community_id, dim, key) DO UPDATE SET n = n + excluded.n;\n"
        for dim, key, cond in _sqlite_figures(row)
    )


def _sqlite_triggers() -> list[str]:
    changed = ' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in _CHANGED)
    return [
        'CREATE TRIGGER ticketdaily_insert AFTER INSERT ON ticket FOR EACH ROW BEGIN\n'
        f"{_sqlite_statements('NEW', 1)}END",
        'CREATE TRIGGER ticketdaily_delete AFTER DELETE ON ticket FOR EACH ROW BEGIN\n'
        f"{_sqlite_statements('OLD', -1)}END",
        f'CREATE TRIGGER ticketdaily_update AFTER UPDATE ON ticket FOR EACH ROW WHEN {changed} '
        f"BEGIN\n{_sqlite_statements('OLD', -1)}{_sqlite_statements('NEW', 1)}END",
    ]


def _sqlite_backfill() -> str:
    day = _SQLITE_DAY.format('created_at')
    parts = [
        f"SELECT {day} AS day, coalesce(community_id, 0) AS c, '{dim}' AS dim, "
        f"{key.replace('t.', '')} AS key FROM ticket t WHERE {cond.replace('t.', '')}"
        for dim, key, cond in _sqlite_figures('t')
    ]
    return (
        'INSERT INTO ticketdaily (day, community_id, dim, key, n) '
        f"SELECT day, c, dim, key, count(*) FROM ({' UNION ALL '.join(parts)}) "
        'GROUP BY day, c, dim, key'
    )


def upgrade() -> None:
    op.create_table(
        'ticketdaily',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('community_id', sa.Integer(), nullable=False),
        sa.Column('dim', sa.String(length=10), nullable=False),
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'community_id', 'dim', 'key'),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_PG_COUNT)
        op.execute(_PG_TRIGGER)
        op.execute(_PG_REBUILD)
        op.execute(
            'CREATE TRIGGER ticketdaily_insert_delete AFTER INSERT OR DELETE ON ticket '
            'FOR EACH ROW EXECUTE FUNCTION ticketdaily_trigger()'
        )
        op.execute(
            'CREATE TRIGGER ticketdaily_update AFTER UPDATE ON ticket FOR EACH ROW '
            f'WHEN ({_pg_changed()}) EXECUTE FUNCTION ticketdaily_trigger()'
        )
        op.execute('SELECT ticketdaily_rebuild()')
        # a search within one community: the community's key and the words' trigrams in one
        # GIN index (btree_gin, a trusted extension like pg_trgm), so PostgreSQL intersects
        # them instead of taking all of a common phrase's matches in the city (127,000 for
        # '电梯门关不上') and keeping the community's few hundred
        op.execute('CREATE EXTENSION IF NOT EXISTS btree_gin')
        op.execute(
            'CREATE INDEX IF NOT EXISTS ix_ticket_community_description_trgm ON ticket '
            'USING gin (community_id, description gin_trgm_ops)'
        )
    else:
        for statement in _sqlite_triggers():
            op.execute(statement)
        op.execute(_sqlite_backfill())


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_ticket_community_description_trgm')
        op.execute('DROP TRIGGER IF EXISTS ticketdaily_update ON ticket')
        op.execute('DROP TRIGGER IF EXISTS ticketdaily_insert_delete ON ticket')
        op.execute('DROP FUNCTION IF EXISTS ticketdaily_rebuild()')
        op.execute('DROP FUNCTION IF EXISTS ticketdaily_trigger()')
        op.execute('DROP FUNCTION IF EXISTS ticketdaily_count(ticket, integer)')
    else:
        for name in ('insert', 'delete', 'update'):
            op.execute(f'DROP TRIGGER IF EXISTS ticketdaily_{name}')
    op.drop_table('ticketdaily')
