"""Issue 11 (the file part's speed): on SQLite the check pass stages new orders that need
nothing from Amazon Pay as the store's rows, and the write pass copies them with INSERT … SELECT
from the attached scratch file (``core.imports.staging``). What lands in the store must be
exactly what the bulk path writes, row for row; a chunk whose numbers another desk added
meanwhile is planned again; the write-ahead log is checkpointed beside the writer
(``core.db.checkpoints``) and the connection gets its own setting back."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.app import Kanjo, open_app
from core.clock import FixedClock
from core.db.checkpoints import BackgroundCheckpoints
from core.imports.model import ImportedItem, ImportedOrder
from core.imports.staging import StagedOrders
from tests.core.imports.test_service import FILE, checkout, shop_order

WRITTEN = ("customers", "orders", "order_items", "journal", "order_search", "order_search_bigram")
NOT_COMPARED = {"journal": {"id"}}  # each store's journal also holds its own start-up rows


def varied_orders() -> list[ImportedOrder]:
    """Every column a plain add can take a different value in."""
    return [
        shop_order("ST-1", 2),
        shop_order("ST-2", 3, unlinked=True),  # Amazon Pay, 未連携: a badge without charges
        shop_order("ST-3", 4, kind="reservation"),
        shop_order("ST-4", 5, order_status="発送済み", tracking_number="1111-2222-3333"),
        shop_order("ST-5", 6, kind="marketplace", payment_method="other", payment_label="Amazon.co.jp"),
        shop_order(
            "ST-6",
            7,
            total=7_600,
            shipping_fee=600,
            customer_name="ｻｻｷ　花子",
            customer_reading="ササキ ハナコ",
            customer_email="ＳＡＳＡＫＩ@example.jp",
            customer_phone="０９０（１２３４）５６７８",
            items=(
                ImportedItem("SKU-" + "9" * 80, "急須 ②", 3_000, 2, 1_200),
                ImportedItem("", "送料込みセット", 1_000, 1),
            ),
            payment_label="代金引換" * 20,
        ),
        shop_order("ST-7", 8, order_status="キャンセル", items=()),
    ]


def rows(app: Kanjo) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    with app.engine.connect() as connection:
        for table in WRITTEN:
            result = connection.execute(text(f"SELECT rowid AS rid, * FROM {table} ORDER BY rowid"))
            skip = NOT_COMPARED.get(table, set()) | ({"rid"} if table == "journal" else set())
            found[table] = [
                {k: v for k, v in row._mapping.items() if k not in skip}
                for row in result
                if table != "journal" or row._mapping["action"] == "order_imported"
            ]
    return found


def test_staged_orders_are_stored_exactly_as_the_bulk_path_stores_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = varied_orders()
    clock = FixedClock(datetime(2026, 11, 21, 3, 0, tzinfo=UTC))
    stores: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in ("staged", "bulk"):
        with monkeypatch.context() as patch:
            if path == "bulk":
                patch.setattr(StagedOrders, "covers", lambda *_args: False)
            else:
                patch.setattr(
                    "core.imports.service.ImportService._insert_plain",
                    lambda *_args: pytest.fail("the staged path wrote through _insert_plain"),
                )
            home = tmp_path / path
            home.mkdir()
            with open_app(f"sqlite:///{home / 'kanjo.sqlite3'}", clock=clock, environ={"KANJO_HOME": str(home)}) as app:
                summary = app.imports.apply(FILE, orders)
                assert (summary.added, summary.unlinked, summary.refused) == (7, 1, ())
                assert [o.number for o in summary.orders] == [o.number for o in orders]
                stores[path] = rows(app)
    assert stores["staged"]["orders"], "nothing was written"
    for table in WRITTEN:
        assert stores["staged"][table] == stores["bulk"][table], table


def test_several_staged_chunks_after_existing_orders_continue_the_ids(
    app: Kanjo, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.imports.service as imports

    monkeypatch.setattr(imports, "CHUNK_ORDERS", 3)
    app.imports.apply(FILE, [shop_order("OLD-1", 2)])
    summary = app.imports.apply(FILE, [shop_order(f"CH-{n}", n + 2) for n in range(8)])
    assert summary.added == 8
    with app.engine.connect() as connection:
        joined = connection.execute(
            text(
                "SELECT o.number, c.name, count(i.id) FROM orders o JOIN customers c ON c.id = o.customer_id "
                "JOIN order_items i ON i.order_id = o.id GROUP BY o.id ORDER BY o.id"
            )
        ).all()
        assert [n for n, _, _ in joined] == ["OLD-1"] + [f"CH-{n}" for n in range(8)]
        assert all(items == 1 and name == "山田 太郎" for _, name, items in joined)
        assert connection.execute(text("SELECT count(*) FROM search_index_paused")).scalar_one() == 0
        attached = connection.execute(text("PRAGMA database_list")).all()
        assert "kanjo_import" not in [name for _, name, _ in attached]  # the scratch is detached again
    assert {o.number for o in app.orders.list()} >= {"CH-0", "CH-7"}


def test_a_chunk_another_desk_added_to_is_planned_again_under_the_lock(
    app: Kanjo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the check and the write another import added RC-2 as the same order: the staged
    copy writes nothing, the chunk is planned again and RC-2 is unchanged, not added twice."""
    from core.imports.service import ImportService

    original = ImportService._write_chunk
    raced: list[bool] = []

    def racing(self: ImportService, chunk: Any, *args: Any) -> int:
        if not raced:
            raced.append(True)
            self.apply(FILE, [shop_order("RC-2", 3)])
        return original(self, chunk, *args)

    monkeypatch.setattr(ImportService, "_write_chunk", racing)
    summary = app.imports.apply(FILE, [shop_order("RC-1", 2), shop_order("RC-2", 3), shop_order("RC-3", 4)])
    assert (summary.added, summary.unchanged, summary.refused) == (2, 1, ())
    with app.engine.connect() as connection:
        numbers = connection.execute(text("SELECT number FROM orders ORDER BY id")).scalars().all()
        assert numbers == ["RC-2", "RC-1", "RC-3"]
        imported = connection.execute(text("SELECT count(*) FROM journal WHERE action = 'order_imported'"))
        assert imported.scalar_one() == 3


def test_a_chunk_with_a_linked_order_is_written_whole_by_the_general_path(app: Kanjo) -> None:
    placed = checkout(app, "MX-2")
    orders = [
        shop_order("MX-1", 2),
        shop_order("MX-2", 3, cp=placed["chargePermissionId"], charge_ids=(placed["chargeId"],)),
        shop_order("MX-3", 4),
    ]
    summary = app.imports.apply(FILE, orders)
    assert (summary.added, summary.linked) == (3, 1)
    assert {o.number for o in app.orders.list()} == {"MX-1", "MX-2", "MX-3"}
    assert app.orders.detail("MX-2").linked and not app.orders.detail("MX-1").linked


def test_checkpoints_run_beside_the_writer_and_the_setting_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=500")
    writer.execute("CREATE TABLE t (x TEXT)")
    with BackgroundCheckpoints(path, writer) as checkpoints:
        assert writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        for _ in range(5):
            writer.execute("BEGIN")
            writer.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 2_000)
            writer.execute("COMMIT")
            checkpoints.committed()
    assert checkpoints.rounds >= 1
    assert writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 500
    busy, log, copied = writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and log == copied  # nothing left behind
    assert writer.execute("SELECT count(*) FROM t").fetchone()[0] == 10_000
    writer.close()


def test_a_long_log_makes_a_commit_wait_so_the_log_starts_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the wait the next chunk's write always finds the last round still copying, and
    the log (the -wal file, left at its longest on disk) grows by every chunk: 20 MB here."""
    import core.db.checkpoints as module

    monkeypatch.setattr(module, "RESTART_FRAMES", 100)
    path = tmp_path / "wal.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x TEXT)")
    longest = 0
    with BackgroundCheckpoints(path, writer) as checkpoints:
        for _ in range(20):
            writer.execute("BEGIN")
            writer.executemany("INSERT INTO t VALUES (?)", [("y" * 500,)] * 2_000)  # about 1 MB
            writer.execute("COMMIT")
            checkpoints.committed()
            longest = max(longest, (tmp_path / "wal.sqlite3-wal").stat().st_size)
    assert checkpoints.waits >= 1
    assert longest < 5_000_000, longest
    assert writer.execute("SELECT count(*) FROM t").fetchone()[0] == 40_000
    writer.close()


def test_the_write_pass_on_either_store(
    any_store_url: str, home: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL stages nothing (no ATTACH): its write pass writes the kept orders through one
    connection, chunk by chunk, as SQLite's does for chunks it could not stage."""
    import core.imports.service as imports

    monkeypatch.setattr(imports, "CHUNK_ORDERS", 2)
    with open_app(
        any_store_url,
        clock=clock,
        environ={"KANJO_HOME": str(home)},
        gateway_options={"timeout": 2.0, "retry_delays": (0.0, 0.0, 0.0)},
    ) as app:
        placed = checkout(app, "EV-3")
        orders = [
            shop_order("EV-1", 2),
            shop_order("EV-2", 3, unlinked=True),
            shop_order("EV-3", 4, cp=placed["chargePermissionId"], charge_ids=(placed["chargeId"],)),
            shop_order("EV-4", 5, kind="reservation"),
            shop_order("EV-5", 6),
        ]
        summary = app.imports.apply(FILE, orders)
        assert (summary.added, summary.linked, summary.unlinked) == (5, 1, 1)
        assert {o.number for o in app.orders.list()} == {f"EV-{n}" for n in range(1, 6)}
        assert app.orders.detail("EV-3").linked and app.orders.detail("EV-4").order_status == "予約"
        again = app.imports.apply(FILE, orders)
        assert (again.added, again.unchanged) == (0, 5)
