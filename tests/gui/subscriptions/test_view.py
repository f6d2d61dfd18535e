"""The 定期購入 view in the real window over a real SQLite file and the real sandbox (issue 12 item 6)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.app import Kanjo
from core.clock import FixedClock
from core.domain import OrderKind
from gui.subscriptions.view import SubscriptionsView
from gui.tasks import TaskRunner
from tests.gui.conftest import MakeWindow
from tests.helpers import place_order

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.fixture(autouse=True)
def _no_demo(app: Kanjo) -> None:
    app.settings.save(demo_seeded=True)


def _contracts(app: Kanjo, count: int) -> None:
    for index in range(count):
        number = f"T{index + 1:02d}"
        place_order(app, number, 3_000 + 500 * index, kind=OrderKind.SUBSCRIPTION)
        app.subscriptions.create(number, "1m", rounds_total=6 if index == 1 else None)


def test_todays_generation_with_one_declined_contract_finds_it_in_the_held_queue(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock, qtbot: QtBot
) -> None:
    _contracts(app, 3)
    control = app.gateway().control
    assert control is not None
    control.decline_next("T02", "hard")
    clock.advance(timedelta(days=30))  # 12/21: every contract's second round is due
    window = make_window()
    window.subscriptions_action.trigger()
    view = window.subscriptions_view
    assert isinstance(view, SubscriptionsView)
    assert view.contracts.rowCount() == 3
    assert view.contracts.item(0, 4).text() == "2026-12-21"
    view.generate_button.click()  # the immediate runner: done when click returns
    assert view.last_report is not None
    assert view.last_report.generated == 3 and view.last_report.authorized == 2
    assert view.held.rowCount() == 1
    assert view.held.item(0, 0).text() == "T02-2"
    assert "決済方法を変更" in view.held.item(0, 3).text()  # R41
    view.held.selectRow(0)
    assert view.retry_button.isEnabled()
    assert "https://pay.amazon.com/jp/jr/your-account/ba/S03-" in view.guidance.text()  # R59
    assert "保留 1件" in view.status.text()
    # The held generation is in the main list under 保留 (order status)
    assert window.model.rowCount() >= 6
    view.resize(1180, 640)  # the picture in docs/: the held generation selected, its guidance shown
    DOCS.mkdir(exist_ok=True)
    assert view.grab().save(str(DOCS / "subscriptions.png"))
    # After the buyer fixed their payment (R42), a retry from the queue authorizes it.
    control.fix_payment("T02")
    view.retry_button.click()
    assert view.held.rowCount() == 0
    assert "成功 1件" in view.status.text()
    # 休止, 再開 and 申込取消 (the confirmation names what cannot be undone, R15)
    view.contracts.selectRow(0)
    view.pause_button.click()
    assert view.contracts.item(0, 2).text() == "休止"
    view.contracts.selectRow(0)
    view.resume_button.click()
    assert view.contracts.item(0, 2).text() == "継続"
    asked: list[str] = []
    view.confirm = lambda text: asked.append(text) or False
    view.contracts.selectRow(0)
    view.cancel_button.click()
    assert asked and "元に戻せ" in asked[0] and view.contracts.item(0, 2).text() == "継続"
    view.confirm = lambda text: True
    view.cancel_button.click()
    assert view.contracts.item(0, 2).text() == "申込取消"


def test_generation_runs_off_the_gui_thread_with_progress_and_cancel(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock, qtbot: QtBot
) -> None:
    _contracts(app, 4)
    clock.advance(timedelta(days=30))
    window = make_window()
    real = TaskRunner()
    view = SubscriptionsView(app.subscriptions, real, parent=window)
    qtbot.addWidget(view)
    seen: list[int] = []
    main = threading.get_ident()
    threads: list[int] = []
    service = app.subscriptions
    original = service.generate

    def generate(*args: object, **kwargs: object) -> object:
        threads.append(threading.get_ident())
        return original(*args, **kwargs)  # type: ignore[arg-type]

    service.generate = generate  # type: ignore[method-assign]
    view._on_progress = lambda step: seen.append(step.done)  # type: ignore[method-assign]
    try:
        view.generate_today()
        assert view.progress is not None and not view.generate_button.isEnabled()
        qtbot.waitUntil(lambda: view.last_report is not None, timeout=30_000)
    finally:
        real.shutdown()
    assert threads and threads[0] != main
    assert seen == [1, 2, 3, 4]  # progress reached the GUI thread, one step per contract
    assert view.last_report is not None and view.last_report.authorized == 4
    assert view.generate_button.isEnabled()


def test_the_edit_dialog_changes_amount_shipping_and_next_date_and_keeps_a_refusal_in_view(
    app: Kanjo, make_window: MakeWindow, clock: FixedClock, qtbot: QtBot
) -> None:
    """Issue 12 item 1: a contract is edited from the window (amount, next date); bad input
    (a typo, a round above the monthly limit, R53) is refused in Japanese and changes nothing."""
    _contracts(app, 1)
    window = make_window()
    real = TaskRunner()
    view = SubscriptionsView(app.subscriptions, real, parent=window)
    qtbot.addWidget(view)
    try:
        view.reload()
        qtbot.waitUntil(lambda: view.contracts.rowCount() == 1, timeout=10_000)
        view.contracts.selectRow(0)
        assert view.edit_button.isEnabled()
        before = view.selected_contract()
        assert before is not None
        dialog = view.edit_dialog(before)
        dialog.amount_field.setText("１２，３4５円x")  # a typo: refused in the dialog
        dialog.accept()
        assert dialog.result_edit is None and "金額" in dialog.problem.text()
        dialog.amount_field.setText("4,500")
        dialog.shipping_field.setText("￥600")
        later = before.next_date + timedelta(days=5)
        dialog.date_field.setDate(dialog.date_field.date().addDays(5))
        dialog.accept()
        assert dialog.result_edit is not None
        view.apply_edit(before, dialog)
        qtbot.waitUntil(lambda: "変更しました" in view.status.text(), timeout=10_000)
        after = app.subscriptions.show(before.id)
        assert (after.item_amount, after.shipping_fee, after.next_date) == (4_500, 600, later)
        too_much = view.edit_dialog(after)
        too_much.amount_field.setText("150000")
        too_much.accept()
        view.apply_edit(after, too_much)
        qtbot.waitUntil(lambda: "上限" in view.status.text(), timeout=10_000)
        assert app.subscriptions.show(before.id).item_amount == 4_500  # R53: nothing changed
    finally:
        real.shutdown()
