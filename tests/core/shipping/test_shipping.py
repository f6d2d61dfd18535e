"""Shipping one order and a shipping file (issue 15 items 1–2, R24), end to end over the real
sandbox (HTTP on loopback) and a real SQLite store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.app import Kanjo
from core.domain import OrderStatus, PaymentStatus
from core.errors import BadInput, RuleViolation
from tests.core.shipping.conftest import RecordingSender
from tests.helpers import place_order

YAMATO = "444413758703"
SAGAWA = "512547514334"


def captures(app: Kanjo, number: str) -> list[str]:
    control = app.gateway().control
    assert control is not None
    return [c["captureAmount"]["amount"] for c in control.snapshot(number)["charges"] if c.get("captureAmount")]


def test_ship_captures_first_then_records_then_sends_the_notice_with_the_link(
    shop: Kanjo, mail: RecordingSender
) -> None:
    place_order(shop, "S-1", 4_000)
    assert shop.orders.detail("S-1").payment_status == PaymentStatus.AUTHORIZED.value
    result = shop.shipping.ship("S-1", "yamato", "4444-1375-8703", notify=True)
    assert result.captured and result.notified and result.tracking_number == YAMATO
    detail = shop.orders.detail("S-1")
    assert detail.captured == 4_000 and detail.payment_status == PaymentStatus.CAPTURE_RECORDED.value
    assert detail.order_status == OrderStatus.SHIPPED.label and detail.tracking_number == YAMATO
    assert captures(shop, "S-1") == ["4000"]
    body = mail.bodies()[0]
    assert f"https://jizen.kuronekoyamato.co.jp/jizen/servlet/crjz.b.NQ0010?id={YAMATO}" in body
    assert "ヤマト運輸" in body and detail.messages[-1].status == "sent"
    # R24's order: the capture's journal entries come before the shipment's.
    actions = [j.action for j in detail.journal]
    assert actions.index("capture") < actions.index("ship")
    # Exactly once: a second shipment is refused, nothing more captured or sent.
    with pytest.raises(RuleViolation, match="すでに発送済み"):
        shop.shipping.ship("S-1", "yamato", YAMATO, notify=True)
    assert captures(shop, "S-1") == ["4000"] and len(mail.sent) == 1
    summary = shop.shipping.summary("S-1")
    assert summary["shipment"]["carrier"] == "yamato" and summary["shipment"]["tracking"] == YAMATO


def test_a_bad_tracking_number_changes_nothing(shop: Kanjo) -> None:
    place_order(shop, "S-2", 3_000)
    with pytest.raises(BadInput, match="最後の桁"):
        shop.shipping.ship("S-2", "yamato", "444413758704")
    detail = shop.orders.detail("S-2")
    assert detail.captured == 0 and detail.tracking_number is None
    with pytest.raises(BadInput, match="配送会社"):
        shop.shipping.ship("S-2", "kuroneko-express", YAMATO)
    with pytest.raises(BadInput, match="未来"):
        shop.shipping.ship("S-2", "yamato", YAMATO, shipped_on=date(2027, 1, 1))


def test_notify_without_smtp_is_refused_before_anything_happens(shop: Kanjo) -> None:
    place_order(shop, "S-3", 3_000)
    with pytest.raises(BadInput, match="SMTP"):
        shop.shipping.ship("S-3", "sagawa", SAGAWA, notify=True)
    assert shop.orders.detail("S-3").captured == 0
    result = shop.shipping.ship("S-3", "sagawa", SAGAWA, shipped_on=date(2026, 11, 20))
    assert result.captured and not result.notified
    assert shop.shipping.summary("S-3")["shipment"]["shipped_at"].startswith("2026-11-20T03:00")


def test_statuses_new_preparing_shipped_done(shop: Kanjo) -> None:
    place_order(shop, "S-4", 2_000)
    shop.shipping.set_order_status("S-4", OrderStatus.PREPARING)
    assert shop.orders.detail("S-4").order_status == "発送準備中"
    with pytest.raises(RuleViolation):
        shop.shipping.set_order_status("S-4", OrderStatus.DONE)
    shop.shipping.ship("S-4", "japanpost", "405548424886")
    shop.shipping.set_order_status("S-4", OrderStatus.DONE)
    assert shop.orders.detail("S-4").order_status == OrderStatus.DONE.label


B2_HEADER = "お客様管理番号,送り状種類,クール区分,伝票番号,出荷予定日,お届け予定日\n"


def test_bulk_file_ships_skips_the_shipped_and_refuses_bad_rows(
    shop: Kanjo, mail: RecordingSender, tmp_path: Path
) -> None:
    for number in ("B-1", "B-2", "B-3"):
        place_order(shop, number, 1_000)
    shop.shipping.ship("B-3", "yamato", YAMATO)  # already shipped before the file
    text = (
        B2_HEADER
        + f"B-1,0,0,{YAMATO},2026/11/21,2026/11/22\n"
        + "B-2,0,0,444413758704,2026/11/21,2026/11/22\n"  # wrong check digit
        + f"B-3,0,0,{YAMATO},2026/11/21,2026/11/22\n"
        + f"NOPE,0,0,{YAMATO},2026/11/21,2026/11/22\n"
    )
    path = tmp_path / "b2.csv"
    path.write_bytes(text.encode("cp932"))
    preview = shop.shipping.ship_file(path, dry_run=True)
    assert (preview.shipped, preview.skipped, [p["number"] for p in preview.planned]) == (0, 1, ["B-1"])
    assert shop.orders.detail("B-1").tracking_number is None  # a preview writes nothing
    result = shop.shipping.ship_file(path)
    data = result.to_json()
    assert (data["shipped"], data["captured"], data["notified"], data["skipped"]) == (1, 1, 1, 1)
    assert [r["line"] for r in data["refused"]] == [3, 5]
    assert "最後の桁" in data["refused"][0]["reason"]
    assert shop.orders.detail("B-1").captured == 1_000
    again = shop.shipping.ship_file(path)
    assert (again.shipped, again.skipped) == (0, 2)  # never shipped twice


def test_ehiden_shape_in_utf8_reads_as_sagawa(shop: Kanjo, tmp_path: Path) -> None:
    place_order(shop, "E-1", 1_500)
    path = tmp_path / "ehiden.csv"
    path.write_text("お問合せ送り状No.,お客様管理番号,出荷日\n" + f"{SAGAWA},E-1,20261121\n", encoding="utf-8")
    result = shop.shipping.ship_file(path, notify=False)
    assert result.shipped == 1 and shop.shipping.summary("E-1")["shipment"]["carrier"] == "sagawa"


def test_a_file_without_the_columns_is_one_clear_line(shop: Kanjo, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(BadInput, match="受注番号"):
        shop.shipping.ship_file(path)
