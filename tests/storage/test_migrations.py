"""The migrations: their order reads from their names, they build exactly the schema the
models describe, and databases stamped before the renaming still upgrade, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage.db import MIGRATIONS_DIR, alembic_config, schema_filter, sync_url, upgrade
from storage.migrations.legacy import LEGACY_REVISIONS

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]
# every revision in the order it runs; a new migration joins the end
CHAIN = (
    "0001",
    "0002_lifecycle",
    "0003_telegram",
    "0004_admin",
    "0007_reliability",
    "0008_grid",
    "0009_console",
    "0011_example_community",
    "0012_street",
    "0013_people",
    "0014_jobs",
    "0015_city_indexes",
    "0016_objects",
    "0017_training_home",
    "0018_jobqueue",
    "0020_city_queries",
    "0021_city_daily_search",
)
HEAD = CHAIN[-1]


@pytest.fixture
def new_url(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], str]:
    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / 'm.db'}"
        return str(request.getfixturevalue("fresh_postgres_url")())

    return make


def _schema_diff(url: str) -> list[object]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": schema_filter(connection.dialect.name)}
            )
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def _execute(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def test_migrations_form_one_line_of_history_in_the_order_of_their_names() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_heads() == [HEAD]
    chain = [r.revision for r in reversed(list(script.walk_revisions()))]
    files = sorted(p.stem for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
    numbers = [int(f[:4]) for f in files]
    assert numbers == sorted(set(numbers)), "one number per migration, rising"
    assert [c[:4] for c in chain] == [f[:4] for f in files]
    assert tuple(chain) == CHAIN


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_new_database_gets_every_migration_and_exactly_the_models_schema(
    backend: str, new_url: Callable[[str], str]
) -> None:
    url = new_url(backend)
    done = upgrade(url)
    assert (done.before, done.after) == (None, HEAD)
    assert done.applied == CHAIN
    assert _schema_diff(url) == []
    again = upgrade(url)
    assert (again.before, again.after, again.applied) == (HEAD, HEAD, ())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("old", "new"), sorted(LEGACY_REVISIONS.items()))
def test_a_database_stamped_with_an_old_revision_id_upgrades_and_keeps_its_data(
    backend: str, old: str, new: str, new_url: Callable[[str], str]
) -> None:
    url = new_url(backend)
    upgrade(url, new)  # the schema a database at the old id has (the steps are the same)
    _execute(
        url,
        "INSERT INTO community (name, street, hotline, settings, created_at) "
        "VALUES ('老小区', '', '', '{}', '2026-11-01 00:00:00')",
    )
    _execute(url, "UPDATE alembic_version SET version_num = :old", old=old)

    done = upgrade(url)

    assert (done.renamed, done.before, done.after) == (old, new, HEAD)
    assert done.applied == CHAIN[CHAIN.index(new) + 1 :]
    assert _execute(url, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert _execute(url, "SELECT name FROM community") == [("老小区",)]
    assert _schema_diff(url) == []


@pytest.mark.services
def test_replicas_migrating_at_once_apply_each_migration_exactly_once(
    fresh_postgres_url: Callable[[], str],
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url = str(fresh_postgres_url())
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: upgrade(url), range(3)))
    assert sorted(len(r.applied) for r in results) == [0, 0, len(CHAIN)]
    assert all(r.after == HEAD for r in results)
    assert _schema_diff(url) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_buildings_of_an_upgraded_database_keep_the_numeric_qr_codes_printed_for_them(
    backend: str, new_url: Callable[[str], str]
) -> None:
    from storage.registry_repository import building_code

    url = new_url(backend)
    upgrade(url, "0011_example_community")
    _execute(
        url,
        "INSERT INTO community (id, name, street, hotline, settings, created_at) "
        "VALUES (7, '老小区', '', '', '{}', '2026-11-01 00:00:00')",
    )
    for ident, name in ((41, "3幢"), (42, "综合楼")):
        _execute(
            url,
            "INSERT INTO building (id, community_id, name, aliases) VALUES (:id, 7, :name, '[]')",
            id=ident,
            name=name,
        )
    upgrade(url)
    codes = dict(_execute(url, "SELECT name, code FROM building"))
    assert codes == {
        "3幢": building_code("老小区", "3幢"),
        "综合楼": building_code("老小区", "综合楼"),
    }
    # stickers printed with scene = the building's id keep naming it after any rebuild
    scenes = sorted(_execute(url, "SELECT scene_id, building_code FROM qrscene"))
    assert scenes == [(41, codes["3幢"]), (42, codes["综合楼"])]
    assert _schema_diff(url) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_communities_street_text_becomes_street_rows_they_point_at(
    backend: str, new_url: Callable[[str], str]
) -> None:
    url = new_url(backend)
    upgrade(url, "0011_example_community")
    for ident, name, street in (
        (1, "阳光花园社区", "西溪街道"),
        (2, "文新社区", "西溪街道"),
        (3, "老小区", ""),
    ):
        _execute(
            url,
            "INSERT INTO community (id, name, street, hotline, settings, created_at) "
            "VALUES (:id, :name, :street, '', '{}', '2026-11-01 00:00:00')",
            id=ident,
            name=name,
            street=street,
        )
    upgrade(url)
    [(street_id, street_name)] = _execute(url, "SELECT id, name FROM street")
    assert street_name == "西溪街道"
    assert _execute(url, "SELECT id, street, street_id FROM community ORDER BY id") == [
        (1, "西溪街道", street_id),
        (2, "西溪街道", street_id),
        (3, "", None),
    ]
