"""An item's cost price from the shop's file (issue 15 item 3: "cost price, entered or imported").

Any format recognises a cost column (原価, 原価単価, 仕入単価 …): the cost lands on the order's
items for the cancellation calculator and the net result. A re-import without the column keeps a
cost entered in Kanjo; a re-import with a changed cost updates it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.app import Kanjo
from core.db.schema import Order, OrderItem
from core.imports.service import ImportRefused
from core.imports.writers import write_export
from tests.core.imports.test_service import shop_order


def _costs(app: Kanjo, number: str) -> list[int]:
    with app.sessions() as session:
        order_id = session.scalar(select(Order.id).where(Order.number == number))
        return list(
            session.scalars(
                select(OrderItem.cost_price).where(OrderItem.order_id == order_id).order_by(OrderItem.position)
            )
        )


def _with_cost_column(path: Path, costs: dict[str, str], header: str = "原価") -> None:
    """The same file with a cost column added at the end (values by order number)."""
    lines = path.read_bytes().decode("cp932").split("\r\n")
    head = lines[0].split(",")
    number_at = head.index("受注コード")
    out = [lines[0] + f",{header}"]
    for line in lines[1:]:
        if line:
            number = line.split(",")[number_at].strip('"')
            out.append(line + f',"{costs.get(number, "")}"')
    path.write_bytes(("\r\n".join(out) + "\r\n").encode("cp932"))


def test_a_cost_column_is_imported_and_a_reimport_without_it_keeps_the_entered_cost(app: Kanjo, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    write_export(
        path, "futureshop", [shop_order("K-1", 2), shop_order("K-2", 3), shop_order("K-3", 4)], encoding="cp932"
    )
    _with_cost_column(path, {"K-1": "1,200", "K-2": "０"})
    summary = app.imports.import_file(path)
    assert summary.added == 3
    assert _costs(app, "K-1") == [1_200] and _costs(app, "K-2") == [0] and _costs(app, "K-3") == [0]

    app.shipping.set_item_cost("K-3", "SKU-1", 800)  # entered in Kanjo
    write_export(path, "futureshop", [shop_order("K-1", 2), shop_order("K-3", 3)], encoding="cp932")
    again = app.imports.import_file(path)  # no cost column: nothing to change
    assert (again.added, again.updated) == (0, 0)
    assert _costs(app, "K-3") == [800] and _costs(app, "K-1") == [1_200]

    write_export(path, "futureshop", [shop_order("K-1", 2, total=6_000)], encoding="cp932")
    _with_cost_column(path, {"K-1": "1500"}, header="仕入単価")
    changed = app.imports.import_file(path)
    assert changed.updated == 1 and _costs(app, "K-1") == [1_500]


def test_a_bad_cost_is_refused_with_its_line_and_column(app: Kanjo, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    write_export(path, "futureshop", [shop_order("B-1", 2)], encoding="cp932")
    _with_cost_column(path, {"B-1": "abc"})
    with pytest.raises(ImportRefused) as refused:
        app.imports.import_file(path)
    (row,) = refused.value.refused
    assert (row.line, row.column) == (2, "原価")
    with app.sessions() as session:
        assert session.scalar(select(Order.id).where(Order.number == "B-1")) is None
