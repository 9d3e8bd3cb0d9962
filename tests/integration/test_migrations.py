"""The Alembic scripts build exactly the schema of ``grader.store.models``, on both back ends."""

from __future__ import annotations

from typing import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from grader.store import migrate
from grader.store.models import Base

MODEL_TABLES = set(Base.metadata.tables)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database (no migration run yet)."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def schema_differences(engine: Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_upgrade_from_an_empty_database_creates_every_model_table(engine):
    assert tables(engine) == set()
    assert migrate.current(engine) is None

    migrate.upgrade(engine)

    assert MODEL_TABLES <= tables(engine)
    assert tables(engine) - MODEL_TABLES == {"alembic_version"}
    assert migrate.current(engine) == migrate.head() == "0003"
    assert migrate.is_current(engine)


def test_migrated_schema_has_no_difference_from_the_models(engine):
    migrate.upgrade(engine)
    assert schema_differences(engine) == []


def test_downgrade_to_base_removes_the_tables_and_upgrade_builds_them_again(engine):
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert tables(engine) & MODEL_TABLES == set()
    assert migrate.current(engine) is None
    assert not migrate.is_current(engine)

    migrate.upgrade(engine)
    assert MODEL_TABLES <= tables(engine)
    assert migrate.current(engine) == migrate.head()
    assert schema_differences(engine) == []


def test_upgrade_of_a_current_database_changes_nothing(engine):
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert MODEL_TABLES <= tables(engine)
