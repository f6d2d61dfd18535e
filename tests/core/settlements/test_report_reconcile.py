"""Issue 13 item 1: the settlement flat file (R60) and the pure matching (R57)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import BadInput
from core.settlements import reconcile as rc
from core.settlements.report import SettlementReport, open_text, parse_amount

HEADER = (
    '"SellerId","A1KANJOSELLER"\r\n'
    '"SettlementStartDate","2026-11-07T00:00:00Z"\r\n'
    '"SettlementEndDate","2026-11-21T00:00:00Z"\r\n'
    '"TotalAmount","8436"\r\n'
    "\r\n"
)
# Columns in another order than Kanjo writes them, plus two Kanjo does not know.
COLUMNS = (
    "SettlementId,TransactionType,AmazonTransactionId,AmazonOrderReferenceId,SellerOrderId,"
    "SellerReferenceId,TransactionAmount,TotalTransactionFee,NetTransactionAmount,"
    "TransactionPostedDate,CurrencyCode,StoreName\r\n"
)


def report(*lines: str) -> SettlementReport:
    return SettlementReport(open_text((HEADER + COLUMNS + "".join(line + "\r\n" for line in lines)).encode()))


ORDER_A = rc.OrderRef(1, "A-1001")
ORDER_B = rc.OrderRef(2, "B-2002")
CHARGES = {"S03-1-1-C01": rc.ChargeFact("S03-1-1-C01", ORDER_A, 10_000, datetime(2026, 11, 10, tzinfo=UTC))}
REFUNDS = {"S03-1-1-R000001": rc.RefundFact("S03-1-1-R000001", ORDER_A, 3_000)}
KNOWN = rc.Known(
    charge=CHARGES.get,
    refund=REFUNDS.get,
    order_by_permission={"S03-1-1": ORDER_A, "S03-2-2": ORDER_B}.get,
    order_by_number={"A-1001": ORDER_A, "B-2002": ORDER_B}.get,
)

ROWS = (
    "S1,Capture,S03-1-1-C01,S03-1-1,A-1001,ref-1,10000,-400,9600,2026-11-10T01:00:00Z,JPY,本店",
    "S1,Refund,S03-1-1-R000001,S03-1-1,A-1001,ref-1,-3000,120,-2880,2026-11-12T01:00:00Z,JPY,本店",
    "S1,Debt,,,,,500,0,500,2026-11-13T01:00:00Z,JPY,",
    'S1,A-to-z Guarantee Claim,S03-2-2-C01,S03-2-2,B-2002,,"-1,000",0,-1000,2026-11-14T01:00:00Z,JPY,',
    "S1,Chargeback,S03-2-2-C01,S03-2-2,B-2002,,-2000,0,-2000,2026-11-15T01:00:00Z,JPY,",
    "S1,Adjustment,,S03-2-2,B-2002,,300,0,300,2026-11-16T01:00:00Z,JPY,",
    "S1,Carryover,,,,,-200,0,-200,2026-11-07T00:00:00Z,JPY,",
    "S1,Transfer,,,,,-4300,0,-4300,2026-11-21T00:00:00Z,JPY,",
)


def test_header_block_and_columns_by_name_with_unknown_columns_kept() -> None:
    parsed = report(*ROWS)
    assert parsed.header.seller_id == "A1KANJOSELLER"
    assert parsed.header.start == datetime(2026, 11, 7, tzinfo=UTC)
    assert parsed.header.end == datetime(2026, 11, 21, tzinfo=UTC)
    assert parsed.header.fields["TotalAmount"] == "8436"
    rows = list(parsed.rows())
    assert [r.transaction_type for r in rows] == [
        "Capture",
        "Refund",
        "Debt",
        "A-to-z Guarantee Claim",
        "Chargeback",
        "Adjustment",
        "Carryover",
        "Transfer",
    ]
    capture = rows[0]
    assert (capture.amount, capture.fee, capture.net) == (10_000, -400, 9_600)
    assert capture.order_number == "A-1001" and capture.charge_permission_id == "S03-1-1"
    assert capture.extra == {"CurrencyCode": "JPY", "StoreName": "本店"}
    assert rows[3].amount == -1_000  # "-1,000"


def test_tab_separated_cp932_file_reads_the_same() -> None:
    text = (HEADER + COLUMNS + ROWS[0] + "\r\n").replace(",", "\t").replace('"', "")
    parsed = SettlementReport(open_text(text.encode("cp932")))
    (row,) = parsed.rows()
    assert row.extra["StoreName"] == "本店" and row.net == 9_600


@pytest.mark.parametrize(
    ("text", "expected"), [("1000", 1000), ("-40", -40), ("1,000", 1000), ("¥1,200", 1200), ("-40.00", -40), ("", 0)]
)
def test_amounts_in_whole_yen(text: str, expected: int) -> None:
    assert parse_amount(text, line=1, column="x") == expected


def test_bad_input_is_one_japanese_line() -> None:
    with pytest.raises(BadInput, match="行目"):
        list(report("S1,Capture,X,,,,10.5,0,10,2026-11-10T01:00:00Z,JPY,").rows())
    with pytest.raises(BadInput, match="知らない種別"):
        list(report("S1,Bonus,X,,,,10,0,10,2026-11-10T01:00:00Z,JPY,").rows())
    with pytest.raises(BadInput, match="見出しが見つかりません"):
        SettlementReport(open_text(b"hello,world\nfoo,bar\n"))


def matches() -> list[rc.Match]:
    return [rc.match_row(row, KNOWN) for row in report(*ROWS).rows()]


def test_each_transaction_type_is_matched() -> None:
    capture, refund, debt, claim, chargeback, adjustment, carryover, transfer = matches()
    assert capture.order == ORDER_A and capture.charge_id == "S03-1-1-C01" and capture.problems == ()
    assert refund.order == ORDER_A and refund.refund_id == "S03-1-1-R000001" and refund.problems == ()
    assert debt.order is None and debt.problems == ()
    assert claim.order == ORDER_B and [p.kind for p in claim.problems] == [rc.ATOZ_CLAIM]
    assert claim.problems[0].amount == 1_000
    assert chargeback.order == ORDER_B and chargeback.problems[0].kind == rc.CHARGEBACK
    assert chargeback.problems[0].amount == 2_000 and chargeback.problems[0].order_number == "B-2002"
    assert adjustment.order == ORDER_B and adjustment.problems == ()
    assert carryover.order is None and transfer.order is None


def test_totals_deposit_is_the_transfer_and_balances() -> None:
    totals = rc.Totals()
    for row in report(*ROWS).rows():
        totals.add(row)
    assert totals.captured == 10_000 and totals.refunded == 3_000 and totals.fees == 280
    assert totals.chargebacks == 3_000 and totals.adjustments == 300 and totals.debts == 500
    assert totals.carryover == -200 and totals.deposit == 4_300
    # Everything before the Transfer is what the Transfer moves to the bank.
    assert totals.balance == 10_000 - 3_000 - 280 - 3_000 + 300 + 500 - 200 == 4_320
    assert totals.rows == 8


def test_seller_central_refund_found_only_in_the_report() -> None:
    (row,) = report("S1,Refund,S03-1-1-R000009,S03-1-1,A-1001,,-1500,60,-1440,2026-11-12T01:00:00Z,JPY,").rows()
    match = rc.match_row(row, KNOWN)
    assert match.order == ORDER_A and match.refund_id is None
    (problem,) = match.problems
    assert problem.kind == rc.SELLER_CENTRAL_REFUND and problem.amount == 1_500 and "Seller Central" in problem.message


def test_settled_amount_differs_from_the_capture() -> None:
    (row,) = report("S1,Capture,S03-1-1-C01,S03-1-1,A-1001,,9900,-396,9504,2026-11-10T01:00:00Z,JPY,").rows()
    (problem,) = rc.match_row(row, KNOWN).problems
    assert problem.kind == rc.AMOUNT_DIFFERS and problem.amount == -100


def test_row_for_an_unknown_order_and_an_unknown_capture() -> None:
    unknown, seller_capture = report(
        "S1,Capture,S03-9-9-C01,S03-9-9,Z-9,,500,-20,480,2026-11-10T01:00:00Z,JPY,",
        "S1,Capture,S03-2-2-C02,S03-2-2,B-2002,,700,-28,672,2026-11-10T01:00:00Z,JPY,",
    ).rows()
    assert rc.match_row(unknown, KNOWN).problems[0].kind == rc.UNMATCHED
    assert rc.match_row(seller_capture, KNOWN).problems[0].kind == rc.UNKNOWN_CAPTURE


def test_rows_are_keyed_by_settlement_and_transaction_same_on_every_read() -> None:
    first = [key for key, _ in rc.row_keys(report(*ROWS, ROWS[-1]).rows())]
    second = [key for key, _ in rc.row_keys(report(*ROWS, ROWS[-1]).rows())]
    assert first == second
    assert len(set(first)) == len(first)  # two Transfers without an ID are still two rows
    assert "Capture|S03-1-1-C01" in first and "Transfer|#2" in first


def test_capture_missing_from_a_closed_period() -> None:
    start, end = datetime(2026, 11, 7, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
    late = rc.ChargeFact("S03-3-3-C01", rc.OrderRef(3, "C-3"), 5_000, datetime(2026, 11, 22, tzinfo=UTC))
    charges = [CHARGES["S03-1-1-C01"], late]
    # Before the period ends nothing is missing yet.
    assert rc.missing_captures(charges, set(), [(start, end)], datetime(2026, 11, 20, tzinfo=UTC)) == []
    after = datetime(2026, 11, 21, 1, tzinfo=UTC)
    (problem,) = rc.missing_captures(charges, set(), [(start, end)], after)
    assert problem.kind == rc.MISSING_CAPTURE and problem.order_number == "A-1001" and problem.amount == 10_000
    assert rc.missing_captures(charges, {"S03-1-1-C01"}, [(start, end)], after) == []
