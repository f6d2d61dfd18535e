"""Issue 11 item 8: an order is only ever sent to the Amazon Pay environment it came from.

Real SQLite store and the real built-in sandbox over HTTP. To meet an order of another
environment without Amazon, an order placed on the built-in sandbox is marked 'live' in the
store: the guard is symmetric, so that is the same case as a sandbox order met on a live
connection.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from core.amazonpay.client import AmazonPayClient, new_idempotency_key
from core.app import Kanjo, open_app
from core.clock import FixedClock
from core.db.engine import make_engine, migrate_to
from core.db.locks import lock_order
from core.db.schema import (
    Charge,
    ChargePermission,
    Customer,
    JournalEntry,
    Message,
    Order,
    OrderItem,
    Refund,
)
from core.environment import BUILTIN, LIVE, SANDBOX, connection_environment
from core.errors import RuleViolation
from core.journal import NOT_SENT, mark_done
from core.payment_rules import environment_refusal
from core.queries import load_order
from core.services.operations import Step
from core.settings import AppSettings
from tests.conftest import NOW
from tests.helpers import place_order

LIVE_REFUSAL = "この受注は本番の受注です。現在の接続先は内蔵サンドボックスのため、Amazon Payへは送信しません。"


def mark(app: Kanjo, number: str, environment: str) -> None:
    with app.sessions.begin() as session:
        session.execute(update(Order).where(Order.number == number).values(environment=environment))


def journal_count(app: Kanjo, number: str) -> int:
    with app.sessions() as session:
        return int(session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.order_number == number)) or 0)


def test_the_connection_environment_comes_from_the_settings() -> None:
    assert connection_environment(AppSettings()) == BUILTIN
    assert connection_environment(AppSettings(amazon_environment="live")) == BUILTIN  # no keys: built-in
    keys = {"amazon_public_key_id": "AB12", "amazon_private_key_path": "/k.pem"}
    assert connection_environment(AppSettings(**keys)) == SANDBOX  # type: ignore[arg-type]
    assert connection_environment(AppSettings(amazon_environment="live", **keys)) == LIVE  # type: ignore[arg-type]


def test_the_rule_is_symmetric_and_names_both_environments() -> None:
    assert environment_refusal(BUILTIN, BUILTIN) is None
    assert environment_refusal("", LIVE) is None  # not known: nothing refused here
    refusal = environment_refusal(SANDBOX, LIVE)
    assert refusal is not None and not refusal.allowed
    assert (
        refusal.reason == "この受注はサンドボックスの受注です。現在の接続先は本番のため、Amazon Payへは送信しません。"
    )
    back = environment_refusal(LIVE, SANDBOX)
    assert back is not None and "本番の受注" in back.reason and "接続先はサンドボックス" in back.reason


def test_an_order_placed_on_the_builtin_sandbox_records_it(app: Kanjo) -> None:
    place_order(app, "E-1")
    detail = app.orders.detail("E-1")
    assert (detail.environment, detail.other_environment, detail.environment_note) == (BUILTIN, False, "")


def test_every_money_operation_refuses_an_order_of_another_environment(app: Kanjo) -> None:
    place_order(app, "E-2", 5_000)
    place_order(app, "E-3", 5_000)
    app.payments.capture("E-3")
    mark(app, "E-2", LIVE)
    mark(app, "E-3", LIVE)
    before = (journal_count(app, "E-2"), journal_count(app, "E-3"))
    attempts = [
        lambda: app.payments.capture("E-2"),
        lambda: app.payments.reauthorize("E-2"),
        lambda: app.payments.cancel("E-2", confirmed=True),
        lambda: app.payments.cancel_preview("E-2"),
        lambda: app.payments.change_amount("E-2", total=4_000),
        lambda: app.payments.change_method("E-2", "bank_transfer", confirmed=True),
        lambda: app.payments.change_method_preview("E-2", "bank_transfer"),
        lambda: app.payments.refund("E-3", 1_000),
        lambda: app.payments.refund_preview("E-3", None),
        lambda: app.payments.cancel("E-3", confirmed=True),
    ]
    for attempt in attempts:
        with pytest.raises(RuleViolation) as caught:
            attempt()
        assert caught.value.message == LIVE_REFUSAL
    assert app.payments.amount_preview("E-2", 4_000).refusal == LIVE_REFUSAL
    detail = app.orders.detail("E-2")
    assert detail.other_environment and detail.environment_note == LIVE_REFUSAL
    assert not detail.can_capture and detail.capture_blocked_reason == LIVE_REFUSAL
    assert not detail.can_reauthorize and detail.reauthorize_blocked_reason == LIVE_REFUSAL
    # Nothing was journaled, sent or changed.
    assert (journal_count(app, "E-2"), journal_count(app, "E-3")) == before
    assert (detail.total, detail.payment_status) == (5_000, "承認済")
    charge_id = detail.charges[0].id
    assert app.gateway().client.get_charge(charge_id).status.state == "Authorized"


def test_the_engine_does_not_send_when_the_connection_changed_after_the_check(app: Kanjo) -> None:
    """The one place every money call passes checks the connection actually open."""
    place_order(app, "E-4", 3_000)
    charge_id = app.orders.detail("E-4").charges[0].id
    engine = app.payments._engine
    with app.sessions.begin() as session:
        lock_order(session, "E-4")
        order = load_order(session, "E-4")
        request = AmazonPayClient.capture_request(charge_id, 3_000, idempotency_key=new_idempotency_key())
        ids = engine.begin(session, order, "capture", [Step("capture", request, charge_id=charge_id, amount=3_000)])
    mark(app, "E-4", SANDBOX)  # e.g. settings switched between the check and the send
    result = engine.run_all("E-4", "capture", ids)
    assert result.outcome == NOT_SENT
    assert "サンドボックスの受注" in result.message and "内蔵サンドボックス" in result.message
    assert app.gateway().client.get_charge(charge_id).status.state == "Authorized"


def test_recovery_leaves_an_interrupted_call_of_another_environment_pending_and_unsent(app: Kanjo) -> None:
    place_order(app, "E-5", 3_000)
    charge_id = app.orders.detail("E-5").charges[0].id
    engine = app.payments._engine
    with app.sessions.begin() as session:
        lock_order(session, "E-5")
        order = load_order(session, "E-5")
        request = AmazonPayClient.capture_request(charge_id, 3_000, idempotency_key=new_idempotency_key())
        ids = engine.begin(session, order, "capture", [Step("capture", request, charge_id=charge_id, amount=3_000)])
    mark_done(ids)  # the writer is gone: 結果不明
    mark(app, "E-5", LIVE)
    results = app.payments.recover("E-5")
    assert [r.outcome for r in results] == ["unknown"]
    assert results[0].message == LIVE_REFUSAL
    assert [p.intent_id for p in app.payments.pending("E-5")] == ids  # still to settle, on its own connection
    assert app.gateway().client.get_charge(charge_id).status.state == "Authorized"


def test_sync_skips_orders_of_another_environment_without_marking_them(app: Kanjo) -> None:
    place_order(app, "E-6")
    place_order(app, "E-7")
    mark(app, "E-7", LIVE)
    results = {r.order_number: r for r in app.sync.sync_all()}
    assert results["E-6"].ok and not results["E-6"].skipped
    skipped = results["E-7"]
    assert skipped.ok and skipped.skipped and skipped.message == LIVE_REFUSAL
    assert skipped.to_json()["skipped"] is True
    single = app.sync.sync_order("E-7")
    assert single.skipped and single.payment_status == "承認済"
    detail = app.orders.detail("E-7")
    assert detail.sync_error is None and detail.payment_status == "承認済" and detail.last_synced_at is None
    with app.sessions() as session:
        actions = set(session.scalars(select(JournalEntry.action).where(JournalEntry.order_number == "E-7")))
    assert "sync_failed" not in actions


def test_the_order_list_marks_orders_of_another_environment(app: Kanjo) -> None:
    place_order(app, "E-8")
    place_order(app, "E-9")
    mark(app, "E-9", SANDBOX)
    rows = {r.number: r.to_json() for r in app.orders.list()}
    assert (rows["E-8"]["environment"], rows["E-8"]["other_environment"]) == (BUILTIN, False)
    assert (rows["E-9"]["environment"], rows["E-9"]["other_environment"]) == (SANDBOX, True)


def test_removing_the_sandbox_orders_empties_every_related_table_and_keeps_the_journal(app: Kanjo) -> None:
    place_order(app, "R-1", 4_000)
    place_order(app, "R-2", 6_000)
    place_order(app, "R-3", 2_000)
    app.payments.capture("R-2")
    app.payments.refund("R-2", 1_000)
    mark(app, "R-3", LIVE)
    with app.sessions.begin() as session:  # a message kept with R-1 (R51)
        order_id = session.scalar(select(Order.id).where(Order.number == "R-1"))
        session.add(
            Message(
                order_id=order_id,
                template_id="thanks",
                recipient="a@example.jp",
                subject="件名",
                body="本文",
                status="manual",
                channel="manual",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    journal_before = journal_count(app, "R-1") + journal_count(app, "R-2")
    assert app.orders.sandbox_order_count() == 2
    preview = app.orders.remove_sandbox_orders(dry_run=True)
    assert (preview.numbers, preview.done, preview.to_json()["to_remove"]) == (("R-1", "R-2"), False, 2)
    assert app.orders.count() == 3  # the preview changed nothing
    removed = app.orders.remove_sandbox_orders()
    assert removed.numbers == ("R-1", "R-2") and removed.to_json()["removed"] == 2
    assert removed.to_json()["by_environment"] == {BUILTIN: 2}
    with app.sessions() as session:
        assert list(session.scalars(select(Order.number))) == ["R-3"]
        live_id = session.scalar(select(Order.id).where(Order.number == "R-3"))
        for table in (OrderItem, Charge, Refund, Message):
            assert session.scalar(select(func.count()).select_from(table).where(table.order_id != live_id)) == 0
        assert session.scalar(select(func.count()).select_from(Refund)) == 0
        assert session.scalar(select(func.count()).select_from(ChargePermission)) == 1
        assert session.scalar(select(func.count()).select_from(Customer)) == 1
        search = session.execute(text("SELECT count(*) FROM order_search")).scalar()
        assert search == 1
        entries = session.scalars(select(JournalEntry).where(JournalEntry.order_number.in_(["R-1", "R-2"]))).all()
    assert len(entries) == journal_before + 2  # every entry kept, one order_removed each
    assert [e.action for e in entries].count("order_removed") == 2
    assert app.orders.sandbox_order_count() == 0


def test_an_order_with_money_in_flight_or_in_doubt_is_not_removed(app: Kanjo) -> None:
    place_order(app, "R-4", 3_000)
    place_order(app, "R-5", 3_000)
    charge_id = app.orders.detail("R-4").charges[0].id
    engine = app.payments._engine
    with app.sessions.begin() as session:
        lock_order(session, "R-4")
        order = load_order(session, "R-4")
        request = AmazonPayClient.capture_request(charge_id, 3_000, idempotency_key=new_idempotency_key())
        ids = engine.begin(session, order, "capture", [Step("capture", request, charge_id=charge_id, amount=3_000)])
    try:
        removal = app.orders.remove_sandbox_orders()
    finally:
        mark_done(ids)
    assert removal.numbers == ("R-5",)
    assert [number for number, _reason in removal.kept] == ["R-4"]
    assert "実行中か結果不明" in removal.kept[0][1]
    assert [o.number for o in app.orders.list()] == ["R-4"]


def test_existing_orders_get_their_environment_on_upgrade(tmp_path: Path) -> None:
    """0006: sandbox-placed orders were on the built-in sandbox; others follow the stored keys."""

    def store(name: str, keys: bool) -> str:
        db = tmp_path / name / "kanjo.sqlite3"
        db.parent.mkdir()
        old = make_engine(f"sqlite:///{db}")
        migrate_to(old, "0005")
        with old.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO customers(id, name, email, phone, is_member) VALUES (1, '佐藤 花子', 's@example.jp', '0312345678', 0)"
            )
            for order_id, source, environment in (
                (1, "sandbox", "sandbox"),
                (2, "futureshop", "sandbox"),
                (3, "manual", "live"),
            ):
                connection.exec_driver_sql(
                    "INSERT INTO orders(id, number, kind, ordered_at, customer_id, ship_name, ship_postal_code,"
                    " ship_prefecture, ship_address, ship_phone, shipping_fee, fees, discount, adjustment, total,"
                    " original_total, order_status, shop_memo, payment_method, amazon_changed_placeholder,"
                    " authorized_amount, captured_amount, refunded_amount, created_at, updated_at, source, environment)".replace(
                        " amazon_changed_placeholder,", " amount_changed_externally,"
                    )
                    + f" VALUES ({order_id}, 'U-{order_id}', 'normal', '2026-11-20 00:00:00', 1, '佐藤 花子', '100-0001',"
                    " '東京都', '千代田区1-1', '0312345678', 0, 0, 0, 0, 1200, 1200, 'new', '', 'bank_transfer', 0, 0, 0,"
                    f" 0, '2026-11-20 00:00:00', '2026-11-20 00:00:00', '{source}', '{environment}')"
                )
            if keys:
                connection.exec_driver_sql(
                    "INSERT INTO settings(key, value) VALUES ('amazon_public_key_id', 'AB12'),"
                    " ('amazon_private_key_path', '/nowhere/key.pem')"
                )
        old.dispose()
        return str(db)

    found = {}
    for name, keys in (("plain", False), ("keys", True)):
        db = store(name, keys)
        engine = make_engine(f"sqlite:///{db}")
        try:
            migrate_to(engine, "0009")  # 0006's reading of the settings
            with engine.connect() as connection:
                found[name] = list(connection.execute(text("SELECT environment FROM orders ORDER BY id")).scalars())
        finally:
            engine.dispose()
        app = open_app(f"sqlite:///{db}", clock=FixedClock(NOW), environ={"KANJO_HOME": str(tmp_path / name)})
        try:  # 0010: these orders have no Charge Permission, so they live in no Amazon Pay
            assert [app.orders.detail(f"U-{i}").environment for i in (1, 2, 3)] == ["", "", ""]
        finally:
            app.close()
    assert found["plain"] == [BUILTIN, BUILTIN, LIVE]
    assert found["keys"] == [BUILTIN, SANDBOX, LIVE]


def test_orders_without_a_charge_permission_belong_to_no_environment_and_stay_when_going_live(app: Kanjo) -> None:
    """Outside review: a shop's real orders paid otherwise, its marketplace orders and its 未連携
    Amazon Pay orders, imported before the keys were set, are not the sandbox's: they are never
    greyed as another environment's nor removed by `orders remove-sandbox`; linking one later
    records the connection's environment."""
    from dataclasses import replace as with_changes

    from core.environment import NO_ENVIRONMENT
    from core.order_pages import OrderPages, OrderQuery
    from tests.core.imports.test_service import FILE, checkout, shop_order

    app.imports.apply(
        FILE,
        [
            shop_order("NE-1", 2),  # 銀行振込
            with_changes(shop_order("NE-2", 3), kind="marketplace", payment_method="other"),
            shop_order("NE-3", 4, unlinked=True),  # Amazon Pay, no Charge Permission in the file
        ],
    )
    place_order(app, "SB-1", 3_000)  # the built-in sandbox's
    rows = {row.number: row for row in OrderPages(app.engine).page(OrderQuery(), 0, 10, app.clock.now()).rows}
    assert {n: rows[n].environment for n in ("NE-1", "NE-2", "NE-3")} == dict.fromkeys(
        ("NE-1", "NE-2", "NE-3"), NO_ENVIRONMENT
    )
    assert all(not app.orders.detail(n).other_environment for n in ("NE-1", "NE-2", "NE-3"))
    assert app.orders.sandbox_order_count() == 1
    assert app.orders.remove_sandbox_orders().numbers == ("SB-1",)
    assert app.orders.count() == 3
    placed = checkout(app, "NE-3")
    app.imports.link("NE-3", placed["chargePermissionId"], [placed["chargeId"]])
    assert app.orders.detail("NE-3").environment == BUILTIN
