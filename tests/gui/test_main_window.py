"""The real window over the real core and the in-process sandbox, driven like an operator would."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QProgressDialog, QPushButton
from pytestqt.qtbot import QtBot

from core.amazonpay.errors import R41_CHANGE_METHOD_MESSAGE, R41_PAYMENT_SETTINGS_MESSAGE
from core.amazonpay.signing import generate_key_pair
from core.app import Kanjo
from core.clock import FixedClock
from core.domain import OrderKind, PaymentStatus, Tone
from gui.errors import BUG_MESSAGE
from gui.main_window import MainWindow
from gui.orders.status_badge import badge_size
from gui.orders.table_model import Column
from gui.tasks import TaskRunner
from tests.gui.conftest import MakeWindow, ManualExecutor
from tests.gui.helpers import (
    captures_sent,
    control,
    numbers_shown,
    payment_text,
    sandbox_indicator_shown,
    select,
)
from tests.helpers import place_order

UNREACHABLE = PaymentStatus.UNREACHABLE.value


def test_window_lists_orders_newest_first_with_badges_and_detail(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock
) -> None:
    place_order(app, "W1", 3_000, ordered_at=clock.now() - timedelta(days=2))
    place_order(app, "W2", 4_500, ordered_at=clock.now() - timedelta(days=1), kind=OrderKind.RESERVATION)
    window = make_window()
    assert numbers_shown(window) == ["W2", "W1"]
    model = window.model
    assert model.index(0, Column.PAYMENT_STATUS).data() == "承認済"
    assert model.index(0, Column.KIND).data() == "予約商品"
    assert model.index(0, Column.TOTAL).data() == "4,500円"
    assert model.index(0, Column.AUTH_EXPIRY).data() == "残り29日"  # R9: 30 days from the order
    assert window.count_label.text() == "2件"
    select(window, "W1")
    panel = window.detail
    assert panel.payment_badge.text() == "承認済" and panel.payment_badge.tone() is Tone.SUCCESS
    assert panel.amount_labels["total"].text() == "3,000円"
    assert panel.capture_button.isEnabled()
    assert not panel.reauthorize_button.isEnabled()
    assert "再与信は不要" in panel.reauthorize_button.toolTip()  # the rule's reason, as a tooltip (R40)
    assert panel.timeline.rowCount() >= 2  # the charge and the journal's 受注 entry


def test_capture_runs_and_the_row_and_buttons_follow(app: Kanjo, make_window: MakeWindow) -> None:
    place_order(app, "C1", 7_000)
    window = make_window()
    select(window, "C1")
    window.detail.capture_button.click()
    assert payment_text(window, "C1") == "請求済"  # R10: recorded here, not yet confirmed by a read
    assert "入金処理" in window.banner.text() and window.banner.tone is Tone.SUCCESS
    assert not window.detail.capture_button.isEnabled()
    assert "現在: 請求済" in window.detail.capture_button.toolTip()  # the rule says why (R24)
    assert captures_sent(app) == 1
    window.detail.sync_button.click()
    assert payment_text(window, "C1") == "請求完了"  # confirmed by a status read (R10)


def test_capture_button_waits_for_the_outcome_so_a_double_click_captures_once(
    app: Kanjo, make_window: MakeWindow, manual_runner: tuple[TaskRunner, ManualExecutor], qtbot: QtBot
) -> None:
    place_order(app, "C2", 2_000)
    task_runner, work = manual_runner
    window = make_window(task_runner=task_runner, start=False)
    window.model.set_query(window.model.query)
    select(window, "C2")
    button = window.detail.capture_button
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert not button.isEnabled() and "処理中" in button.toolTip()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # ignored: disabled
    assert window.operations.capture("C2") is False  # and the action itself refuses a second one
    assert len(work.queue) == 1
    work.run_all()
    assert captures_sent(app) == 1
    assert payment_text(window, "C2") == "請求済"
    assert not button.isEnabled()  # now for the rule's reason: nothing left to capture


def test_lapsed_authorization_blocks_capture_with_reason_then_reauthorize(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock
) -> None:
    place_order(app, "E1", 3_000, ordered_at=clock.now() - timedelta(days=31))
    window = make_window()
    assert payment_text(window, "E1") == "承認完了"  # R9 from the clock alone
    select(window, "E1")
    panel = window.detail
    assert not panel.capture_button.isEnabled()
    assert panel.refusals[panel.capture_button] == "与信の有効期限(30日)が切れています。先に再与信してください。"
    assert panel.reauthorize_button.isEnabled()
    panel.reauthorize_button.click()
    assert payment_text(window, "E1") == "承認済"
    assert window.banner.tone is Tone.SUCCESS and "与信を取得しました" in window.banner.text()
    assert panel.capture_button.isEnabled()  # R40 then R24
    panel.capture_button.click()
    assert payment_text(window, "E1") == "請求済"


def test_reauthorize_hard_decline_shows_each_r41_message_until_the_buyer_fixes_it(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock
) -> None:
    place_order(app, "R1", 3_000, ordered_at=clock.now() - timedelta(days=40))
    control(app).decline_next("R1", "hard")
    window = make_window()
    select(window, "R1")
    panel = window.detail
    panel.reauthorize_button.click()
    assert payment_text(window, "R1") == "承認失敗"
    assert window.banner.tone is Tone.FAILURE and R41_CHANGE_METHOD_MESSAGE in window.banner.text()
    assert panel.reauth_notice.isVisible()
    assert R41_CHANGE_METHOD_MESSAGE in panel.reauth_notice.body.text()
    assert "payments.amazon.co.jp/jr/your-account/orders" in panel.reauth_notice.body.text()  # R43
    assert panel.reauthorize_button.isEnabled()  # R42: press again after the buyer fixed it
    panel.reauthorize_button.click()  # the permission is NonChargeable until the buyer acts
    assert R41_PAYMENT_SETTINGS_MESSAGE in panel.reauth_notice.body.text()
    control(app).fix_payment("R1")
    panel.reauthorize_button.click()
    assert payment_text(window, "R1") == "承認済"
    assert not panel.reauth_notice.isVisible()


def test_reauthorize_soft_decline_shows_the_payment_settings_message(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock
) -> None:
    place_order(app, "R2", 3_000, ordered_at=clock.now() - timedelta(days=40), kind=OrderKind.SUBSCRIPTION)
    control(app).decline_next("R2", "soft")
    window = make_window()
    select(window, "R2")
    window.detail.reauthorize_button.click()
    assert R41_PAYMENT_SETTINGS_MESSAGE in window.detail.reauth_notice.body.text()
    assert "pay.amazon.com/jp/jr/your-account/ba" in window.detail.reauth_notice.body.text()  # R43 subscriptions
    assert payment_text(window, "R2") == "承認失敗"


def test_sync_failure_shows_the_last_r10_label_and_a_later_sync_clears_it(app: Kanjo, make_window: MakeWindow) -> None:
    place_order(app, "S1", 2_000)
    window = make_window()
    select(window, "S1")
    control(app).add_fault("503", count=20)
    window.detail.sync_button.click()
    assert payment_text(window, "S1") == UNREACHABLE
    assert window.detail.payment_badge.text() == UNREACHABLE
    assert window.detail.sync_notice.isVisible()
    assert window.banner.tone is Tone.FAILURE and "同期" in window.banner.text()
    control(app).clear_faults()
    window.detail.sync_button.click()
    assert payment_text(window, "S1") == "承認済"
    assert not window.detail.sync_notice.isVisible()


def test_unexpected_error_shows_japanese_not_a_traceback(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    place_order(app, "B1", 2_000)
    window = make_window()
    select(window, "B1")

    def broken(number: str) -> None:
        raise RuntimeError("internal detail")

    monkeypatch.setattr(app.payments, "capture", broken)
    window.detail.capture_button.click()
    assert "予期しないエラー" in window.banner.text() and "Traceback" not in window.banner.text()
    assert window.last_error_box.text() == BUG_MESSAGE
    assert "RuntimeError" in window.last_error_box.detailedText()  # for support, behind 詳細
    assert window.detail.capture_button.isEnabled()  # nothing happened: it can be tried again


def test_capture_on_a_real_worker_thread(app: Kanjo, make_window: MakeWindow, qtbot: QtBot) -> None:
    place_order(app, "T1", 2_500)
    threaded = TaskRunner()
    try:
        window = make_window(task_runner=threaded, start=False)
        with qtbot.waitSignal(window.model.query_applied, timeout=10_000):
            window.model.set_query(window.model.query)
        with qtbot.waitSignal(threaded.finished, timeout=10_000):
            window.select_number("T1")
        assert window.detail.number_shown == "T1"
        with qtbot.waitSignal(window.operations.finished, timeout=10_000) as blocker:
            window.detail.capture_button.click()
            assert not window.detail.capture_button.isEnabled()  # the GUI thread did not wait
        assert blocker.args[0].ok
        qtbot.waitUntil(lambda: payment_text(window, "T1") == "請求済", timeout=10_000)
    finally:
        threaded.shutdown()


# --- filters, search, selection ---------------------------------------------------------------


def test_filter_by_status_kind_needs_action_and_search(app: Kanjo, make_window: MakeWindow, clock: FixedClock) -> None:
    place_order(app, "F1", 1_000, ordered_at=clock.now() - timedelta(days=1))
    place_order(app, "F2", 2_000, ordered_at=clock.now() - timedelta(days=31))  # lapsed: 承認完了 (R9)
    place_order(app, "F3", 3_000, ordered_at=clock.now() - timedelta(days=27), kind=OrderKind.SUBSCRIPTION)
    app.payments.capture("F1")
    window = make_window()
    bar = window.filter_bar
    bar.payment.set_selected({PaymentStatus.AUTHORIZED})
    assert numbers_shown(window) == ["F3"]
    bar.payment.set_selected({PaymentStatus.AUTH_LAPSED, PaymentStatus.CAPTURE_RECORDED})
    assert sorted(numbers_shown(window)) == ["F1", "F2"]
    assert bar.payment.text() == "与信ステータス(2)"
    bar.payment.set_selected(set())
    bar.kind.setCurrentIndex(bar.kind.findData(OrderKind.SUBSCRIPTION))
    assert numbers_shown(window) == ["F3"]
    bar.kind.setCurrentIndex(0)
    bar.needs_action.setChecked(True)  # F2 lapsed; F3 lapses within 7 days
    assert sorted(numbers_shown(window)) == ["F2", "F3"]
    bar.action_days.setValue(2)
    assert numbers_shown(window) == ["F2"]
    bar.clear()
    assert len(numbers_shown(window)) == 3
    name = app.orders.detail("F2").customer_name
    family = name.split()[0]
    bar.search.setText(family)
    bar.apply_now()
    assert "F2" in numbers_shown(window)
    assert all(family in window.model.index(r, Column.CUSTOMER).data() for r in range(window.model.rowCount()))
    bar.search.setText(name.replace(" ", ""))  # written without the space
    bar.apply_now()
    assert "F2" in numbers_shown(window)
    email = app.orders.detail("F3").customer_email
    bar.search.setText(email.upper()[:8])
    bar.apply_now()
    assert "F3" in numbers_shown(window)
    bar.search.setText("F3")
    bar.apply_now()
    assert numbers_shown(window) == ["F3"]
    assert window.count_label.text() == "1件"


def test_search_waits_for_a_pause_in_typing(app: Kanjo, make_window: MakeWindow, qtbot: QtBot) -> None:
    place_order(app, "P1", 1_000)
    place_order(app, "P2", 1_000)
    window = make_window()
    qtbot.keyClicks(window.filter_bar.search, "P2")
    assert len(numbers_shown(window)) == 2  # not yet
    qtbot.waitUntil(lambda: numbers_shown(window) == ["P2"], timeout=3_000)


def test_date_range_filter_follows_the_japan_calendar_from_the_app_clock(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock
) -> None:
    from datetime import UTC, datetime

    from PySide6.QtCore import QDate

    jst = timedelta(hours=9)
    place_order(app, "D1", ordered_at=datetime(2026, 11, 20, 23, 30, tzinfo=UTC) - jst)  # 11/20 23:30 in Tokyo
    place_order(app, "D2", ordered_at=datetime(2026, 11, 21, 0, 30, tzinfo=UTC) - jst)  # 11/21 00:30 (UTC: 11/20)
    place_order(app, "D3", ordered_at=datetime(2026, 11, 19, 10, 0, tzinfo=UTC) - jst)
    window = make_window()
    bar = window.filter_bar
    assert bar.date_to.date() == QDate(2026, 11, 21)  # the app clock's day in Tokyo, not the machine's
    assert bar.date_from.date() == QDate(2026, 10, 21)
    assert not bar.date_from.isEnabled()
    bar.use_dates.setChecked(True)
    assert numbers_shown(window) == ["D2", "D1", "D3"]
    bar.date_from.setDate(QDate(2026, 11, 21))
    assert numbers_shown(window) == ["D2"]  # a Tokyo day, although D2's UTC date is 11/20
    bar.date_from.setDate(QDate(2026, 11, 20))
    bar.date_to.setDate(QDate(2026, 11, 20))
    assert numbers_shown(window) == ["D1"]
    bar.date_from.setDate(QDate(2026, 11, 22))  # a start after the end moves the end with it
    assert bar.date_to.date() == QDate(2026, 11, 22) and numbers_shown(window) == []
    bar.use_dates.setChecked(False)
    assert len(numbers_shown(window)) == 3


def test_filter_keeps_the_chosen_order_selected(app: Kanjo, make_window: MakeWindow) -> None:
    place_order(app, "K1", 1_000)
    place_order(app, "K2", 1_000)
    window = make_window()
    select(window, "K1")
    window.filter_bar.search.setText("K1")
    window.filter_bar.apply_now()
    assert window.detail.number_shown == "K1"
    assert window.table.currentIndex().row() == 0


# --- bulk actions ------------------------------------------------------------------------------


def select_all(window: MainWindow) -> None:
    window.table.selectAll()
    assert window.selected_row_count() == window.model.rowCount()


def test_bulk_capture_with_one_failing_order(app: Kanjo, make_window: MakeWindow, clock: FixedClock) -> None:
    for i in range(4):
        place_order(app, f"G{i}", 1_000 + i, ordered_at=clock.now() - timedelta(hours=i))
    control(app).decline_next("G2", "soft", "capture")
    window = make_window()
    select_all(window)
    assert window.bulk_capture_action.text() == "一括入金処理(4件)"
    asked: list[str] = []
    window.confirm = lambda text: asked.append(text) or True
    window.bulk_capture_action.trigger()
    assert "4件" in asked[0]
    outcome = window.last_bulk
    assert len(outcome.succeeded) == 3 and [o.number for o in outcome.failed] == ["G2"]
    assert "成功 3件、失敗 1件" in window.banner.text() and "G2" in window.banner.text()
    assert window.banner.tone is Tone.ATTENTION
    assert payment_text(window, "G2") == "請求却下"  # R10: capture declined
    assert {payment_text(window, n) for n in ("G0", "G1", "G3")} == {"請求済"}
    assert captures_sent(app) == 4


def test_bulk_capture_reports_refusals_without_sending(app: Kanjo, make_window: MakeWindow, clock: FixedClock) -> None:
    place_order(app, "H1", 1_000)
    place_order(app, "H2", 1_000, ordered_at=clock.now() - timedelta(days=35))  # lapsed: R9 refuses
    window = make_window()
    select_all(window)
    window.bulk("capture")
    failed = window.last_bulk.failed
    assert [o.number for o in failed] == ["H2"] and "再与信" in failed[0].message
    assert captures_sent(app) == 1


def test_bulk_progress_dialog_cancels_before_the_next_order(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock
) -> None:
    for i in range(4):
        place_order(app, f"X{i}", 1_000, ordered_at=clock.now() - timedelta(hours=i))
    window = make_window()
    select_all(window)

    def press_cancel(done: int, _total: int) -> None:
        dialog = window.findChild(QProgressDialog, "bulkProgress")
        if done == 1 and dialog is not None and dialog.isVisible():
            dialog.findChild(QPushButton).click()  # the operator presses 中止

    stopping: list[str] = []
    window.operations.bulk_progress.connect(press_cancel)
    window.operations.bulk_progress.connect(lambda *_: stopping.append(window.job_label.text()))
    window.bulk("capture")
    outcome = window.last_bulk
    assert outcome.cancelled and len(outcome.outcomes) == 1
    assert "中止により未処理 3件" in window.banner.text()
    assert captures_sent(app) == 1
    assert any("中止しています" in text for text in stopping)  # the dialog hid; the status bar says it
    assert window.job_label.text() == "" and not window.job_progress.isVisibleTo(window)


def selected_numbers(window: MainWindow) -> set[str]:
    rows = {i.row() for i in window.table.selectionModel().selectedRows()}
    return {window.model.number_at(row) or "" for row in rows}


def test_a_refresh_that_moves_rows_keeps_the_selection_on_the_same_orders(app: Kanjo, make_window: MakeWindow) -> None:
    from PySide6.QtCore import QItemSelection, QItemSelectionModel

    for i, total in enumerate([1_000, 2_000, 3_000, 4_000]):
        place_order(app, f"S{i}", total)
    window = make_window()
    window.table.sortByColumn(Column.TOTAL, Qt.SortOrder.DescendingOrder)
    assert numbers_shown(window) == ["S3", "S2", "S1", "S0"]
    model = window.model
    window.table.selectionModel().select(
        QItemSelection(model.index(0, 0), model.index(1, model.columnCount() - 1)),
        QItemSelectionModel.SelectionFlag.ClearAndSelect,
    )
    assert selected_numbers(window) == {"S3", "S2"}
    app.payments.change_amount("S3", total=500)  # elsewhere (another window, a sync): S3 moves down
    window.model.refresh()
    assert numbers_shown(window) == ["S2", "S1", "S0", "S3"]
    assert selected_numbers(window) == {"S3", "S2"}  # not the rows 0 and 1 of before
    assert window.bulk_capture_action.text() == "一括入金処理(2件)"
    window.bulk("capture")
    assert sorted(o.number for o in window.last_bulk.outcomes) == ["S2", "S3"]
    assert captures_sent(app) == 2


def test_the_bulk_action_count_follows_a_new_filter(app: Kanjo, make_window: MakeWindow) -> None:
    for i in range(3):
        place_order(app, f"N{i}", 1_000)
    window = make_window()
    select_all(window)
    assert window.bulk_capture_action.text() == "一括入金処理(3件)"
    window.filter_bar.search.setText("該当なし")
    window.filter_bar.apply_now()
    assert window.model.rowCount() == 0
    assert window.bulk_capture_action.text() == "一括入金処理" and not window.bulk_capture_action.isEnabled()


def test_bulk_reauthorize_selected_rows(app: Kanjo, make_window: MakeWindow, clock: FixedClock) -> None:
    place_order(app, "Y1", 1_000, ordered_at=clock.now() - timedelta(days=33))
    place_order(app, "Y2", 1_000, ordered_at=clock.now() - timedelta(days=34))
    control(app).decline_next("Y2", "hard")
    window = make_window()
    select_all(window)
    window.bulk_reauthorize_action.trigger()
    assert payment_text(window, "Y1") == "承認済"
    assert payment_text(window, "Y2") == "承認失敗"
    assert R41_CHANGE_METHOD_MESSAGE in window.banner.text()


def test_bulk_needs_a_selection(app: Kanjo, make_window: MakeWindow) -> None:
    place_order(app, "Z1", 1_000)
    window = make_window()
    window.table.clearSelection()
    assert not window.bulk_capture_action.isEnabled()
    window.bulk("capture")
    assert "選択してください" in window.banner.text()


# --- sync, first start, settings, persistence ----------------------------------------------------


def test_sync_all_and_the_periodic_background_sync(app: Kanjo, make_window: MakeWindow) -> None:
    place_order(app, "Q1", 1_000)
    place_order(app, "Q2", 1_000)
    app.payments.capture("Q1")
    window = make_window()
    assert payment_text(window, "Q1") == "請求済"
    assert window.sync_timer.isActive() and window.sync_timer.interval() == 10 * 60_000  # default 10 minutes
    window.sync_timer.timeout.emit()  # the timer fires
    assert payment_text(window, "Q1") == "請求完了"
    assert window.sync_label.text().startswith("最終同期:")
    control(app).add_fault("503", count=50)
    window.sync_all_action.trigger()
    assert payment_text(window, "Q2") == UNREACHABLE
    assert "状態を取得できませんでした" in window.banner.text()


def test_background_sync_yields_to_the_operator(
    app: Kanjo, make_window: MakeWindow, manual_runner: tuple[TaskRunner, ManualExecutor]
) -> None:
    place_order(app, "V1", 1_000)
    task_runner, work = manual_runner
    window = make_window(task_runner=task_runner, start=False)
    window.model.set_query(window.model.query)
    token = window.sync_all(background=True)
    assert token is not None and not token.cancelled()
    select(window, "V1")
    window.detail.capture_button.click()
    assert token.cancelled()  # the sync stops after the order it is reading; the capture goes next
    work.run_all()
    assert payment_text(window, "V1") == "請求済"


def test_cancelling_sync_all_says_it_is_stopping_and_keeps_the_last_full_sync_time(
    app: Kanjo, make_window: MakeWindow, manual_runner: tuple[TaskRunner, ManualExecutor]
) -> None:
    for i in range(3):
        place_order(app, f"Z{i}", 1_000)
    task_runner, work = manual_runner
    window = make_window(task_runner=task_runner, start=False)
    window.model.set_query(window.model.query)
    assert window.sync_all() is not None
    assert window.job_cancel.isVisibleTo(window)
    window.job_cancel.click()
    assert "中止しています" in window.job_label.text() and not window.job_cancel.isEnabled()
    work.run_all()
    assert window.job_label.text() == "" and not window.job_cancel.isVisibleTo(window)
    assert "中止" in window.sync_label.text() and window.last_sync_at == ""  # no full sync happened
    assert window.job_cancel.isEnabled()  # ready for the next one


def test_first_start_seeds_every_badge_in_the_background_with_a_sandbox_indicator(
    app: Kanjo, make_window: MakeWindow
) -> None:
    window = make_window(demo_orders=13)
    assert sandbox_indicator_shown(window) and window.sandbox_badge.text() == "サンドボックス"
    assert "[サンドボックス]" in window.windowTitle()
    assert app.settings.load().demo_seeded
    assert window.model.rowCount() == 13
    labels = {window.model.index(r, Column.PAYMENT_STATUS).data() for r in range(13)}
    assert labels == {status.value for status in PaymentStatus}  # every R10 badge
    assert "デモ注文を13件" in window.banner.text()
    again = make_window(demo_orders=13)  # a second start seeds nothing more
    assert again.model.rowCount() == 13


def test_settings_dialog_saves_and_applies(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dataclasses import replace

    from gui.settings_dialog import SettingsDialog

    window = make_window(start=False)
    monkeypatch.setattr(
        SettingsDialog,
        "ask",
        classmethod(
            lambda cls, settings, parent=None, reload=None: replace(
                settings, shop_name="山田商店", shop_domain="shop.example.jp", auto_sync=False, sync_interval_minutes=5
            )
        ),
    )
    window.open_settings()
    saved = app.settings.load()
    assert (saved.shop_name, saved.shop_domain, saved.auto_sync, saved.sync_interval_minutes) == (
        "山田商店",
        "shop.example.jp",
        False,
        5,
    )
    assert window.sync_timer.interval() == 5 * 60_000
    assert "山田商店" in window.windowTitle() and "設定を保存しました" in window.banner.text()
    key = tmp_path / "key.pem"
    key.write_bytes(generate_key_pair()[0])
    answer_settings(monkeypatch, **LIVE, amazon_private_key_path=str(key))
    window.open_settings()
    assert not sandbox_indicator_shown(window)
    assert app.settings.load().amazon_private_key_path == str(key)  # the path, never the key
    assert "本番環境に切り替えました" in window.banner.text()  # no restart needed
    gateway = app.gateway()
    assert not gateway.is_sandbox
    assert (gateway.client.public_key_id, gateway.client.environment) == ("LIVE-KEY", "live")


LIVE = {"amazon_public_key_id": "LIVE-KEY", "amazon_environment": "live", "amazon_merchant_id": "M1"}
NO_CREDENTIALS = {"amazon_public_key_id": "", "amazon_private_key_path": "", "amazon_environment": "sandbox"}


def answer_settings(monkeypatch: pytest.MonkeyPatch, **changes: object) -> None:
    """The settings dialog answers with the current settings changed by ``changes``."""
    from dataclasses import replace

    from gui.settings_dialog import SettingsDialog

    monkeypatch.setattr(
        SettingsDialog, "ask", classmethod(lambda cls, settings, parent=None, reload=None: replace(settings, **changes))
    )


def test_new_credentials_wait_for_the_capture_in_flight_then_apply_without_restart(
    app: Kanjo,
    make_window: MakeWindow,
    manual_runner: tuple[TaskRunner, ManualExecutor],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    place_order(app, "K1", 5_000)
    task_runner, work = manual_runner
    window = make_window(task_runner=task_runner, start=False)
    window.model.set_query(window.model.query)
    sandbox = app.gateway()
    select(window, "K1")
    window.detail.capture_button.click()  # queued on the work lane, not yet sent
    key = tmp_path / "live.pem"
    key.write_bytes(generate_key_pair()[0])
    answer_settings(monkeypatch, **LIVE, amazon_private_key_path=str(key))
    window.open_settings()
    assert "実行中の処理が終わりしだい" in window.banner.text()
    assert app.gateway() is sandbox  # nothing switched under the queued capture
    work.run_all()
    assert payment_text(window, "K1") == "請求済"  # the capture ran on the connection it was asked on
    live = app.gateway()
    assert live is not sandbox and not live.is_sandbox
    assert "本番環境に切り替えました" in window.banner.text()

    answer_settings(monkeypatch, **NO_CREDENTIALS)  # and back to the built-in sandbox
    window.open_settings()
    work.run_all()
    back = app.gateway()
    assert back.is_sandbox and back is not sandbox
    assert "内蔵のサンドボックスに切り替えました" in window.banner.text()
    assert sandbox_indicator_shown(window)
    assert captures_sent(app) == 1  # the sandbox's own record: sent once, before the switch


def test_unusable_new_credentials_are_reported_and_the_next_call_tries_again(
    app: Kanjo, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    window = make_window(start=False)
    key = tmp_path / "broken.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    answer_settings(monkeypatch, **LIVE, amazon_private_key_path=str(key))
    window.open_settings()
    assert window.banner.tone is Tone.FAILURE
    assert "接続できません" in window.banner.text() and "秘密鍵ファイルの形式が違います" in window.banner.text()
    key.write_bytes(generate_key_pair()[0])  # the operator fixes the file
    assert not app.gateway().is_sandbox


def test_settings_dialog_validates_in_japanese(qtbot: QtBot, tmp_path: Path) -> None:
    from core.settings import AppSettings
    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.public_key_id.setText("KEY")
    dialog.private_key_path.setText(str(tmp_path / "missing.pem"))
    dialog.buttons.accepted.emit()
    assert dialog.error.isVisibleTo(dialog) and "秘密鍵ファイルが見つかりません" in dialog.error.text()
    assert dialog.result_settings is None
    not_a_key = tmp_path / "public.pem"
    not_a_key.write_bytes(generate_key_pair()[1])  # the public half, a common mix-up
    dialog.private_key_path.setText(str(not_a_key))
    dialog.buttons.accepted.emit()
    assert "秘密鍵ファイルの形式が違います" in dialog.error.text() and dialog.result_settings is None
    dialog.private_key_path.clear()
    dialog.public_key_id.clear()
    dialog.environment.setCurrentIndex(1)  # 本番 with a merchant id but no keys
    dialog.merchant_id.setText("M1")
    dialog.buttons.accepted.emit()
    assert "公開鍵IDと秘密鍵ファイル" in dialog.error.text() and dialog.result_settings is None
    dialog.environment.setCurrentIndex(0)
    dialog.merchant_id.clear()
    dialog.sync_interval.setValue(15)
    for broken in ("shop　example.jp", "shop.example.jp?x=1#y", "@@@", "shop.example.jp/my"):
        dialog.shop_domain.setText(broken)  # each would end up in a link sent to a customer (R43)
        dialog.buttons.accepted.emit()
        assert "ドメイン" in dialog.error.text() and dialog.result_settings is None, broken
    dialog.shop_domain.setText("https://ｓｈｏｐ．ｅｘａｍｐｌｅ．ｊｐ/")
    dialog.buttons.accepted.emit()
    assert dialog.result_settings is not None
    assert dialog.result_settings.sync_interval_minutes == 15
    assert dialog.result_settings.shop_domain == "shop.example.jp"


def test_geometry_splitter_and_columns_are_remembered(app: Kanjo, make_window: MakeWindow, tmp_path: Path) -> None:
    settings_dir = tmp_path / "remembered"
    first = make_window(start=False, settings_dir=settings_dir)
    first.resize(760, 560)  # the offscreen screen is 800 x 800
    first.splitter.setSizes([400, 360])
    first.table.horizontalHeader().resizeSection(Column.CUSTOMER, 222)
    sizes = first.splitter.sizes()
    first.close()
    second = make_window(start=False, settings_dir=settings_dir)
    assert (second.size().width(), second.size().height()) == (760, 560)
    assert second.splitter.sizes() == sizes
    assert second.table.horizontalHeader().sectionSize(Column.CUSTOMER) == 222


def test_with_automatic_sync_off_a_capture_is_recorded_for_seller_central_r11(
    app: Kanjo, make_window: MakeWindow
) -> None:
    app.settings.save(auto_sync=False)
    place_order(app, "L1", 2_000)
    window = make_window()
    select(window, "L1")
    window.detail.capture_button.click()
    assert captures_sent(app) == 0  # R11: nothing is sent
    assert "Seller Central" in window.banner.text()
    if hasattr(app.orders.detail("L1"), "seller_central_tasks"):
        assert "Seller Centralで実施が必要" in window.detail.other_notice.body.text()


def test_status_choices_toggle_with_one_click_on_the_line(app: Kanjo, make_window: MakeWindow, qtbot: QtBot) -> None:
    place_order(app, "M1", 1_000)
    window = make_window()
    choices = window.filter_bar.payment.list
    choices.show()
    item = choices.item(list(PaymentStatus).index(PaymentStatus.CAPTURE_RECORDED))
    rect = choices.visualItemRect(item)
    qtbot.mouseClick(choices.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.filter_bar.payment.selected() == {PaymentStatus.CAPTURE_RECORDED}
    assert numbers_shown(window) == []  # M1 is 承認済
    qtbot.mouseClick(choices.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.filter_bar.payment.selected() == set()
    assert numbers_shown(window) == ["M1"]


def test_every_list_column_shows_in_full_at_first_start(app: Kanjo, make_window: MakeWindow) -> None:
    window = make_window(start=False)
    window.first_start_layout(QRect(0, 0, 1920, 1080))  # a common screen (the offscreen test screen is 800 wide)
    header = window.table.horizontalHeader()
    columns = sum(header.sectionSize(c) for c in range(header.count()))
    assert window.splitter.sizes()[0] >= columns  # 与信期限 is not pushed off to the right
    assert window.splitter.sizes()[1] >= 440  # and the detail panel keeps its room
    assert header.sectionSize(Column.PAYMENT_STATUS) >= max(  # the common badges (issue 16 item 2)
        badge_size(status.value, window.table.font()).width()
        for status in PaymentStatus
        if status is not PaymentStatus.UNREACHABLE
    )
    assert header.sectionSize(Column.TOTAL) >= window.table.fontMetrics().horizontalAdvance("10,000,000円")
