"""The cancellation desk, returns and resale (issue 15 items 3–4, 6; R44–R49, R61), end to end
over the real sandbox and a real SQLite store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.app import Kanjo
from core.clock import FixedClock
from core.domain import OrderStatus
from core.errors import RuleViolation
from tests.core.shipping.conftest import RecordingSender
from tests.helpers import place_order

YAMATO = "444413758703"


def sandbox_refunds(app: Kanjo, number: str) -> list[str]:
    control = app.gateway().control
    assert control is not None
    return [r["refundAmount"]["amount"] for r in control.snapshot(number)["refunds"]]


def shipped_order(app: Kanjo, clock: FixedClock, number: str, total: int = 6_000, *, cost: int = 2_500) -> None:
    """Ordered three days ago, captured and shipped; items cost ``cost``; shipping cost the shop 800."""
    place_order(app, number, total, ordered_at=clock.now() - timedelta(days=3))
    app.shipping.set_item_cost(number, "テスト商品", cost)
    app.shipping.set_costs(number, shipping_cost=800, payment_fee=240, resale_estimate=1_500)
    app.shipping.ship(number, "yamato", YAMATO)


def test_within_24_hours_the_desk_proposes_accepting_and_cancels_in_one_step(
    shop: Kanjo, mail: RecordingSender, clock: FixedClock
) -> None:
    place_order(shop, "C-1", 3_000, ordered_at=clock.now() - timedelta(hours=5))
    view = shop.shipping.open_request("C-1", channel="phone", note="間違えて注文しました")
    assert view.proposal is not None and view.proposal.accept and view.proposal.rule == "R44"
    assert [o.option.value for o in shop.shipping.options("C-1")] == ["full", "refuse"]  # nothing shipped yet
    assert shop.shipping.needs_action() == ["C-1"]
    with pytest.raises(RuleViolation, match="確認"):
        shop.shipping.resolve("C-1", "full")
    result = shop.shipping.resolve("C-1", "full", confirmed=True)
    assert result.state == "canceled" and result.mail == "sent"
    detail = shop.orders.detail("C-1")
    assert detail.order_status == OrderStatus.CANCELED.label and detail.captured == 0
    assert shop.shipping.needs_action() == []


def test_after_24_hours_one_cushion_then_half_return_received_then_refunded(
    shop: Kanjo, mail: RecordingSender, clock: FixedClock
) -> None:
    shipped_order(shop, clock, "C-2")
    view = shop.shipping.open_request("C-2", channel="mail", note="やっぱりキャンセルしたい")
    assert view.proposal is not None and not view.proposal.accept and view.proposal.rule == "R45"
    options = {o.option.value: (o.refund, o.shop_result) for o in shop.shipping.options("C-2")}
    # By hand: sales 6,000, items 6,000, cost 2,500, shipping 800, fees 240, resale 1,500.
    assert options == {
        "refuse": (0, 6_000 - 240 - 2_500 - 800),  # 2,460
        "half": (3_000, 6_000 - 3_000 - 240 - 2_500 - 800 + 1_500),  # 960
        "full": (6_000, 6_000 - 6_000 - 240 - 2_500 - 800 + 1_500),  # −2,040
    }
    reply = shop.shipping.reply("C-2")  # the one cushion (R45)
    assert "seller=A2KANJOTOKEN" in reply.mail_body and "50%" in reply.mail_body
    result = shop.shipping.resolve("C-2", "half", confirmed=True)
    assert result.state == "awaiting_return" and result.refund == 3_000 and "¥3,000" in mail.bodies()[-1]
    assert shop.shipping.needs_action() == ["C-2"]  # awaiting the item
    with pytest.raises(RuleViolation, match="届くまで"):
        shop.shipping.return_refund("C-2", confirmed=True)
    assert sandbox_refunds(shop, "C-2") == []
    shop.shipping.return_received("C-2")
    done = shop.shipping.return_refund("C-2", confirmed=True)
    assert done.state == "refunded" and sandbox_refunds(shop, "C-2") == ["3000"]
    summary = shop.shipping.summary("C-2")
    assert summary["cancellation"] == {
        "state": "refunded",
        "state_label": "返金済",
        "option": "half",
        "kind": "customer",
        "refund_amount": 3_000,
    }
    # net = sales − refunds − fees − cost + resale = 6,000 − 3,000 − 240 − 2,500 + 0
    assert summary["net_result"] == 260 and summary["resale"] == 0
    assert shop.shipping.resale("C-2", 1_200, "ヤフオク") == 260 + 1_200
    assert shop.shipping.summary("C-2")["resale"] == 1_200


def test_r48_switch_to_full_after_the_half_refund_refunds_the_rest_once(
    shop: Kanjo, mail: RecordingSender, clock: FixedClock
) -> None:
    shipped_order(shop, clock, "C-3")
    shop.shipping.open_request("C-3")
    shop.shipping.resolve("C-3", "half", confirmed=True)
    shop.shipping.return_received("C-3")
    shop.shipping.return_refund("C-3", confirmed=True)
    switched = shop.shipping.switch_to_full("C-3", confirmed=True)
    assert switched.refund == 3_000 and sandbox_refunds(shop, "C-3") == ["3000", "3000"]
    detail = shop.orders.detail("C-3")
    assert detail.refunded + detail.pending_refund == 6_000
    with pytest.raises(RuleViolation, match="すでに全額"):
        shop.shipping.switch_to_full("C-3", confirmed=True)


def test_r48_switch_before_the_item_is_back_changes_the_refund_to_come(
    shop: Kanjo, mail: RecordingSender, clock: FixedClock
) -> None:
    shipped_order(shop, clock, "C-4")
    shop.shipping.open_request("C-4")
    shop.shipping.resolve("C-4", "half", confirmed=True)
    shop.shipping.switch_to_full("C-4", confirmed=True)
    assert sandbox_refunds(shop, "C-4") == []
    shop.shipping.return_received("C-4")
    shop.shipping.return_refund("C-4", confirmed=True)
    assert sandbox_refunds(shop, "C-4") == ["6000"]


def test_refuse_keeps_the_order_and_closes_the_request(shop: Kanjo, mail: RecordingSender, clock: FixedClock) -> None:
    shipped_order(shop, clock, "C-5")
    shop.shipping.open_request("C-5")
    result = shop.shipping.resolve("C-5", "refuse")
    assert result.state == "refused" and result.mail == "sent" and sandbox_refunds(shop, "C-5") == []
    assert shop.shipping.needs_action() == []


def test_without_smtp_the_reply_is_kept_to_send_by_hand(shop: Kanjo, clock: FixedClock) -> None:
    shipped_order(shop, clock, "C-6")
    shop.shipping.open_request("C-6")
    reply = shop.shipping.reply("C-6")
    assert reply.mail == "manual" and shop.orders.detail("C-6").messages[-1].status == "manual"


def test_a_request_dated_before_the_order_or_twice_is_refused(shop: Kanjo, clock: FixedClock) -> None:
    place_order(shop, "C-7", 1_000, ordered_at=clock.now() - timedelta(hours=1))
    from core.errors import BadInput

    with pytest.raises(BadInput):
        shop.shipping.open_request("C-7", at=clock.now() - timedelta(hours=2))
    shop.shipping.open_request("C-7")
    with pytest.raises(RuleViolation, match="対応中"):
        shop.shipping.open_request("C-7")
