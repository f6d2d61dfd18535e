"""Shop export files for the import window's tests, over the real sandbox (issue 11 item 6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.app import Kanjo
from core.imports.model import ImportedItem, ImportedOrder
from core.imports.writers import write_export
from gui.imports.import_dialog import ImportDialog
from gui.imports.preview_model import PreviewColumn
from tests.gui.helpers import control

AT = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def placed(app: Kanjo, number: str, total: int = 5_000) -> dict[str, Any]:
    """A checkout at Amazon only, as `sandbox place-order --no-store` makes it."""
    return control(app).checkout(number=number, total=total)


def shop_order(number: str, line: int = 2, *, total: int = 5_000, **changes: Any) -> ImportedOrder:
    """A bank-transfer order as the shop system exports it; ``amazon=checkout`` links it."""
    amazon = changes.pop("amazon", None)
    base = ImportedOrder(
        number=number,
        line=line,
        ordered_at=AT,
        kind="normal",
        customer_name="髙橋 一郎",
        customer_email="ichiro@example.jp",
        customer_phone="0312345678",
        ship_name="㈱髙橋商店",
        ship_postal_code="100-0001",
        ship_prefecture="東京都",
        ship_address="千代田区千代田1-1 ①号室",
        ship_phone="0312345678",
        items=(ImportedItem("SKU-1", "緑茶", total - 1_000, 1), ImportedItem("SKU-2", "湯のみ", 1_000, 1)),
        shipping_fee=0,
        total=total,
        payment_method="bank_transfer",
        payment_label="銀行振込",
        charge_permission_id=None,
    )
    if amazon is not None:
        base = replace(
            base,
            payment_method="amazon_pay",
            payment_label="Amazon Pay",
            charge_permission_id=amazon["chargePermissionId"],
            charge_ids=(amazon["chargeId"],),
        )
    return replace(base, **changes)


def export(path: Path, orders: list[ImportedOrder], format: str = "futureshop", encoding: str = "") -> Path:
    write_export(path, format, orders, encoding=encoding)
    return path


def preview_column(dialog: ImportDialog, column: PreviewColumn) -> list[str]:
    model = dialog.model
    return [model.index(row, column).data() for row in range(model.rowCount())]
