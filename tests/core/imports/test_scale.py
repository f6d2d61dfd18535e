"""Issue 11 (bench item): an import's memory stays flat and each linked order is read once.

Real SQLite store, the real sandbox over HTTP; its own request log counts the reads (R57, R58).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from core.app import Kanjo
from core.db.schema import Order
from core.errors import BadInput
from core.ledger import refresh_order
from tests.core.imports.test_service import FILE, checkout, dump, shop_order


def amazon_reads(app: Kanjo) -> dict[str, int]:
    server = app.gateway().server
    assert server is not None
    counts = {"charge_permission": 0, "charge": 0}
    for call in server.backend.calls():
        if call["method"] == "GET" and "/chargePermissions/" in call["path"]:
            counts["charge_permission"] += 1
        elif call["method"] == "GET" and "/charges/" in call["path"]:
            counts["charge"] += 1
    return counts


def test_summary_keeps_exact_counts_and_a_bounded_sample_of_orders(app: Kanjo, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.imports.service as imports

    monkeypatch.setattr(imports, "ORDER_SAMPLE", 3)
    monkeypatch.setattr(imports, "UPDATE_SAMPLE", 2)
    rows = [shop_order(f"FS-{i}", i + 2) for i in range(6)]
    summary = app.imports.apply(FILE, rows)
    assert summary.added == 6 and [o.number for o in summary.orders] == ["FS-0", "FS-1", "FS-2"]
    data = summary.to_json()
    assert (data["orders_total"], data["orders_truncated"]) == (6, True)
    assert data["added"] == 6 and len(data["orders"]) == 3

    changed = [replace(r, ship_address="大阪市北区1-1") if i % 2 else r for i, r in enumerate(rows)]
    again = app.imports.apply(FILE, changed)
    assert (again.added, again.updated, again.unchanged) == (0, 3, 3)
    # The first three plans, then updates only, up to UPDATE_SAMPLE.
    assert [(o.number, o.action) for o in again.orders] == [
        ("FS-0", "unchanged"),
        ("FS-1", "update"),
        ("FS-2", "unchanged"),
        ("FS-3", "update"),
        ("FS-5", "update"),
    ]
    preview = app.imports.preview(FILE, changed)  # all unchanged now: only the first three kept
    assert preview.to_json()["orders_total"] == 6 and len(preview.orders) == 3


def test_each_new_linked_order_is_read_from_amazon_once(app: Kanjo) -> None:
    placed = [checkout(app, f"FS-{i}", 3_000 + i) for i in range(3)]
    rows = [
        shop_order(f"FS-{i}", i + 2, total=3_000 + i, cp=p["chargePermissionId"], charge_ids=(p["chargeId"],))
        for i, p in enumerate(placed)
    ]
    before = amazon_reads(app)
    summary = app.imports.apply(FILE, rows)
    after = amazon_reads(app)
    assert summary.added == 3 and summary.linked == 3
    # Get Charge Permission and Get Charge once each: the check pass's reading is what is written.
    assert after["charge_permission"] - before["charge_permission"] == 3
    assert after["charge"] - before["charge"] == 3
    assert app.orders.detail("FS-2").authorized == 3_002


def test_a_charge_amazon_does_not_know_refuses_before_anything_is_written(app: Kanjo) -> None:
    one, two = checkout(app, "FS-1"), checkout(app, "FS-2")
    rows = [
        shop_order("FS-1", 2, cp=one["chargePermissionId"], charge_ids=(one["chargeId"],)),
        shop_order("FS-2", 3, cp=two["chargePermissionId"], charge_ids=(two["chargePermissionId"] + "-C999999",)),
    ]
    before = dump(app)
    with pytest.raises(BadInput) as refused:
        app.imports.apply(FILE, rows)
    assert dump(app) == before
    assert [(r.line, r.column) for r in refused.value.refused] == [(3, "charge_permission_id")]  # type: ignore[attr-defined]
    assert "404" in refused.value.refused[0].reason  # type: ignore[attr-defined]


def test_one_charge_permission_on_two_orders_of_one_file_is_refused_before_writing(app: Kanjo) -> None:
    placed = checkout(app, "FS-1")
    rows = [
        shop_order("FS-1", 2, cp=placed["chargePermissionId"]),
        shop_order("FS-2", 3, cp=placed["chargePermissionId"]),
    ]
    before = dump(app)
    with pytest.raises(BadInput) as refused:
        app.imports.apply(FILE, rows)
    assert dump(app) == before
    reasons = [r.reason for r in refused.value.refused]  # type: ignore[attr-defined]
    assert reasons == [f"Charge Permission {placed['chargePermissionId']} はすでに受注 FS-1 と連携しています。"]


def test_orders_written_in_bulk_carry_what_refresh_order_computes(app: Kanjo) -> None:
    rows = [
        shop_order("FS-1", 2),  # bank transfer
        shop_order("FS-2", 3, unlinked=True),  # Amazon Pay, 未連携
        shop_order("FS-3", 4, kind="reservation"),
        shop_order("FS-4", 5, order_status="発送済み", tracking_number="1111-2222"),
    ]
    app.imports.apply(FILE, rows)
    columns = ("payment_status", "auth_expires_at", "authorized_amount", "captured_amount", "refunded_amount")
    with app.sessions() as session:
        for order in session.scalars(select(Order).order_by(Order.number)):
            stored = tuple(getattr(order, c) for c in columns)
            refresh_order(order, app.clock.now())
            assert tuple(getattr(order, c) for c in columns) == stored, order.number
            session.rollback()
    assert app.orders.detail("FS-3").order_status == "予約"  # reservation default
    assert app.orders.detail("FS-2").payment_method == "amazon_pay" and not app.orders.detail("FS-2").linked


def test_the_scratch_file_is_private_beside_the_store_and_removed(app: Kanjo) -> None:
    from core.db.engine import sqlite_path

    store = sqlite_path(app.db_url)
    assert store is not None
    seen: list[tuple[str, int]] = []

    def progress(_step: object) -> None:
        seen.extend((p.name, p.stat().st_mode & 0o777) for p in store.parent.glob(".kanjo-import-*"))

    app.imports.apply(FILE, [shop_order("FS-1", 2), shop_order("FS-2", 3)], progress=progress)
    assert seen and {mode for _, mode in seen} == {0o600}
    assert not list(store.parent.glob(".kanjo-import-*"))
