"""The store: Alembic migrations match the ORM, pragmas, UTC round trip, data-dir placement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from core.app import data_dir, default_db_url, sandbox_db_path
from core.db.engine import current_revision, head_revision, make_engine, make_sessionmaker, migrate
from core.db.schema import Base, Setting, UTCDateTime


def test_migrations_build_exactly_the_orm_schema(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    assert migrate(engine) is None  # a fresh file needs no backup
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            # Full-text search tables are SQLite virtual tables kept by triggers, not ORM tables.
            opts={
                "include_object": lambda obj, name, kind, *_: not (kind == "table" and name.startswith("order_search"))
            },
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert migrate(engine) is None  # idempotent


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_utc_column_round_trip_and_refuses_naive() -> None:
    column = UTCDateTime()
    tokyo = timezone(timedelta(hours=9))
    stored = column.process_bind_param(datetime(2026, 1, 1, 9, 0, tzinfo=tokyo), None)  # type: ignore[arg-type]
    assert stored == datetime(2026, 1, 1, 0, 0)
    assert column.process_result_value(stored, None) == datetime(2026, 1, 1, tzinfo=UTC)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        column.process_bind_param(datetime(2026, 1, 1), None)  # type: ignore[arg-type]


def test_settings_table_round_trip(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    migrate(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        session.add(Setting(key="k", value="値"))
    with sessions() as session:
        assert session.get(Setting, "k").value == "値"  # type: ignore[union-attr]


def test_paths_follow_kanjo_home_and_the_store_file(tmp_path: Path) -> None:
    env = {"KANJO_HOME": str(tmp_path / "h")}
    assert data_dir(env) == tmp_path / "h"
    assert default_db_url(env) == f"sqlite:///{tmp_path / 'h' / 'kanjo.sqlite3'}"
    assert sandbox_db_path(f"sqlite:///{tmp_path / 'x' / 'shop.db'}", env) == tmp_path / "x" / "shop.sandbox.sqlite3"
    assert sandbox_db_path("postgresql://u@localhost/kanjo", env) == tmp_path / "h" / "sandbox.sqlite3"


def test_default_data_dir_is_per_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KANJO_HOME", raising=False)
    path = data_dir({})
    assert "kanjo" in str(path).lower() and path.is_absolute()
