"""Alembic, driven from code: ``grader db upgrade|current|downgrade`` and the upgrade on start.

The scripts live in the repository's ``migrations/`` folder (next to ``grader/``).
"""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str, engine: Engine | None = None, stdout: io.TextIOBase | None = None) -> AlembicConfig:
    if not (MIGRATIONS / "env.py").is_file():
        raise RuntimeError(f"migrations not found at {MIGRATIONS}; install torch-grader from its source tree")
    cfg = AlembicConfig(stdout=stdout) if stdout is not None else AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        cfg = alembic_config(str(engine.url), engine)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "-1") -> None:
    with engine.begin() as connection:
        cfg = alembic_config(str(engine.url), engine)
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def is_current(engine: Engine) -> bool:
    return current(engine) == head()
