"""Issue 11 (items 2–5): the import service over a real SQLite store and the real sandbox.

The parsers are another helper's work: these tests feed the service the ImportedOrder and
RefusedRow values a parser yields for a file (R57, R58).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.app import Kanjo
from core.errors import BadInput, RuleViolation
from core.imports.model import DetectedFile, ImportedItem, ImportedOrder, RefusedRow
from core.imports.service import ImportRefused
from core.payment_rules import MARKETPLACE_MESSAGE

FILE = DetectedFile("futureshop", "cp932", ",")


def checkout(app: Kanjo, number: str, total: int = 5_000) -> dict[str, Any]:
    control = app.gateway().control
    assert control is not None
    return control.checkout(number=number, total=total)  # type: ignore[no-any-return]


def shop_order(number: str, line: int, *, total: int = 5_000, cp: str | None = None, **changes: Any) -> ImportedOrder:
    base = ImportedOrder(
        number=number,
        line=line,
        ordered_at=datetime(2026, 11, 20, 1, 0, tzinfo=UTC),
        kind="normal",
        customer_name="山田 太郎",
        customer_email="taro@example.jp",
        customer_phone="0312345678",
        ship_name="山田 太郎",
        ship_postal_code="100-0001",
        ship_prefecture="東京都",
        ship_address="千代田区千代田1-1",
        ship_phone="0312345678",
        items=(ImportedItem("SKU-1", "髙級お茶 ①", total, 1),),
        shipping_fee=0,
        total=total,
        payment_method="amazon_pay" if cp is not None or changes.get("unlinked") else "bank_transfer",
        payment_label="Amazon Pay" if cp is not None else "銀行振込",
        charge_permission_id=cp,
    )
    changes.pop("unlinked", None)
    return replace(base, **changes)


def dump(app: Kanjo) -> dict[str, list[tuple[Any, ...]]]:
    tables = ["orders", "order_items", "customers", "charges", "charge_permissions", "refunds", "journal", "imports"]
    with app.engine.connect() as connection:
        return {t: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {t} ORDER BY 1"))] for t in tables}


def test_preview_writes_nothing_and_counts(app: Kanjo) -> None:
    placed = checkout(app, "FS-1")
    rows = [
        shop_order("FS-1", 2, cp=placed["chargePermissionId"], charge_ids=(placed["chargeId"],)),
        shop_order("FS-2", 3),
        RefusedRow(4, "請求合計金額", "金額「abc」を読めません。"),
    ]
    before = dump(app)
    summary = app.imports.preview(FILE, rows)
    assert dump(app) == before
    assert (summary.added, summary.updated, summary.unchanged) == (2, 0, 0)
    assert (summary.linked, summary.unlinked) == (1, 0)  # FS-2 is paid by bank transfer: not 未連携
    assert summary.to_json()["refused"] == [
        {"line": 4, "column": "請求合計金額", "reason": "金額「abc」を読めません。"}
    ]


def test_refused_rows_block_unless_skip_bad(app: Kanjo) -> None:
    rows = [shop_order("FS-1", 2), RefusedRow(3, "注文日時", "日時を読めません。")]
    before = dump(app)
    with pytest.raises(BadInput, match="1件"):
        app.imports.apply(FILE, rows)
    assert dump(app) == before
    summary = app.imports.apply(FILE, rows, skip_bad=True)
    assert summary.added == 1 and len(summary.refused) == 1
    assert app.orders.detail("FS-1").source == "futureshop"


def test_unknown_charge_permission_is_refused_404(app: Kanjo) -> None:
    rows = [shop_order("FS-9", 2, cp="S03-0000000-0000000")]
    summary = app.imports.preview(FILE, rows)
    assert summary.added == 0
    assert [r.line for r in summary.refused] == [2]
    assert "404" in summary.refused[0].reason


def test_linked_order_reads_amazon_and_flags_a_different_total(app: Kanjo) -> None:
    placed = checkout(app, "FS-1", 5_000)
    rows = [shop_order("FS-1", 2, total=5_500, cp=placed["chargePermissionId"], charge_ids=(placed["chargeId"],))]
    summary = app.imports.apply(FILE, rows)
    assert summary.added == 1 and summary.mismatches == ("FS-1",)
    detail = app.orders.detail("FS-1")
    assert detail.payment_status == "承認済"  # from Amazon, not from the file
    assert detail.total == detail.authorized == 5_000
    assert detail.shop_total_mismatch == 5_500
    assert detail.linked and detail.charge_permission_id == placed["chargePermissionId"]
    assert detail.charge_permission is not None and detail.charge_permission.expires_at is not None


def test_reimport_adds_nothing_and_a_change_updates_only_shop_fields(app: Kanjo) -> None:
    placed = checkout(app, "FS-1")
    order = shop_order("FS-1", 2, cp=placed["chargePermissionId"], charge_ids=(placed["chargeId"],))
    app.imports.apply(FILE, [order])
    again = app.imports.apply(FILE, [order])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    result = app.payments.capture("FS-1")
    assert result.ok
    changed = replace(
        order, ship_address="千代田区丸の内2-2", tracking_number="1234-5678", total=9_999, order_status="発送済"
    )
    summary = app.imports.apply(FILE, [changed])
    assert summary.updated == 1
    assert set(summary.orders[0].fields) == {"ship_address", "tracking_number", "order_status", "shop_total_mismatch"}
    detail = app.orders.detail("FS-1")
    assert detail.ship_address == "千代田区丸の内2-2" and detail.tracking_number == "1234-5678"
    assert detail.order_status == "発送済"
    assert detail.total == detail.captured == 5_000  # Amazon's, never the file's
    assert detail.payment_status == "請求済"
    assert detail.shop_total_mismatch == 9_999


def test_an_order_linked_to_another_permission_is_refused(app: Kanjo) -> None:
    one, two = checkout(app, "FS-1"), checkout(app, "FS-X")
    app.imports.apply(FILE, [shop_order("FS-1", 2, cp=one["chargePermissionId"])])
    summary = app.imports.preview(FILE, [shop_order("FS-1", 2, cp=two["chargePermissionId"])])
    assert summary.refused and "別のCharge Permission" in summary.refused[0].reason


def test_cancel_mid_way_leaves_whole_orders(app: Kanjo, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.imports.service as imports

    monkeypatch.setattr(imports, "CHUNK_ORDERS", 2)
    rows = [shop_order(f"FS-{i}", i + 2) for i in range(5)]
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 1  # the first chunk is written, then the operator cancels

    summary = app.imports.apply(FILE, rows, cancel=cancel)
    assert summary.cancelled and summary.added == 2
    with app.engine.connect() as connection:
        orders = connection.execute(text("SELECT number FROM orders ORDER BY number")).scalars().all()
        items = connection.execute(text("SELECT count(*) FROM order_items")).scalar()
        record = connection.execute(text("SELECT added, completed FROM imports")).one()
    assert orders == ["FS-0", "FS-1"] and items == 2
    assert tuple(record) == (2, 0)


def test_import_is_journaled(app: Kanjo) -> None:
    app.imports.apply(FILE, [shop_order("FS-1", 2)], file_name="orders.csv", sha256="ab" * 32)
    with app.engine.connect() as connection:
        entry = connection.execute(text("SELECT detail FROM journal WHERE action = 'import'")).scalar()
        record = connection.execute(text("SELECT file_name, sha256, added FROM imports")).one()
    assert entry is not None and "orders.csv" in entry
    assert tuple(record) == ("orders.csv", "ab" * 32, 1)


def test_add_by_charge_permission_reads_everything_from_amazon(app: Kanjo) -> None:
    placed = checkout(app, "CP-1", 7_000)
    number = app.imports.add_by_charge_permission(placed["chargePermissionId"], charge_ids=[placed["chargeId"]])
    assert number == "CP-1"  # the permission's merchantReferenceId
    detail = app.orders.detail(number)
    assert detail.source == "manual" and detail.linked
    assert detail.total == 7_000 and detail.payment_status == "承認済"
    assert detail.customer_name and detail.ship_address
    with pytest.raises(BadInput, match="404"):
        app.imports.add_by_charge_permission("S03-0000000-0000000")


def test_unlinked_and_marketplace_orders_refuse_amazon_actions_then_link(app: Kanjo) -> None:
    app.imports.apply(
        FILE,
        [
            shop_order("UL-1", 2, unlinked=True),
            shop_order("MP-1", 3, kind="marketplace", payment_method="other", payment_label="Amazon"),
        ],
    )
    unlinked = app.orders.detail("UL-1")
    assert not unlinked.linked and not unlinked.can_capture
    assert "未連携" in unlinked.capture_blocked_reason
    with pytest.raises(RuleViolation) as refused:
        app.payments.capture("MP-1")
    assert refused.value.message == MARKETPLACE_MESSAGE
    with pytest.raises(RuleViolation, match="マーケットプレイス"):
        app.payments.refund("MP-1", None)
    with pytest.raises(RuleViolation, match="未連携"):
        app.payments.refund("UL-1", None)
    with pytest.raises(RuleViolation, match="マーケットプレイス"):
        app.imports.link("MP-1", "S03-1")
    placed = checkout(app, "UL-1")
    app.imports.link("UL-1", placed["chargePermissionId"], [placed["chargeId"]])
    linked = app.orders.detail("UL-1")
    assert linked.linked and linked.payment_status == "承認済" and linked.can_capture


def test_existing_orders_become_sandbox_orders_on_upgrade(tmp_path: Path) -> None:
    from core.app import open_app
    from core.clock import FixedClock
    from core.db.engine import make_engine, migrate_to
    from tests.conftest import NOW

    db = tmp_path / "kanjo.sqlite3"
    old = make_engine(f"sqlite:///{db}")
    migrate_to(old, "0004")
    with old.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO customers(id, name, email, phone, is_member) VALUES (1, '佐藤 花子', 's@example.jp', '0312345678', 0)"
        )
        connection.exec_driver_sql(
            "INSERT INTO orders(id, number, kind, ordered_at, customer_id, ship_name, ship_postal_code, ship_prefecture,"
            " ship_address, ship_phone, shipping_fee, fees, discount, adjustment, total, original_total, order_status,"
            " shop_memo, payment_method, amount_changed_externally, authorized_amount, captured_amount,"
            " refunded_amount, created_at, updated_at) VALUES (1, '1001', 'normal', '2026-11-20 00:00:00', 1,"
            " '佐藤 花子', '100-0001', '東京都', '千代田区1-1', '0312345678', 0, 0, 0, 0, 1200, 1200, 'new', '',"
            " 'bank_transfer', 0, 0, 0, 0, '2026-11-20 00:00:00', '2026-11-20 00:00:00')"
        )
    old.dispose()
    app = open_app(f"sqlite:///{db}", clock=FixedClock(NOW), environ={"KANJO_HOME": str(tmp_path)})
    try:
        detail = app.orders.detail("1001")
        assert (detail.source, detail.environment, detail.linked, detail.shop_total_mismatch) == (
            "sandbox",
            "",  # 0010: no Charge Permission, so in no Amazon Pay (0006 had said builtin)
            False,
            None,
        )
    finally:
        app.close()


def test_sync_after_import_reads_linked_orders_and_leaves_the_others_alone(app: Kanjo) -> None:
    placed = checkout(app, "SY-1", 3_000)
    app.imports.apply(
        FILE,
        [
            shop_order("SY-1", 2, total=3_000, cp=placed["chargePermissionId"]),  # no charge id in the file
            shop_order("SY-2", 3, unlinked=True),
            shop_order("SY-3", 4, kind="marketplace", payment_method="other"),
            shop_order("SY-4", 5),
        ],
    )
    assert app.orders.detail("SY-1").payment_status is None  # only its permission until a sync
    results = {r.order_number: r for r in app.sync.sync_all()}
    assert all(r.ok for r in results.values()), [r.message for r in results.values()]
    assert app.orders.detail("SY-1").payment_status == "承認済"  # the sandbox announced the charge (IPN)
    for number in ("SY-2", "SY-3", "SY-4"):
        detail = app.orders.detail(number)
        assert detail.payment_status is None and detail.sync_error is None


def test_progress_reports_both_phases_and_a_cancel_while_checking_writes_nothing(
    app: Kanjo, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.imports.service as imports

    monkeypatch.setattr(imports, "CHUNK_ORDERS", 2)
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 2)
    rows = [shop_order(f"FS-{i}", i + 2) for i in range(5)]
    seen: list[tuple[str, int, int]] = []
    summary = app.imports.apply(FILE, rows, progress=lambda p: seen.append((p.phase, p.done, p.total)))
    assert summary.added == 5 and not summary.cancelled
    assert ("check", 2, 0) in seen and ("check", 5, 0) in seen
    assert [s for s in seen if s[0] == "write"] == [("write", 2, 5), ("write", 4, 5), ("write", 5, 5)]

    before = dump(app)
    more = [shop_order(f"FX-{i}", i + 2) for i in range(5)]
    stopped = app.imports.apply(FILE, more, cancel=lambda: True)
    assert stopped.cancelled and stopped.added == 0
    assert dump(app) == before  # cancelled while checking: not even the import record
    preview = app.imports.preview(FILE, more, cancel=lambda: True)
    assert preview.cancelled and preview.dry_run


def test_the_list_says_why_an_imported_order_has_no_badge(app: Kanjo) -> None:
    """An imported order without charges is not 決済不要 unless it really has nothing to pay (R34):
    未連携 (R57), マーケットプレイス (R61) or 対象外 (paid otherwise) say why."""
    from core.order_pages import OrderPages, OrderQuery

    app.imports.apply(
        FILE,
        [
            shop_order("NB-1", 2, unlinked=True),
            shop_order("NB-2", 3, kind="marketplace", payment_method="other", payment_label="Amazon"),
            shop_order("NB-3", 4),  # 銀行振込
        ],
    )
    rows = OrderPages(app.engine).page(OrderQuery(), 0, 10, app.clock.now()).rows
    shown = {row.number: (row.payment_status, row.no_badge) for row in rows}
    assert shown == {"NB-1": (None, "未連携"), "NB-2": (None, "マーケットプレイス"), "NB-3": (None, "対象外")}


def test_a_permission_without_its_charge_ids_is_not_authorized_twice_and_can_be_given_them(app: Kanjo) -> None:
    """R57: the API cannot list a permission's charges. A file with the Charge Permission but no
    Charge ID: Amazon's balance shows a charge exists, so capture and re-authorization are refused
    (a new authorization would hold the buyer's money twice) until `orders link` adds the ID."""
    from core.order_pages import OrderPages, OrderQuery
    from core.payment_rules import UNKNOWN_CHARGES_MESSAGE

    placed = checkout(app, "CI-1", total=4_000)
    app.imports.apply(FILE, [shop_order("CI-1", 2, total=4_000, cp=placed["chargePermissionId"])])
    detail = app.orders.detail("CI-1")
    assert detail.linked and detail.charges_unknown and detail.payment_status is None
    assert not detail.can_capture and detail.capture_blocked_reason == UNKNOWN_CHARGES_MESSAGE
    assert not detail.can_reauthorize and detail.to_json()["charges_unknown"] is True
    with pytest.raises(RuleViolation, match="Charge ID"):
        app.payments.capture("CI-1")
    (row,) = OrderPages(app.engine).page(OrderQuery(), 0, 10, app.clock.now()).rows
    assert row.no_badge == "Charge未連携"

    with pytest.raises(RuleViolation, match="すでにCharge Permission"):  # another permission: refused
        app.imports.link("CI-1", "S03-0000000-0000000", [placed["chargeId"]])
    app.imports.link("CI-1", placed["chargePermissionId"], [placed["chargeId"]])
    linked = app.orders.detail("CI-1")
    assert not linked.charges_unknown and linked.payment_status == "承認済" and linked.can_capture
    app.payments.capture("CI-1")
    assert app.orders.detail("CI-1").captured == 4_000


def test_a_subscription_added_without_its_charge_id_is_not_authorized_twice(app: Kanjo) -> None:
    """Outside review: a recurring permission's balance below its monthly limit (R53) means this
    month's charge exists; without its ID, re-authorization and amount changes are refused
    (they would hold or take the buyer's money twice), and `orders link` adds the ID."""
    from core.payment_rules import UNKNOWN_CHARGES_MESSAGE

    control = app.gateway().control
    assert control is not None
    placed = control.checkout(number="SB-1", total=3_300, kind="subscription")
    # Imported from the shop's file with its permission but no Charge ID (`orders add` now asks
    # for the Charge ID: review item 2).
    app.imports.apply(FILE, [shop_order("SB-1", 2, total=3_300, cp=placed["chargePermissionId"], kind="subscription")])
    detail = app.orders.detail("SB-1")
    assert detail.charges_unknown and not detail.can_reauthorize and not detail.can_capture
    assert detail.reauthorize_blocked_reason == UNKNOWN_CHARGES_MESSAGE
    with pytest.raises(RuleViolation, match="Charge ID"):
        app.payments.reauthorize("SB-1")
    with pytest.raises(RuleViolation, match="Charge ID"):
        app.payments.change_amount("SB-1", total=3_300, confirmed=True)
    app.imports.link("SB-1", placed["chargePermissionId"], [placed["chargeId"]])
    linked = app.orders.detail("SB-1")
    assert not linked.charges_unknown and linked.authorized == 3_300
    app.payments.capture("SB-1")
    assert app.orders.detail("SB-1").captured == 3_300


def test_another_orders_charge_permission_is_refused_on_import_add_and_link(app: Kanjo) -> None:
    """Outside review: a one-time Charge Permission names its order (merchantReferenceId, R57);
    one of another order is another buyer's money."""
    first, second = checkout(app, "OW-1", total=4_000), checkout(app, "OW-2", total=2_000)
    with pytest.raises(ImportRefused) as refused:
        app.imports.apply(
            FILE,
            [
                shop_order("OW-1", 2, total=4_000, cp=second["chargePermissionId"]),
                shop_order("OW-2", 3, total=2_000, unlinked=True),
            ],
        )
    (row,) = refused.value.refused
    assert row.line == 2 and row.column == "charge_permission_id" and "OW-2 のもの" in row.reason
    assert app.orders.list() == []  # nothing written
    with pytest.raises(RuleViolation, match="OW-1 のもの"):
        app.imports.add_by_charge_permission(first["chargePermissionId"], number="OW-9")
    app.imports.apply(FILE, [shop_order("OW-2", 3, total=2_000, unlinked=True)])
    with pytest.raises(RuleViolation, match="OW-1 のもの"):
        app.imports.link("OW-2", first["chargePermissionId"], [first["chargeId"]])
    assert not app.orders.detail("OW-2").linked


def test_unlinked_counts_only_amazon_pay_orders_without_their_permission(app: Kanjo) -> None:
    """Outside review: 未連携 means an Amazon Pay order without its Charge Permission, not an
    order paid otherwise nor a marketplace order."""
    summary = app.imports.preview(
        FILE,
        [
            shop_order("UC-1", 2, unlinked=True),
            shop_order("UC-2", 3),  # 銀行振込
            shop_order("UC-3", 4, kind="marketplace", payment_method="other", payment_label="Amazon"),
        ],
    )
    assert (summary.added, summary.linked, summary.unlinked) == (3, 0, 1)
    assert [o.amazon_pay for o in summary.orders] == [True, False, False]
