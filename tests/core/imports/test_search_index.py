"""Issue 11 (the 100,000-order benchmark): an import fills the order list's search index once per
chunk instead of by a trigger per order (migration 0007, ``core/db/search_index.py``). What the
list finds must not change: every imported order is found by number, name (with or without its
space, 1, 2 or 3+ characters) and e-mail, the pause never outlives the import's transaction, and
an order written any other way is still indexed by the trigger."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from core.app import Kanjo
from core.db.search_index import index_rows_sql, insert_trigger_sql
from core.order_pages import OrderFilter, OrderPages, OrderQuery
from tests.core.imports.test_service import FILE, checkout, shop_order
from tests.helpers import place_order


def found(app: Kanjo, search: str) -> set[str]:
    query = OrderQuery(filter=OrderFilter(text=search))
    return {row.number for row in OrderPages(app.engine).page(query, 0, 100, app.clock.now()).rows}


def index_rows(app: Kanjo) -> list[tuple[object, ...]]:
    with app.engine.connect() as connection:
        return [
            tuple(row)
            for table in ("order_search", "order_search_bigram")
            for row in connection.execute(text(f"SELECT rowid, * FROM {table} ORDER BY rowid"))
        ]


def test_imported_orders_are_found_as_the_trigger_would_index_them(app: Kanjo, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.imports.service as imports

    monkeypatch.setattr(imports, "CHUNK_ORDERS", 2)  # several chunks, each indexed on its own
    placed = checkout(app, "SX-3")
    rows = [
        replace(shop_order("SX-1", 2), customer_name="髙橋 一郎", customer_email="ichiro@example.jp"),
        replace(shop_order("SX-2", 3), customer_name="林 ①子", customer_email="hayashi@example.jp"),
        replace(
            shop_order("SX-3", 4, cp=placed["chargePermissionId"], charge_ids=(placed["chargeId"],)),
            customer_name="佐藤 花子",
            customer_email="hanako@example.jp",
        ),
        replace(shop_order("SX-4", 5, unlinked=True), customer_name="田中 次郎", customer_email="jiro@example.jp"),
        replace(shop_order("SX-5", 6), customer_name="森 三郎", customer_email="saburo@example.jp"),
    ]
    summary = app.imports.apply(FILE, rows)
    assert summary.added == 5
    assert found(app, "髙橋") == {"SX-1"} and found(app, "髙橋一郎") == {"SX-1"}
    assert found(app, "林") == {"SX-2"} and found(app, "hayashi") == {"SX-2"}
    assert found(app, "佐藤 花子") == {"SX-3"} and found(app, "花子") == {"SX-3"}  # the ORM path
    assert found(app, "jiro@example") == {"SX-4"} and found(app, "SX-5") == {"SX-5"}
    assert found(app, "SX-") == {"SX-1", "SX-2", "SX-3", "SX-4", "SX-5"}
    with app.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM search_index_paused")).scalar_one() == 0

    # The same rows as the per-row trigger makes: rebuild the index the trigger's way and compare.
    imported = index_rows(app)
    with app.engine.begin() as connection:
        connection.execute(text("DELETE FROM order_search"))
        connection.execute(text("DELETE FROM order_search_bigram"))
        for statement in index_rows_sql("1"):
            connection.execute(text(statement))
    assert index_rows(app) == imported


def test_orders_written_outside_an_import_are_still_indexed_by_the_trigger(app: Kanjo) -> None:
    place_order(app, "TR-1", 3_000)
    assert found(app, "TR-1") == {"TR-1"}
    with app.engine.connect() as connection:
        trigger = connection.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'order_search_ai'")
        ).scalar_one()
    assert trigger == insert_trigger_sql(pausable=True)


@pytest.mark.parametrize("path", ["staged", "bulk"])
def test_a_failed_chunk_leaves_no_pause_behind(app: Kanjo, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Either write path failing after the pause: the staged copy (core.imports.staging) or the
    bulk insert of orders that were not staged."""
    import core.imports.service as imports
    from core.imports.staging import StagedOrders

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    if path == "staged":
        monkeypatch.setattr(StagedOrders, "_journal", broken)  # after the orders' rows, before the index
    else:
        monkeypatch.setattr(StagedOrders, "covers", lambda *_args: False)
        monkeypatch.setattr(imports.ImportService, "_insert_plain", broken)
    with pytest.raises(OSError):
        app.imports.apply(FILE, [shop_order("PF-1", 2)])
    with app.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM search_index_paused")).scalar_one() == 0
        assert connection.execute(text("SELECT count(*) FROM orders")).scalar_one() == 0
        assert connection.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0
    place_order(app, "PF-2", 1_000)  # the trigger indexes again
    assert found(app, "PF-2") == {"PF-2"}
