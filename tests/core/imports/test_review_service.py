"""Issue 11, open review findings (items 1, 2, 3, 8, 11) over a real SQLite store and the real
sandbox (R35, R57)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.app import Kanjo
from core.errors import BadInput
from tests.core.imports.test_service import FILE, checkout, dump, shop_order


def test_a_cancel_in_the_file_for_an_order_with_money_at_amazon_is_a_notice_not_a_cancel(app: Kanjo) -> None:
    """Item 1 (R35): the file's キャンセル never cancels Amazon Pay money, and is never silent."""
    placed = checkout(app, "CN-1", 5_000)
    order = shop_order("CN-1", 2, cp=placed["chargePermissionId"], charge_ids=(placed["chargeId"],))
    app.imports.apply(FILE, [order])
    cancelled = replace(order, order_status="キャンセル")
    preview = app.imports.preview(FILE, [cancelled])
    assert [(n.line, n.number) for n in preview.notices] == [(2, "CN-1")]
    assert "勘定でキャンセル" in preview.notices[0].reason
    assert preview.to_json()["notices"] == [{"line": 2, "number": "CN-1", "reason": preview.notices[0].reason}]
    summary = app.imports.apply(FILE, [cancelled])
    assert [n.number for n in summary.notices] == ["CN-1"]
    detail = app.orders.detail("CN-1")
    assert detail.order_status != "キャンセル" and detail.authorized == 5_000  # nothing cancelled
    # A new order whose file says キャンセル while Amazon holds its money: imported, not cancelled, named.
    second = checkout(app, "CN-2", 3_000)
    new = shop_order(
        "CN-2",
        3,
        total=3_000,
        cp=second["chargePermissionId"],
        charge_ids=(second["chargeId"],),
        order_status="キャンセル",
    )
    added = app.imports.apply(FILE, [new])
    assert added.added == 1 and [n.number for n in added.notices] == ["CN-2"]
    assert app.orders.detail("CN-2").order_status != "キャンセル"
    # Linked without its Charge IDs: the money Amazon may hold is not seen here, so not cancelled either.
    third = checkout(app, "CN-4", 2_000)
    unknown = shop_order("CN-4", 5, total=2_000, cp=third["chargePermissionId"])
    app.imports.apply(FILE, [unknown])
    blind = app.imports.apply(FILE, [replace(unknown, order_status="キャンセル")])
    assert [n.number for n in blind.notices] == ["CN-4"]
    assert app.orders.detail("CN-4").order_status != "キャンセル"
    # Without money at Amazon the shop's cancel is simply taken (the shop owns the status).
    plain = shop_order("CN-3", 4)
    app.imports.apply(FILE, [plain])
    done = app.imports.apply(FILE, [replace(plain, order_status="キャンセル")])
    assert done.updated == 1 and done.notices == ()
    assert app.orders.detail("CN-3").order_status == "キャンセル"


def test_orders_add_without_a_charge_id_says_what_is_missing_and_writes_nothing(app: Kanjo) -> None:
    """Item 2: Get Charge Permission gives no order amount (amazonpay-api.md §2: limits are a
    ceiling, 900 % with overcharge), and the API lists no charges of a permission: a total of 0
    would be invented. The Charge ID is asked for; with it the total is Amazon's."""
    placed = checkout(app, "AD-1", 4_400)
    before = dump(app)
    with pytest.raises(BadInput, match="Charge ID") as refused:
        app.imports.add_by_charge_permission(placed["chargePermissionId"])
    assert "金額" in refused.value.message and "kanjo import" in refused.value.message
    assert dump(app) == before
    number = app.imports.add_by_charge_permission(placed["chargePermissionId"], charge_ids=[placed["chargeId"]])
    assert app.orders.detail(number).total == 4_400


def test_sync_records_the_checkouts_own_charge_as_the_order_charge_not_seller_central(app: Kanjo) -> None:
    """Item 3: an order imported with its Charge Permission but without Charge IDs learns its
    charge from Amazon's notification; that charge is the checkout's, not a Seller Central increase
    (which would block capturing here, R31)."""
    placed = checkout(app, "SY-1", 5_000)
    app.imports.apply(FILE, [shop_order("SY-1", 2, cp=placed["chargePermissionId"])])
    assert app.orders.detail("SY-1").charges == ()
    app.sync.sync_order("SY-1")
    detail = app.orders.detail("SY-1")
    assert [c.id for c in detail.charges] == [placed["chargeId"]]
    journal = " ".join(e.detail for e in detail.journal)
    assert "Seller Central" not in journal
    assert detail.can_capture, detail.capture_blocked_reason
    assert app.payments.capture("SY-1").ok
    # A charge added in Seller Central afterwards is still named as such.
    control = app.gateway().control
    assert control is not None
    control.seller_central("increase", "SY-1", 1_000)
    app.sync.sync_order("SY-1")
    after = " ".join(e.detail for e in app.orders.detail("SY-1").journal)
    assert "Seller Centralで" in after


def test_a_row_refused_by_amazon_claims_nothing_so_the_rightful_row_is_imported(app: Kanjo) -> None:
    """Item 8: row 2 names order B's charge under its own permission (Amazon: not that
    permission's) and is refused; row 3, order B with its own permission and charge, is not
    knocked out by it. Safe for money: only rows Amazon confirmed claim a permission or charge."""
    a, b = checkout(app, "CL-A", 2_000), checkout(app, "CL-B", 3_000)
    rows = [
        shop_order("CL-A", 2, total=2_000, cp=a["chargePermissionId"], charge_ids=(b["chargeId"],)),
        shop_order("CL-B", 3, total=3_000, cp=b["chargePermissionId"], charge_ids=(b["chargeId"],)),
    ]
    preview = app.imports.preview(FILE, rows)
    assert [r.line for r in preview.refused] == [2] and "のものではありません" in preview.refused[0].reason
    assert preview.added == 1
    summary = app.imports.apply(FILE, rows, skip_bad=True)
    assert summary.added == 1 and app.orders.detail("CL-B").authorized == 3_000
    # Two rows that Amazon both confirms still cannot share one charge: the second is refused.
    c = checkout(app, "CL-C", 1_000)
    twice = [
        shop_order("CL-C", 2, total=1_000, cp=c["chargePermissionId"], charge_ids=(c["chargeId"],)),
        shop_order("CL-D", 3, total=1_000, cp=c["chargePermissionId"], charge_ids=(c["chargeId"],)),
    ]
    again = app.imports.preview(FILE, twice)
    assert [r.line for r in again.refused] == [3]


@pytest.mark.parametrize(
    ("cp", "charges"),
    [
        ("S01-1234567-123456", ()),  # one digit short
        ("s03-1234567-1234567", ()),  # lower case
        ("S03-1234567-1234567; DROP", ()),
        ("S03-1234567-1234567", ("S03-1234567-1234567-X000001",)),
        ("S03-1234567-1234567", ("C000001",)),
    ],
)
def test_malformed_ids_are_refused_before_any_call_to_amazon(app: Kanjo, cp: str, charges: tuple[str, ...]) -> None:
    """Item 11: the shape of the IDs (amazonpay-api.md: S01-5105180-3221187, …-C056351) is checked
    here; nothing is sent to Amazon Pay."""
    calls: list[str] = []
    gateway = app.gateway

    def counting() -> Any:
        calls.append("gateway")
        return gateway()

    app.imports._gateway = counting  # type: ignore[attr-defined]  # counts, does not replace
    with pytest.raises(BadInput, match="形"):
        app.imports.add_by_charge_permission(cp, number="ID-1", charge_ids=charges)
    app.imports.apply(FILE, [shop_order("ID-2", 2, unlinked=True)])
    with pytest.raises(BadInput, match="形"):
        app.imports.link("ID-2", cp, charges)
    preview = app.imports.preview(FILE, [shop_order("ID-3", 3, cp=cp, charge_ids=charges)])
    assert [r.line for r in preview.refused] == [3] and "形" in preview.refused[0].reason
    assert calls == []


def test_sync_records_an_older_checkout_charge_than_the_files_as_the_orders_own(app: Kanjo, clock: Any) -> None:
    """Item 3, second case: the file names only the newer charge (Seller Central re-authorized a
    higher total an hour later, R32); the checkout's older charge is the order's own, not an
    increase made in Seller Central."""
    from datetime import timedelta

    placed = checkout(app, "SY-2", 5_000)
    clock.advance(timedelta(hours=1))
    control = app.gateway().control
    assert control is not None
    newer = control.seller_central("increase", "SY-2", 1_000)
    newer_id = newer.get("chargeId") or newer["charge"]["chargeId"]
    app.imports.apply(
        FILE, [shop_order("SY-2", 2, total=6_000, cp=placed["chargePermissionId"], charge_ids=(newer_id,))]
    )
    app.sync.sync_order("SY-2")
    detail = app.orders.detail("SY-2")
    assert sorted(c.id for c in detail.charges) == sorted([placed["chargeId"], newer_id])
    journal = " ".join(e.detail for e in detail.journal)
    assert "Seller Centralで5,000円の与信が追加" not in journal
    assert f"Charge {placed['chargeId']}" in journal
