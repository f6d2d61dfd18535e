"""core.db.revision: the start-up's cheap "is the store at the newest schema?" (issue 10 item 16).

It must agree with Alembic and answer "no" whenever a migration is due, so skipping Alembic at
start never skips a migration.
"""

from __future__ import annotations

from pathlib import Path

from core.db.engine import FIRST_RELEASED_REVISION, head_revision, make_engine, migrate, migrate_to
from core.db.revision import head_from_files, is_current, stored_revision


def test_the_head_read_from_the_files_is_alembics_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    try:
        assert head_from_files() == head_revision(engine)
    finally:
        engine.dispose()


def test_only_a_store_at_the_head_is_current(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    try:
        assert stored_revision(engine) is None
        assert not is_current(engine)  # a new store: migrate
        migrate_to(engine, FIRST_RELEASED_REVISION)
        assert stored_revision(engine) == FIRST_RELEASED_REVISION
        assert not is_current(engine)  # an older schema: migrate (and back it up)
        migrate(engine)
        assert is_current(engine)
    finally:
        engine.dispose()


def test_unclear_migration_scripts_answer_no(tmp_path: Path) -> None:
    (tmp_path / "0001_a.py").write_text("revision = '0001'\ndown_revision = None\n")
    (tmp_path / "0002_b.py").write_text("revision = '0002'\ndown_revision = '0001'\n")
    assert head_from_files(tmp_path) == "0002"
    (tmp_path / "0003_c.py").write_text("revision = '0003'\ndown_revision = '0001'\n")  # two heads
    assert head_from_files(tmp_path) is None
    (tmp_path / "0003_c.py").write_text("revision = compute()\n")
    assert head_from_files(tmp_path) is None
    assert head_from_files(tmp_path / "missing") is None  # e.g. a bundle with compiled scripts only
