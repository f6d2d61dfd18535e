"""Issue 13 items 2–5, end to end: orders captured and refunded in the built-in sandbox over two
settlement periods, reports fetched over the Reports API (HTTP, signed), a copy kept, deposits
equal to captures − refunds − fees − chargebacks to the yen, and the accountant's exports."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select, update

from core.app import Kanjo
from core.cli import main
from core.clock import FixedClock
from core.db.schema import Customer, Order
from core.errors import UserError
from core.exports.service import ExportService
from core.exports.writers import read_xlsx
from core.sandbox.settlement import fee_for
from core.settlements import reconcile as rc
from core.settlements.service import service_for
from tests.helpers import place_order


def _fees(*captures: int) -> int:
    return sum(-fee_for(amount, 4.0) for amount in captures)


@pytest.fixture
def two_periods(app: Kanjo, clock: FixedClock) -> Kanjo:
    control = app.gateway().control
    assert control is not None
    # Period 1 (starts at midnight, Japan time, of the first money movement).
    for number, total in (("E-1", 10_000), ("E-2", 5_000), ("E-3", 3_333)):
        place_order(app, number, total)
        assert app.payments.capture(number).ok
    assert app.payments.refund("E-1", 2_000, "返品").ok
    control.seller_central("refund", "E-2", 1_000)  # made in Seller Central: Kanjo never hears of it
    clock.advance(timedelta(days=16, hours=1))  # the first period's 16 days pass (R60): it closes by itself
    # Period 2, closed at once by the operator of the sandbox.
    place_order(app, "E-4", 8_000)
    assert app.payments.capture("E-4").ok
    control.seller_central("chargeback", "E-3", 3_333)
    clock.advance(timedelta(hours=2))
    control.close_settlement()
    return app


def test_two_periods_fetched_deposits_to_the_yen(two_periods: Kanjo, clock: FixedClock) -> None:
    app = two_periods
    service = service_for(app)
    fetched = service.fetch()
    assert fetched.reports_seen == 2 and len(fetched.imported) == 2 and fetched.disbursements == 2
    summaries = service.summaries()
    assert len(summaries) == 2
    first, second = summaries
    assert first.end == second.start
    captures, refunds, chargebacks = 10_000 + 5_000 + 3_333 + 8_000, 2_000 + 1_000, 3_333
    # Fees: 4 % of each capture, given back in proportion to each refund.
    fees = _fees(10_000, 5_000, 3_333, 8_000) - 400 * 2_000 // 10_000 - 200 * 1_000 // 5_000
    assert sum(s.fees for s in summaries) == fees == 933
    assert sum(s.captured for s in summaries) == captures
    assert sum(s.refunded for s in summaries) == refunds
    assert sum(s.chargebacks for s in summaries) == chargebacks
    deposits = sum(s.deposit or 0 for s in summaries)
    assert deposits == captures - refunds - fees - chargebacks == 19_067
    assert all(s.disbursement_reference for s in summaries)

    # The problems: a Seller Central refund Kanjo never saw, and a chargeback.
    kinds = {(p.kind, p.order_number, p.amount) for p in service.show(first.id).problems}
    assert kinds == {(rc.SELLER_CENTRAL_REFUND, "E-2", 1_000)}
    kinds = {(p.kind, p.order_number, p.amount) for p in service.show(second.id).problems}
    assert kinds == {(rc.CHARGEBACK, "E-3", 3_333)}

    # Per order: what Amazon charged and what it paid.
    money = service.order_money("E-1")
    assert money.amazon_fee == 400 - 80 and money.net == 9_600 - 1_920
    assert service.order_money("E-3").net == 3_333 - 133 - 3_333

    # Read again: through the API (nothing new) and as a file from Seller Central (same rows).
    again = service.fetch()
    assert again.imported == ()
    copies = service.reports()
    assert len(copies) == 2 and {c["source"] for c in copies} == {"api"}
    kept = service.report_copy(copies[0]["id"])
    assert b"SettlementStartDate" in kept
    assert service.import_bytes(kept, name="same.csv").already_read
    relaid = kept.replace(b"\r\n", b"\n")  # the same report, saved by another program
    result = service.import_bytes(relaid, name="seller-central.csv")
    assert result.rows_read > 0 and result.rows_added == 0
    assert [s.to_json() for s in service.summaries()] == [s.to_json() for s in summaries]

    # Get Report By Id; a document's address lives 30 seconds on the shared clock (R60).
    client = app.gateway().client
    report = client.get_report(str(copies[0]["report_id"]))
    assert report["processingStatus"] == "DONE" and report["reportDocumentId"]
    document = client.get_report_document(str(report["reportDocumentId"]))
    assert client.download(str(document["url"])) == kept
    clock.advance(timedelta(seconds=31))
    with pytest.raises(UserError):
        client.download(str(document["url"]))


def test_cli_lists_shows_and_orders_show_gains_amazon_fee_and_net(
    two_periods: Kanjo, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The CLI opens the store itself; the sandbox is the app fixture's, reached over HTTP.
    app = two_periods
    service_for(app).fetch()
    capsys.readouterr()

    assert main(["--db", store_url, "settlements", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [
        set(item) >= {"id", "start", "end", "deposit", "captured", "refunded", "fees", "rows", "problems"}
        for item in listed
    ] == [True, True]
    assert sum(item["problems"] for item in listed) == 2

    assert main(["--db", store_url, "settlements", "show", listed[1]["id"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["problems"][0].keys() >= {"kind", "order_number", "amount", "message"}
    assert {row["transaction_type"] for row in shown["rows"]} >= {"Capture", "Chargeback", "Transfer"}

    assert main(["--db", store_url, "orders", "show", "E-1", "--json"]) == 0
    order = json.loads(capsys.readouterr().out)
    assert order["amazon_fee"] == 320 and order["net"] == 7_680 and "fees" in order

    assert main(["--db", store_url, "settlements", "show", "nope"]) == 1
    assert "まだ読み込まれていません" in capsys.readouterr().err


def test_exports_round_trip_cp932_utf8_bom_and_xlsx(two_periods: Kanjo, tmp_path: Path) -> None:
    app = two_periods
    service_for(app).fetch()
    with app.sessions.begin() as session:  # a name CP932 cannot hold (𠮷 is outside JIS X 0208)
        customer_id = session.scalar(select(Order.customer_id).where(Order.number == "E-1"))
        session.execute(update(Customer).where(Customer.id == customer_id).values(name="𠮷田 髙子"))
    exports = ExportService(app.sessions, app.clock)
    start, end = date(2026, 11, 1), date(2026, 12, 31)

    sjis = exports.export("orders", start, end, tmp_path / "orders.csv", encoding="cp932")
    assert sjis.rows == 4 and sjis.replaced == 1
    rows = list(csv.reader(io.StringIO((tmp_path / "orders.csv").read_bytes().decode("cp932"))))
    by_number = {row[0]: row for row in rows[1:]}
    assert by_number["E-1"][3] == "〓田 髙子"  # replaced visibly, the rest kept
    assert by_number["E-1"][9:11] == ["320", "7680"]

    bom = exports.export("orders", start, end, tmp_path / "orders-utf8.csv", encoding="utf-8-sig")
    assert bom.replaced == 0
    raw = (tmp_path / "orders-utf8.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {row[0]: row for row in rows[1:]}["E-1"][3] == "𠮷田 髙子"

    payments = exports.export("payments", start, end, tmp_path / "payments.csv", encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO((tmp_path / "payments.csv").read_text(encoding="utf-8-sig"))))
    kinds = [row[2] for row in rows[1:]]
    assert kinds.count("売上") == 4 and kinds.count("返金") == 1 and "Amazon手数料" in kinds
    assert kinds.count("チャージバック") == 1 and payments.rows == len(rows) - 1

    exports.export("settlements", start, end, tmp_path / "settlements.xlsx", fmt="xlsx")
    with zipfile.ZipFile(tmp_path / "settlements.xlsx") as archive:
        assert archive.testzip() is None
    table = read_xlsx(tmp_path / "settlements.xlsx")
    assert table[0][0] == "精算ID" and len(table) == 3
    deposits = [row[8] for row in table[1:]]
    assert all(isinstance(value, int) for value in deposits) and sum(deposits) == 19_067  # type: ignore[arg-type]
    assert isinstance(table[1][2], datetime)  # dates are dates, not text
    exports.export("orders", start, end, tmp_path / "orders.xlsx", fmt="xlsx")
    orders = read_xlsx(tmp_path / "orders.xlsx")
    assert isinstance(orders[1][1], datetime) and isinstance(orders[1][6], int)
    assert any(row[3] == "𠮷田 髙子" for row in orders[1:])  # xlsx holds every character
    # And as Excel's own readers see them: openpyxl, not the module that wrote them.
    book = openpyxl.load_workbook(tmp_path / "settlements.xlsx", read_only=True)
    sheet = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    assert sheet[0][0] == "精算ID" and len(sheet) == 3
    assert all(type(row[8]) is int for row in sheet[1:]) and sum(row[8] for row in sheet[1:]) == 19_067
    assert isinstance(sheet[1][2], datetime)
    book = openpyxl.load_workbook(tmp_path / "orders.xlsx", read_only=True)
    rows_seen = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    assert isinstance(rows_seen[1][1], datetime) and type(rows_seen[1][6]) is int
    assert any(row[3] == "𠮷田 髙子" for row in rows_seen[1:])


def test_rows_for_an_order_imported_later_are_placed_on_the_next_read(app: Kanjo) -> None:
    service = service_for(app)
    report = (
        b'"SellerId","A1"\r\n\r\n'
        b"SettlementId,TransactionType,AmazonTransactionId,SellerOrderId,TransactionAmount,TotalTransactionFee\r\n"
        b"77,Refund,UNKNOWN-R1,L-1,-700,28\r\n"
        b"77,Transfer,,,-672,0\r\n"
    )
    assert service.import_bytes(report, name="early.csv").problems == 1
    assert [p.kind for p in service.show("77").problems] == [rc.UNMATCHED]
    place_order(app, "L-1", 7_000)  # the order arrives after its report
    assert service.import_bytes(report, name="early.csv").already_read
    detail = service.show("77")
    assert [p.kind for p in detail.problems] == [rc.SELLER_CENTRAL_REFUND]
    assert detail.rows[0].matched and service.order_money("L-1").net == -672


def test_the_sandbox_settles_16_days_after_the_account_begins_then_every_14_r60(app: Kanjo, clock: FixedClock) -> None:
    service = service_for(app)
    place_order(app, "P-1", 5_000)
    assert app.payments.capture("P-1").ok
    clock.advance(timedelta(days=15))  # the period began at midnight (Japan) before the capture
    assert service.fetch().reports_seen == 0  # over 14 days have passed, the first period runs 16
    clock.advance(timedelta(days=1))
    assert service.fetch().reports_seen == 1
    clock.advance(timedelta(days=13))
    assert service.fetch().reports_seen == 1
    clock.advance(timedelta(days=1, hours=1))  # then every 14 days
    assert service.fetch().reports_seen == 2
