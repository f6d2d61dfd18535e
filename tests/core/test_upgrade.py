"""An upgrade over a database made by the first released schema migrates it in place and
keeps a copy of the file as it was before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.app import open_app
from core.clock import FixedClock
from core.db.engine import FIRST_RELEASED_REVISION, current_revision, head_revision, make_engine, migrate_to
from tests.conftest import NOW


def test_upgrade_from_the_first_released_schema_keeps_data_and_a_backup(tmp_path: Path) -> None:
    db = tmp_path / "kanjo.sqlite3"
    old = make_engine(f"sqlite:///{db}")
    migrate_to(old, FIRST_RELEASED_REVISION)
    with old.begin() as connection:
        connection.exec_driver_sql("INSERT INTO settings(key, value) VALUES ('shop_name', '山田商店')")
        connection.exec_driver_sql(
            "INSERT INTO customers(id, name, email, phone, is_member) VALUES (1, '佐藤 花子', 's@example.jp', '0312345678', 0)"
        )
        connection.exec_driver_sql(
            "INSERT INTO orders(id, number, kind, ordered_at, customer_id, ship_name, ship_postal_code, ship_prefecture,"
            " ship_address, ship_phone, shipping_fee, fees, discount, adjustment, total, original_total, order_status,"
            " shop_memo, payment_method, amount_changed_externally, authorized_amount, captured_amount,"
            " refunded_amount, created_at, updated_at) VALUES (1, '1001', 'normal', '2026-11-20 00:00:00', 1,"
            " '佐藤 花子', '100-0001', '東京都', '千代田区1-1', '0312345678', 0, 0, 0, 0, 1200, 1200, 'new', '',"
            " 'amazon_pay', 0, 0, 0, 0, '2026-11-20 00:00:00', '2026-11-20 00:00:00')"
        )
    old.dispose()
    assert current_revision(make_engine(f"sqlite:///{db}")) == FIRST_RELEASED_REVISION

    app = open_app(f"sqlite:///{db}", clock=FixedClock(NOW), environ={"KANJO_HOME": str(tmp_path)})
    try:
        assert current_revision(app.engine) == head_revision(app.engine)
        assert app.settings.load().shop_name == "山田商店"
        assert [o.number for o in app.orders.list()] == ["1001"]
    finally:
        app.close()

    backups = sorted((tmp_path / "backups").glob(f"kanjo-*-{FIRST_RELEASED_REVISION}-to-*.sqlite3"))  # issue 14
    assert len(backups) == 1
    with sqlite3.connect(backups[0]) as backup:
        assert backup.execute("SELECT version_num FROM alembic_version").fetchone() == (FIRST_RELEASED_REVISION,)
        assert backup.execute("SELECT number FROM orders").fetchall() == [("1001",)]


def test_a_fresh_store_is_created_at_the_newest_schema_without_backup(tmp_path: Path) -> None:
    app = open_app(
        f"sqlite:///{tmp_path / 'new' / 'kanjo.sqlite3'}", clock=FixedClock(NOW), environ={"KANJO_HOME": str(tmp_path)}
    )
    try:
        assert current_revision(app.engine) == head_revision(app.engine)
    finally:
        app.close()
    assert not list((tmp_path / "new").glob("*.bak-*")) and not (tmp_path / "backups").exists()


def _file_state(path: Path) -> tuple[bytes, list[str]]:
    return path.read_bytes(), sorted(p.name for p in path.parent.iterdir())


def test_a_store_from_a_newer_version_is_refused_once_with_no_copy(tmp_path: Path) -> None:
    """Issue 10, item 6: an unknown (newer) revision is refused before anything is copied."""
    import hashlib

    import pytest

    from core.db.errors import StoreError
    from tests.core.test_cli_end_to_end import kanjo

    db = tmp_path / "kanjo.sqlite3"
    engine = make_engine(f"sqlite:///{db}")
    migrate_to(engine, "head")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    engine.dispose()
    before = _file_state(db)
    digest = hashlib.sha256(before[0]).hexdigest()

    for _start in range(2):
        with pytest.raises(StoreError, match="新しいバージョンのKanjoで作成されています") as caught:
            open_app(f"sqlite:///{db}", clock=FixedClock(NOW), environ={"KANJO_HOME": str(tmp_path)})
        assert str(db) in caught.value.message and "0099" in caught.value.message
    assert not list(tmp_path.glob("*.bak-*")) and not (tmp_path / "backups").exists()

    env = {
        "KANJO_HOME": str(tmp_path / "home"),
        "KANJO_NOW": "2026-11-21T12:00:00+09:00",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    result = kanjo(env, "--db", f"sqlite:///{db}", "orders", "list", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("kanjo: このデータベースは新しいバージョンのKanjoで作成されています")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.bak-*")) and not (tmp_path / "backups").exists()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_one_backup_per_migration_never_one_per_start(tmp_path: Path) -> None:
    """Issue 10, item 6: the backup is named by from→to revision; an existing one is kept, not repeated."""
    db = tmp_path / "kanjo.sqlite3"
    old = make_engine(f"sqlite:///{db}")
    migrate_to(old, FIRST_RELEASED_REVISION)
    head = head_revision(old)
    old.dispose()
    (tmp_path / "backups").mkdir()
    earlier = tmp_path / "backups" / f"kanjo-20261101T000000Z-{FIRST_RELEASED_REVISION}-to-{head}.sqlite3"
    earlier.write_bytes(b"the copy an interrupted earlier start made")

    for _start in range(3):
        open_app(f"sqlite:///{db}", clock=FixedClock(NOW), environ={"KANJO_HOME": str(tmp_path)}).close()
    # (the day's regular backup may be made beside it: the copy for this migration is not repeated)
    assert sorted(p.name for p in (tmp_path / "backups").glob("kanjo-*-to-*.sqlite3")) == [earlier.name]
    assert earlier.read_bytes() == b"the copy an interrupted earlier start made"


def test_the_backup_is_named_by_both_revisions(tmp_path: Path) -> None:
    db = tmp_path / "kanjo.sqlite3"
    old = make_engine(f"sqlite:///{db}")
    migrate_to(old, FIRST_RELEASED_REVISION)
    old.dispose()
    app = open_app(f"sqlite:///{db}", clock=FixedClock(NOW), environ={"KANJO_HOME": str(tmp_path)})
    head = head_revision(app.engine)
    app.close()
    assert [p.name for p in (tmp_path / "backups").glob("kanjo-*.sqlite3")] == [
        f"kanjo-20261121T030000Z-{FIRST_RELEASED_REVISION}-to-{head}.sqlite3"  # issue 14: time, from and to
    ]
