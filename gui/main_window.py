"""MainWindow: toolbar, filter bar, the order list and the detail panel beside it (issue 3).

The window receives the core (``Kanjo``) and a :class:`~gui.tasks.TaskRunner`; it never
talks to Amazon Pay on the GUI thread and holds no global state. Window geometry, the
splitter and the list's column widths are remembered with QSettings (gui.settings_store).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QCloseEvent, QFontMetrics, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.app import Kanjo
from core.changes import ALL, ChangeFeed
from core.clock import format_jst, to_jst
from core.domain import OrderStatus, PaymentStatus, Tone
from core.environment import connection_environment
from core.errors import StaleEdit, UserError
from core.order_pages import (
    NO_BADGE_NO_PAYMENT,
    NO_BADGE_NOT_AUTHORIZED,
    NO_BADGE_OTHER_METHOD,
    NO_BADGE_UNKNOWN_CHARGES,
    NO_BADGE_UNLINKED,
    OrderFilter,
    OrderPages,
    OrderQuery,
)
from core.queries import MessageView, OrderDetail
from core.settings import MAX_SYNC_MINUTES, AppSettings
from gui.dialogs.controller import PaymentDialogs
from gui.dialogs.operation_bar import Operation
from gui.errors import error_message, show_error
from gui.imports.drop import FileDropFilter
from gui.labels import APP_TITLE
from gui.menus import Keys, Menu, add_to_menu
from gui.orders.actions import ACTION_LABELS, BulkOutcome, OrderActions, Outcome, SyncAllOutcome
from gui.orders.detail_panel import DetailPanel
from gui.orders.filter_bar import FilterBar
from gui.orders.selection import SUMMARY_LIMIT, SelectionSummary, summarize, summary_html
from gui.orders.sort_arrow import SortArrowStyle
from gui.orders.status_badge import BadgeDelegate, BadgeLabel, badge_size
from gui.orders.table_model import (
    BADGE_COLUMNS,
    HEADERS,
    SORT_KEYS,
    Column,
    OrderRole,
    OrderTableModel,
    row_runs,
)
from gui.settings_dialog import SettingsDialog, ask_sandbox_removal, connection_changed, connection_name, going_live
from gui.settings_store import WindowSettings
from gui.tasks import READ, CancelToken, TaskRunner
from gui.tinted_frame import TintedFrame

if TYPE_CHECKING:
    from core.gateway import Gateway
    from core.imports.service import ImportSummary
    from core.services.orders import SandboxRemoval
    from gui.composer.dialog import ComposerDialog
    from gui.imports.add_order_dialog import AddOrderDialog
    from gui.imports.import_dialog import ImportDialog
    from gui.onboarding.first_day_dialog import FirstDayDialog
    from gui.subscriptions.view import SubscriptionsView

log = logging.getLogger(__name__)

DEMO_ORDERS = 26
# The 与信ステータス column fits these in full; a longer text is shortened (tooltip in full).
COMMON_PAYMENT_LABELS = (
    *(status.value for status in PaymentStatus if status is not PaymentStatus.UNREACHABLE),
    NO_BADGE_NO_PAYMENT,
    NO_BADGE_NOT_AUTHORIZED,
    NO_BADGE_OTHER_METHOD,
    NO_BADGE_UNKNOWN_CHARGES,
    NO_BADGE_UNLINKED,
)
# What each column must show in full at first start (measured with the table's font).
WIDEST_TEXT = {
    Column.NUMBER: "K01000000-00",
    Column.ORDERED_AT: "2026/12/31 23:59",
    Column.CUSTOMER: "長谷川 美奈子",
    Column.KIND: "定期・頒布会",
    Column.TOTAL: "10,000,000円",
    Column.AUTH_EXPIRY: "残り30日",
}
DETAIL_MIN_WIDTH = 460  # the detail panel's five operation buttons in one row
DETAIL_NARROW_WIDTH = 380  # on a small screen: the buttons wrap, the panel scrolls (issue 16 item 2)
FIRST_START_HEIGHT = 860
FRAME_ALLOWANCE = QSize(4, 40)  # the title bar above the window and its side borders (a pixel or two)
LIVE_INTERVAL_S = 1.0  # how often the store is asked whether another operator changed an order
LIVE_SETTLE_MS = 300  # changes arriving close together re-read the list once
OWN_CHANGE_S = 15.0  # a change of an order this window operated on that recently is its own echo


class Banner(TintedFrame):
    """The outcome of the last operation, above the list; closes with ×."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("banner", parent=parent)
        self.label = QLabel()
        self.label.setObjectName("bannerText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip("閉じる")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, text: str, tone: Tone) -> None:
        self.set_tone(tone)
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


class EnterFilter(QObject):
    """Enter (Return) on a row of the list calls ``then`` (the order's detail takes the keyboard)."""

    def __init__(self, then: Callable[[], None], parent: QTableView) -> None:
        super().__init__(parent)
        self._then = then
        self._table = parent

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and self._table.currentIndex().isValid()
        ):
            self._then()
            return True
        return False


class MainWindow(QMainWindow):
    """Signals:
    changes_arrived(object): orders changed in the store (a frozenset of numbers, or ``"all"``),
        emitted by the change feed's thread and handled on the GUI thread (issue 14 item 4).
    """

    changes_arrived = Signal(object)

    def __init__(
        self,
        app: Kanjo,
        runner: TaskRunner,
        window_settings: WindowSettings,
        *,
        demo_orders: int = DEMO_ORDERS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.app = app
        self.runner = runner
        self.window_settings = window_settings
        self.demo_orders = demo_orders
        self.settings: AppSettings = app.settings.load()
        self.pages = OrderPages(app.engine)
        self.model = OrderTableModel(self.pages, app.clock, runner, parent=self)
        self.model.connection_environment = connection_environment(self.settings)  # issue 11 item 8
        self.operations = OrderActions(app.payments, app.sync, runner, on_bug=self.show_bug, parent=self)
        self.confirm: Callable[[str], bool] = self._confirm  # tests replace it
        self._detail_generation = 0
        self._wanted_number: str | None = None
        self._selected_numbers: list[str] = []  # kept across a model reset (see _restore_selection)
        self._summary_generation = 0  # the selection summary shown is the latest (issue 16 item 5)
        self._bulk_stopping_text = ""
        self._bulk_dialog: QProgressDialog | None = None
        self._sync_token: CancelToken | None = None
        self.last_sync_at: str = ""
        self.last_bulk: BulkOutcome | None = None  # the last bulk action's outcome (also in the banner)
        self.last_error_box: QMessageBox | None = None
        self.composer: ComposerDialog | None = None  # the last message composer opened (issue 5)
        self.import_dialog: ImportDialog | None = None  # the last 取込 dialog opened (issue 11)
        self.add_order_dialog: AddOrderDialog | None = None
        self.first_day_dialog: FirstDayDialog | None = None  # はじめての設定 (issue 16 item 4)
        self.subscriptions_view: SubscriptionsView | None = None  # issue 12
        self.shipping_dialog: QDialog | None = None  # 発送・一括発送・キャンセル対応 (issue 15, gui/shipping)
        self.sandbox_question: QMessageBox | None = None  # going live: remove the test orders? (issue 11 item 8)
        # Live updates (issue 14 item 4): the store's change feed, and the orders this window
        # itself operated on lately (their echo is not "another operator").
        self.change_feed: ChangeFeed | None = None
        self.live_interval = LIVE_INTERVAL_S  # seconds between change checks (tests shorten it)
        self._own_numbers: dict[str, float] = {}
        # Until when the changes the feed reports are this window's own bulk work (demo orders,
        # an import): while it runs, and OWN_CHANGE_S after, no 「他の担当者が…」 for them.
        self._own_bulk_until = 0.0
        self.live_refresh_timer = QTimer(self)
        self.live_refresh_timer.setSingleShot(True)
        self.live_refresh_timer.setInterval(LIVE_SETTLE_MS)

        self.setWindowTitle(APP_TITLE)
        self._build_toolbar()
        self.filter_bar = FilterBar(to_jst(app.clock.now()).date())
        self.banner = Banner()
        self.table = self._build_table()
        self.detail = DetailPanel()
        self.detail.set_shop_domain(self.settings.shop_domain)
        self.payment_dialogs = PaymentDialogs(  # 金額変更・返金・キャンセル… dialogs (issue 4)
            app.payments, self.operations, runner, self.detail.operation_bar, self, on_bug=self.show_bug
        )
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.setSpacing(4)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self._build_status_bar()
        self._build_menus()
        QWidget.setTabOrder(self.table, self.detail.capture_button)  # Tab: from the list to the order's buttons
        self.detail.chain_tab_order()  # ... and on through them in reading order

        self.sync_timer = QTimer(self)
        self.sync_timer.setObjectName("backgroundSync")
        self.sync_timer.timeout.connect(self._on_sync_timer_timeout)
        self._apply_settings(self.settings)
        self._connect()
        screen = self.screen()
        self.first_start_layout(screen.availableGeometry() if screen is not None else None)
        self.window_settings.restore(self, self.splitter, self.table.horizontalHeader())

    def first_start_layout(self, available: QRect | None) -> None:
        """Size the window for a first start (QSettings restores the operator's layout after).

        Wide enough for every list column in full with the detail panel beside it (the font
        decides), never larger than the screen's available geometry (issue 16 item 2: at
        1024×600 the status bar stays on screen); the list gets what its columns need.
        """
        header = self.table.horizontalHeader()
        columns = sum(header.sectionSize(c) for c in range(header.count()))
        list_width = columns + self.table.verticalScrollBar().sizeHint().width() + 8
        width = max(1440, list_width + DETAIL_MIN_WIDTH + 24)
        height = FIRST_START_HEIGHT
        if available is not None and available.isValid():
            width = min(width, available.width() - FRAME_ALLOWANCE.width())
            height = min(height, available.height() - FRAME_ALLOWANCE.height())
        self.lay_out(width, height, wide=width >= list_width + DETAIL_MIN_WIDTH)
        if available is not None and available.isValid():
            frame = FRAME_ALLOWANCE
            left = available.left() + max(0, (available.width() - width - frame.width()) // 2)
            top = available.top() + max(0, (available.height() - height - frame.height()) // 2)
            self.move(left, top)

    def lay_out(self, width: int, height: int, *, wide: bool = True) -> None:
        """Resize to ``width``×``height`` and share it between the list and the detail panel."""
        self.resize(width, height)
        detail = DETAIL_MIN_WIDTH if wide else DETAIL_NARROW_WIDTH
        self.splitter.setSizes([max(width - detail, 300), detail])

    # --- construction --------------------------------------------------------------------

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("操作")
        toolbar.setObjectName("toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(toolbar)
        self.sync_all_action = QAction("すべて同期", self)
        self.sync_all_action.setToolTip("未完了の受注すべての状態をAmazon Payから読み直します。")
        self.sync_all_action.setShortcut(QKeySequence("F5"))
        self.bulk_capture_action = QAction("一括入金処理", self)
        self.bulk_capture_action.setToolTip(
            "選択した受注をまとめて入金処理します。処理できない受注は理由を表示します。"
        )
        self.bulk_reauthorize_action = QAction("一括再与信", self)
        self.bulk_reauthorize_action.setToolTip("選択した受注をまとめて再与信します。")
        self.reload_action = QAction("再読み込み", self)
        self.reload_action.setToolTip("一覧を読み直します(Amazon Payには問い合わせません)。")
        self.settings_action = QAction("設定", self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        for action in (self.sync_all_action, self.bulk_capture_action, self.bulk_reauthorize_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        # Issue 11 item 6: the shop's order file, or one order by its Charge Permission.
        self.import_action = QAction("取込…", self)
        self.import_action.setObjectName("importAction")
        self.import_action.setToolTip(
            "ショップの受注ファイル(CSV・TSV・TXT)を取り込みます。一覧にファイルをドロップしても取り込めます。"
        )
        self.import_action.setShortcut(QKeySequence("Ctrl+I"))
        self.add_order_action = QAction("注文を追加…", self)
        self.add_order_action.setObjectName("addOrderAction")
        self.add_order_action.setToolTip("Charge Permission IDから受注を1件追加します(内容はAmazon Payから読みます)。")
        toolbar.addAction(self.import_action)
        toolbar.addAction(self.add_order_action)
        toolbar.addSeparator()
        toolbar.addAction(self.reload_action)
        toolbar.addAction(self.settings_action)
        self.about_action = QAction("バージョン情報", self)
        self.about_action.triggered.connect(self._show_about)
        toolbar.addAction(self.about_action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        toolbar.addWidget(spacer)
        self.shop_label = QLabel()
        self.shop_label.setObjectName("shopLabel")
        toolbar.addWidget(self.shop_label)
        self.sandbox_badge = BadgeLabel("サンドボックス", Tone.ATTENTION)
        self.sandbox_badge.setObjectName("sandboxIndicator")
        # A widget in a tool bar is shown and hidden through its action (QToolBar.addWidget).
        self.sandbox_action = toolbar.addWidget(self.sandbox_badge)
        # Issue 15: 発送… / 一括発送… / キャンセル対応…, last so that a narrow window folds it first.
        self.shipping_menu = QMenu("発送", self)
        for label, view in (("発送…", "ship"), ("一括発送…", "bulk"), ("キャンセル対応…", "desk")):
            self.shipping_menu.addAction(label).triggered.connect(lambda _c=False, v=view: self.open_shipping(v))
        toolbar.addAction(self.shipping_menu.menuAction())
        shipping_button = toolbar.widgetForAction(self.shipping_menu.menuAction())
        if isinstance(shipping_button, QToolButton):
            shipping_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        # Issue 12: the subscription desk (定期購入, 本日の受注生成, 保留). Last on the bar, so a narrow
        # window folds it into the bar's » menu before it hides the サンドボックス indicator.
        self.subscriptions_action = QAction("定期購入…", self)
        self.subscriptions_action.setObjectName("subscriptionsAction")
        self.subscriptions_action.triggered.connect(self.open_subscriptions)
        toolbar.addAction(self.subscriptions_action)
        # Issue 13 (gui/settlements): after the shipping menu, so a narrow window folds it first.
        self.money_action = QAction("お金の流れ", self)
        self.money_action.setObjectName("moneyAction")
        self.money_action.triggered.connect(self.open_money_view)
        toolbar.addAction(self.money_action)
        self.toolbar = toolbar
        self.find_action = QAction("検索", self)
        self.find_action.setObjectName("findAction")
        self.find_action.setToolTip("受注番号・顧客名・フリガナ・メール・電話番号で検索します。")
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.triggered.connect(self._focus_search)
        self.addAction(self.find_action)

    def _build_menus(self) -> None:
        """The menu bar: every action with its shortcut (issue 16 item 1). Another capability adds
        its action with one line: ``add_to_menu(self, Menu.ORDERS, action)`` (gui/menus.py)."""

        def action(text: str, name: str, keys: str, tip: str, slot: Callable[[], object]) -> QAction:
            made = QAction(text, self)
            made.setObjectName(name)
            made.setShortcut(QKeySequence(keys))
            made.setToolTip(tip)
            made.triggered.connect(lambda _checked=False: slot())
            self.addAction(made)  # the shortcut works wherever the focus is in the window
            return made

        detail = self.detail
        self.capture_action = action(
            "入金処理",
            "captureAction",
            Keys.CAPTURE,
            "表示中の受注の売上を確定します(R24)。",
            lambda: self._press(detail.capture_button),
        )
        self.reauthorize_action = action(
            "再与信",
            "reauthorizeAction",
            Keys.REAUTHORIZE,
            "表示中の受注の与信を取り直します(R40)。",
            lambda: self._press(detail.reauthorize_button),
        )
        self.amount_action = action(
            "金額変更…",
            "amountAction",
            Keys.AMOUNT,
            "表示中の受注の金額を変更します(R26)。",
            lambda: self._operate(Operation.AMOUNT),
        )
        self.refund_action = action(
            "返金…",
            "refundAction",
            Keys.REFUND,
            "表示中の受注の売上を返金します(R39)。",
            lambda: self._operate(Operation.REFUND),
        )
        self.message_action = action(
            "メッセージ…",
            "messageAction",
            Keys.MESSAGE,
            "表示中の受注のお客様へのメッセージを作成します。",
            self._compose_shown,
        )
        self.sync_order_action = action(
            "この受注を同期",
            "syncOrderAction",
            Keys.SYNC_ORDER,
            "表示中の受注の状態をAmazon Payから読み直します。",
            lambda: self._press(detail.sync_button),
        )
        self.next_action = action(
            "次の要対応の受注",
            "nextActionAction",
            Keys.NEXT_ACTION,
            "一覧で次の要対応の受注に移ります。",
            lambda: self.go_to_needing_action(),
        )
        self.previous_action = action(
            "前の要対応の受注",
            "previousActionAction",
            Keys.PREVIOUS_ACTION,
            "一覧で前の要対応の受注に戻ります。",
            lambda: self.go_to_needing_action(backwards=True),
        )
        self.list_action = action(
            "一覧に戻る", "listAction", Keys.LIST, "キーボードの操作先を受注一覧に戻します。", self.table.setFocus
        )
        self.quit_action = action("終了", "quitAction", Keys.QUIT, "勘定を終了します。", self.close)
        self.reload_action.setShortcut(QKeySequence(Keys.RELOAD))
        self.add_order_action.setShortcut(QKeySequence(Keys.ADD_ORDER))
        self.first_day_action = QAction("はじめての設定…", self)
        self.first_day_action.setObjectName("firstDayAction")
        self.first_day_action.setToolTip("ショップ名・担当者名・ショップのドメイン・Seller tokenを設定します。")
        self.first_day_action.triggered.connect(lambda: self.open_first_day())
        for item, separated in (
            (self.import_action, False),
            (self.add_order_action, False),
            (self.settings_action, True),
            (self.first_day_action, False),
            (self.quit_action, True),
        ):
            add_to_menu(self, Menu.FILE, item, separator_before=separated)
        for item, separated in (
            (self.capture_action, False),
            (self.reauthorize_action, False),
            (self.amount_action, False),
            (self.refund_action, False),
            (self.message_action, False),
            (self.sync_order_action, False),
            (self.bulk_capture_action, True),
            (self.bulk_reauthorize_action, False),
            (self.sync_all_action, True),
        ):
            add_to_menu(self, Menu.ORDERS, item, separator_before=separated)
        for item, separated in (
            (self.find_action, False),
            (self.next_action, True),
            (self.previous_action, False),
            (self.list_action, True),
            (self.reload_action, False),
        ):
            add_to_menu(self, Menu.VIEW, item, separator_before=separated)
        add_to_menu(self, Menu.ORDERS, self.shipping_menu.menuAction(), separator_before=True)  # issue 15
        add_to_menu(self, Menu.ORDERS, self.subscriptions_action)  # issue 12
        add_to_menu(self, Menu.ORDERS, self.money_action)  # issue 13
        add_to_menu(self, Menu.HELP, self.first_day_action)
        add_to_menu(self, Menu.HELP, self.about_action)

    # --- keyboard (issue 16 item 1) -------------------------------------------------------

    def _focus_search(self) -> None:
        self.filter_bar.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_bar.search.selectAll()

    def _refuse(self, what: str, reason: str) -> None:
        self.banner.show_message(f"{what}はできません。{reason}", Tone.ATTENTION)

    def _press(self, button: QPushButton) -> None:
        """A shortcut for one of the detail panel's buttons: press it, or say why it is off."""
        what = button.text()
        if self.detail.number_shown is None:
            self._refuse(what, "一覧で受注を選んでください。")
        elif button.isEnabled():
            button.click()
        else:
            self._refuse(what, self.detail.refusals.get(button, ""))

    def _operate(self, operation: Operation) -> None:
        bar = self.detail.operation_bar
        button = bar.button(operation)
        if button.isEnabled():
            button.click()
        else:
            self._refuse(operation.label, bar.refusal(operation))

    def _compose_shown(self) -> None:
        number = self.detail.number_shown
        if number is None:
            self._refuse("メッセージの作成", "一覧で受注を選んでください。")
        else:
            self.open_composer(number)

    def go_to_needing_action(self, *, backwards: bool = False) -> None:
        """F8 / Shift+F8: the next (previous) order of the list that needs action, read in SQL in
        the list's own order so it works at any size and sort."""
        query = self.model.query
        current = self.table.currentIndex()
        row = current.row() if current.isValid() else (-1 if not backwards else self.model.rowCount())
        now = self.app.clock.now()

        def found(target: int | None) -> None:
            if self.model.query != query:
                return  # the list changed meanwhile
            if target is None:
                where = "前" if backwards else "後"
                self.banner.show_message(f"これより{where}に要対応の受注はありません。", Tone.PROGRESS)
                return
            self.select_row(target)
            self.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

        self.runner.run(lambda: self.pages.next_needing_action(query, row, now, backwards=backwards), found, lane=READ)

    def _build_table(self) -> QTableView:
        table = QTableView()
        table.setObjectName("orderTable")
        table.setModel(self.model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.setShowGrid(False)
        table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        table.verticalHeader().setVisible(False)
        table.setTabKeyNavigation(False)  # Tab leaves the list for the detail panel (issue 16 item 1)
        self.enter_filter = EnterFilter(lambda: self.detail.focus_first(), table)  # Enter: to the order's detail
        table.installEventFilter(self.enter_filter)
        delegate = BadgeDelegate(OrderRole.BADGE_TEXT, OrderRole.BADGE_TONE, table)
        for column in BADGE_COLUMNS:
            table.setItemDelegateForColumn(column, delegate)
        self.badge_delegate = delegate
        # Uniform row heights: the view never measures rows (fast at 1,000,000 rows).
        row_height = badge_size("承認済", table.font()).height() + 10
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.verticalHeader().setDefaultSectionSize(row_height)
        header = table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        metrics = QFontMetrics(table.font())
        header_metrics = QFontMetrics(header.font())
        for column, text in WIDEST_TEXT.items():
            width = max(metrics.horizontalAdvance(text), header_metrics.horizontalAdvance(HEADERS[column]) + 18)
            header.resizeSection(column, width + 16)
        # 与信ステータス: wide enough for the common badges (issue 16 item 2); the long
        # 「(Amazonのステータスが取得できませんでした)」 is shortened, its tooltip reads in full.
        longest = max(badge_size(text, table.font()).width() for text in COMMON_PAYMENT_LABELS)
        header.resizeSection(
            Column.PAYMENT_STATUS,
            max(longest + 12, header_metrics.horizontalAdvance(HEADERS[Column.PAYMENT_STATUS]) + 34),
        )
        widest_order_status = max(badge_size(status.label, table.font()).width() for status in OrderStatus)
        header.resizeSection(
            Column.ORDER_STATUS,
            max(widest_order_status + 12, header_metrics.horizontalAdvance(HEADERS[Column.ORDER_STATUS]) + 34),
        )
        header.setSortIndicator(Column.ORDERED_AT, Qt.SortOrder.DescendingOrder)
        self.header_style = SortArrowStyle()  # ▲ ascending, ▼ descending (issue 16 item 5)
        header.setStyle(self.header_style)
        table.setSortingEnabled(True)
        # A shop's order file dropped onto the list starts 取込 (issue 11 item 6).
        self.drop_filter = FileDropFilter(self)
        table.viewport().setAcceptDrops(True)
        table.viewport().installEventFilter(self.drop_filter)
        return table

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.count_label = QLabel()
        self.count_label.setObjectName("countLabel")
        self.job_label = QLabel()
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(180)
        self.job_progress.setTextVisible(False)
        self.job_progress.hide()
        self.job_cancel = QPushButton("中止")
        self.job_cancel.hide()
        self.job_cancel.clicked.connect(self._cancel_sync_all)
        self.sync_label = QLabel()
        self.sync_label.setObjectName("syncLabel")
        self.live_label = QLabel()  # 他の担当者が受注 N を更新しました (issue 14 item 4)
        self.live_label.setObjectName("liveLabel")
        bar.addWidget(self.count_label)
        bar.addWidget(self.job_label)
        bar.addWidget(self.job_progress)
        bar.addWidget(self.job_cancel)
        bar.addPermanentWidget(self.live_label)
        bar.addPermanentWidget(self.sync_label)

    def _connect(self) -> None:
        self.filter_bar.changed.connect(self._on_filter_bar_changed)
        self.model.query_applied.connect(self._on_model_query_applied)
        self.model.count_changed.connect(self._update_count_label)
        self.model.loading_changed.connect(lambda _loading: self._update_count_label())
        self.model.read_failed.connect(self.show_bug)
        self.model.dataChanged.connect(self._on_model_data_changed)
        self.model.refreshed.connect(self._on_model_refreshed)
        self.changes_arrived.connect(self._on_changes_arrived)
        self.live_refresh_timer.timeout.connect(self._on_live_refresh_timer_timeout)
        self.model.modelAboutToBeReset.connect(self._remember_selection)
        self.model.modelReset.connect(self._restore_selection)
        self.table.selectionModel().currentRowChanged.connect(self._on_table_current_changed)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_bulk_actions())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_selection_summary())
        self.detail.capture_requested.connect(self.operations.capture)
        self.detail.reauthorize_requested.connect(self.operations.reauthorize)
        self.detail.sync_requested.connect(self.operations.sync_order)
        self.detail.compose_requested.connect(self.open_composer)
        self.operations.started.connect(self._on_actions_started)
        self.operations.finished.connect(self._on_actions_finished)
        self.operations.bulk_progress.connect(self._on_actions_bulk_progress)
        self.operations.bulk_finished.connect(self._on_actions_bulk_finished)
        self.operations.sync_all_progress.connect(self._on_actions_sync_all_progress)
        self.operations.sync_all_finished.connect(self._on_actions_sync_all_finished)
        self.operations.busy_changed.connect(self._on_actions_busy_changed)
        self.sync_all_action.triggered.connect(lambda: self.sync_all())
        self.bulk_capture_action.triggered.connect(lambda: self.bulk("capture"))
        self.bulk_reauthorize_action.triggered.connect(lambda: self.bulk("reauthorize"))
        self.reload_action.triggered.connect(self.model.refresh)
        self.settings_action.triggered.connect(self.open_settings)
        self.import_action.triggered.connect(self.choose_import_file)
        self.add_order_action.triggered.connect(self.open_add_order)
        self.drop_filter.file_dropped.connect(self.open_import)
        self.drop_filter.drop_refused.connect(lambda text: self.banner.show_message(text, Tone.ATTENTION))
        self._update_bulk_actions()

    # --- start and stop ------------------------------------------------------------------

    def start(self, *, connect_after_paint: bool = False) -> None:
        """Show the orders; in the background open the gateway, finish interrupted operations and,
        on a first start over the sandbox, place demo orders covering every badge.

        ``connect_after_paint`` (the app's start, gui/app.py): the background work begins once
        the window has painted, so opening the connection (imports, the sandbox server, a new
        key pair) never competes with the first frame for the interpreter (issue 10 item 16).
        """
        self.model.set_query(OrderQuery(self.filter_bar.current()))
        self.sync_timer.start()
        self.job_label.setText("Amazon Payに接続しています…")
        if connect_after_paint:  # the feed's own connection (a server's LISTEN) opens after the paint too
            self._after_first_paint(self._start_background_and_live_updates)
        else:
            self._start_background_and_live_updates()

    def _start_background_and_live_updates(self) -> None:
        self.start_live_updates()
        self._start_background()

    def _after_first_paint(self, then: Callable[[], None]) -> None:
        """Call ``then`` once, after the window's first paint (or after a second at the latest,
        for a window that is not painted, e.g. minimized)."""
        called = False

        def once() -> None:
            nonlocal called
            if not called:
                called = True
                self.removeEventFilter(watcher)
                then()

        class Watcher(QObject):
            def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
                if event.type() == QEvent.Type.Paint:
                    QTimer.singleShot(0, once)  # after this paint has been handled
                return False

        watcher = Watcher(self)
        self.installEventFilter(watcher)
        QTimer.singleShot(1000, once)

    def _start_background(self) -> None:
        settings = self.settings

        def startup() -> tuple[list[Outcome], bool]:
            gateway = self.app.gateway()
            recovered = []
            if self.app.payments.pending():
                recovered = [
                    Outcome(r.order_number, "capture" if r.action == "capture" else "reauthorize", r.ok, r.message)
                    for r in self.app.payments.recover()
                ]
            seed = gateway.is_sandbox and not settings.demo_seeded and self.app.orders.count() == 0
            return recovered, seed

        def ready(result: tuple[list[Outcome], bool]) -> None:
            recovered, seed = result
            self.job_label.setText("")
            if recovered:
                numbers = [o.number for o in recovered]
                self.model.refresh_orders(numbers)
                self.banner.show_message(
                    f"前回中断した決済処理を{len(recovered)}件確定しました(同じ要求の再送のため二重決済はありません)。",
                    Tone.PROGRESS,
                )
            if seed:
                self.seed_demo()

        def failed(exc: BaseException) -> None:
            self.job_label.setText("")
            if isinstance(exc, UserError):
                self.banner.show_message(
                    f"Amazon Payに接続できません: {exc.message} 設定を確認してください。", Tone.FAILURE
                )
            else:
                self.show_bug(exc)

        self.runner.run(startup, ready, failed)

    def seed_demo(self) -> None:
        """Place demo orders on the sandbox (first start), showing progress in the status bar."""
        self.job_label.setText("サンドボックスにデモ注文を作成しています…")
        self.job_progress.setRange(0, self.demo_orders)
        self.job_progress.setValue(0)
        self.job_progress.show()
        relay = self.runner.progress_callback(self._on_demo_progress)
        self._own_bulk_work(running=True)

        def seeded(made: list[object]) -> None:
            self._own_bulk_work(running=False)
            self.app.settings.save(demo_seeded=True)
            self.settings = self.app.settings.load()
            self.job_progress.hide()
            self.job_label.setText("")
            self.model.set_query(self.model.query)
            self.banner.show_message(
                f"初回起動のため、サンドボックスにデモ注文を{len(made)}件作成しました。"
                "すべての与信ステータスを試せます(実際の決済は行われません)。",
                Tone.PROGRESS,
            )

        def failed(exc: BaseException) -> None:
            self._own_bulk_work(running=False)
            self.job_progress.hide()
            self.job_label.setText("")
            if isinstance(exc, UserError):
                self.banner.show_message(f"デモ注文を作成できませんでした: {exc.message}", Tone.FAILURE)
            else:
                self.show_bug(exc)

        from core.demo import seed_demo  # with the sandbox's modules: after the first paint

        self.runner.run(lambda: seed_demo(self.app, orders=self.demo_orders, progress=relay), seeded, failed)

    def _own_bulk_work(self, *, running: bool) -> None:
        """This window starts (or ended) writing many orders itself: their echoes are not news."""
        self._own_bulk_until = float("inf") if running else time.monotonic() + OWN_CHANGE_S

    def _on_demo_progress(self, done: int, total: int) -> None:
        self.job_progress.setRange(0, total)
        self.job_progress.setValue(done)
        self.job_label.setText(f"サンドボックスにデモ注文を作成しています… {done}/{total}")
        if done % 5 == 0:
            self.model.set_query(self.model.query)  # let the operator watch them arrive

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.stop_live_updates()
        self.sync_timer.stop()
        self.operations.cancel_sync_all()
        self.window_settings.save(self, self.splitter, self.table.horizontalHeader())
        super().closeEvent(event)

    # --- live updates (issue 14 item 4) --------------------------------------------------

    def start_live_updates(self) -> None:
        """Follow the changes other operators (other PCs, other windows, the command line) make in
        the store: LISTEN/NOTIFY on PostgreSQL, a cheap change check on SQLite (core/changes).
        The feed's thread only emits ``changes_arrived``; everything else runs on the GUI thread."""
        if self.change_feed is not None:
            return
        feed = self.app.change_feed(interval=self.live_interval)
        try:
            feed.start(self.changes_arrived.emit)
        except Exception as exc:  # e.g. a store of an older schema: the window works without it
            log.warning("live updates unavailable (%s)", type(exc).__name__)
            feed.stop()
            return
        self.change_feed = feed

    def stop_live_updates(self) -> None:
        feed, self.change_feed = self.change_feed, None
        self.live_refresh_timer.stop()
        if feed is not None:
            feed.stop()

    def _on_changes_arrived(self, changed: object) -> None:
        """Show the changed orders' new state without moving the operator's place.

        The rows of these orders are re-read and repainted where they are (no reset: the
        selection, current row and scroll position stay); the detail panel reloads if it shows
        one of them. A moment later the held pages and the count are re-read once, to place new
        orders and orders whose sorted column changed; that resets only if rows really moved,
        and the selection is then restored by order number and the scroll position kept.
        """
        if self.change_feed is None:  # arrived after stop_live_updates (the window is closing)
            return
        if changed == ALL or not isinstance(changed, frozenset):
            numbers: frozenset[str] | None = None
        else:
            numbers = changed
        shown = self.detail.number_shown
        if numbers is not None:
            self.model.refresh_orders(numbers)
        if shown and (numbers is None or shown in numbers):
            self._reload_detail(shown)
        others = self._others(numbers)
        if others is None:
            self.live_label.setText(f"他の担当者が受注を更新しました({format_jst(self.app.clock.now())})")
        elif others:
            first = sorted(others)[0]
            more = f"ほか{len(others) - 1}件" if len(others) > 1 else ""
            self.live_label.setText(f"他の担当者が受注 {first} {more}を更新しました".replace(" を", "を"))
        self.live_refresh_timer.start()

    def _others(self, numbers: Iterable[str] | None) -> set[str] | None:
        """The changed orders this window did not itself just operate on (None: not known)."""
        if self.operations.bulk_running or time.monotonic() < self._own_bulk_until:
            return set()  # a bulk action here changes many orders: their echoes are ours
        if numbers is None:
            return None
        now = time.monotonic()
        self._own_numbers = {n: at for n, at in self._own_numbers.items() if now - at < OWN_CHANGE_S}
        return {n for n in numbers if n not in self._own_numbers and self.operations.busy_action(n) is None}

    def _reload_detail(self, number: str) -> None:
        generation = self._detail_generation

        def shown(detail: OrderDetail) -> None:
            if generation != self._detail_generation or detail.number != self.detail.number_shown:
                return  # another order was chosen meanwhile
            self.detail.reload(detail)
            self._update_detail_busy()

        def failed(exc: BaseException) -> None:
            if generation != self._detail_generation:
                return
            self.detail.clear(error_message(exc))  # e.g. removed by another operator
            if not isinstance(exc, UserError):
                self.show_bug(exc)

        self.runner.run(lambda: self.app.orders.detail(number), shown, failed, lane=READ)

    def _on_live_refresh_timer_timeout(self) -> None:
        if self.model.loading:  # a query or page is being read: never cut it off, try again shortly
            self.live_refresh_timer.start()
            return
        self.model.refresh()

    # --- settings ------------------------------------------------------------------------

    def _apply_settings(self, settings: AppSettings) -> None:
        self.settings = settings
        # Bounded: a value stored out of range (40000) would overflow QTimer's int milliseconds.
        minutes = max(1, min(settings.sync_interval_minutes, MAX_SYNC_MINUTES))
        self.sync_timer.setInterval(minutes * 60_000)
        sandbox = not settings.has_amazon_credentials or settings.amazon_environment != "live"
        self.sandbox_action.setVisible(sandbox)
        self.sandbox_badge.setToolTip(
            "内蔵のサンドボックスで動作しています。実際の決済は行われません。"
            if not settings.has_amazon_credentials
            else "Amazon Payのサンドボックス環境に接続しています。実際の決済は行われません。"
        )
        title = APP_TITLE + (f" — {settings.shop_name}" if settings.shop_name else "")
        self.setWindowTitle(title + (" [サンドボックス]" if sandbox else ""))
        self.shop_label.setText(settings.shop_name)
        self.detail.set_shop_domain(settings.shop_domain)
        self.sync_label.setToolTip(f"バックグラウンド同期: {minutes}分ごと")

    def open_settings(self) -> None:
        edited = SettingsDialog.ask(self.settings, self, reload=self.app.settings.load)
        if edited is None:
            return
        before = self.settings
        try:
            saved = self.app.settings.save(
                **{name: getattr(edited, name) for name in AppSettings.__dataclass_fields__ if name != "demo_seeded"}
            )
        except UserError as exc:
            if isinstance(exc, StaleEdit):  # another operator saved first (issue 14 item 2): read theirs
                self._apply_settings(self.app.settings.load())
            show_error(self, exc, title="設定を保存できません")
            return
        self._apply_settings(saved)
        if connection_changed(before, saved):
            self.switch_connection(saved)
        else:
            self.banner.show_message("設定を保存しました。", Tone.SUCCESS)
        if going_live(before, saved):
            self.offer_sandbox_removal()

    def offer_sandbox_removal(self) -> None:
        """Going live: offer to remove the sandbox's orders in one step (issue 11 item 8)."""

        def counted(count: int) -> None:
            if count:
                self.sandbox_question = ask_sandbox_removal(self, count, answered)

        def answered(remove: bool) -> None:
            self.sandbox_question = None
            if remove:
                self.runner.run(self.app.orders.remove_sandbox_orders, removed)

        def removed(result: SandboxRemoval) -> None:
            kept = f" 決済処理が未確定の{len(result.kept)}件は残しました。" if result.kept else ""
            self.banner.show_message(
                f"サンドボックスの受注{result.count}件を一覧から削除しました(記録は残ります)。{kept}", Tone.SUCCESS
            )
            if self.detail.number_shown in result.numbers:
                self.detail.clear()
            self.model.refresh()

        self.runner.run(self.app.orders.sandbox_order_count, counted, lane=READ)

    def switch_connection(self, settings: AppSettings) -> None:
        """Reopen the Amazon Pay connection for new credentials, without a restart.

        It runs on the work lane, behind any capture or sync already queued, so a money call
        in flight finishes on the connection it started with and the next one uses the new.
        """
        where = connection_name(settings)
        self.job_label.setText(f"接続先を{where}に切り替えています…")
        self.banner.show_message(
            f"設定を保存しました。実行中の処理が終わりしだい、接続先を{where}に切り替えます。", Tone.PROGRESS
        )

        def switched(gateway: Gateway) -> None:
            self.job_label.setText("")
            self.model.set_connection_environment(gateway.environment)
            self.banner.show_message(f"設定を保存しました。接続先を{where}に切り替えました。", Tone.SUCCESS)

        def failed(exc: BaseException) -> None:
            self.job_label.setText("")
            if isinstance(exc, UserError):
                self.banner.show_message(
                    f"設定を保存しましたが、{where}に接続できません: {exc.message} 設定を確認してください。",
                    Tone.FAILURE,
                )
            else:
                self.show_bug(exc)

        self.runner.run(self.app.reset_gateway, switched, failed)

    # --- list and detail -----------------------------------------------------------------

    def _on_filter_bar_changed(self, flt: OrderFilter) -> None:
        self._remember_current()
        self.model.set_query(replace(self.model.wanted_query, filter=flt))

    def _remember_current(self) -> None:
        if self.detail.number_shown:
            self._wanted_number = self.detail.number_shown

    def _on_model_query_applied(self) -> None:
        header = self.table.horizontalHeader()
        query = self.model.query
        for column, key in SORT_KEYS.items():
            if key == query.sort:
                order = Qt.SortOrder.DescendingOrder if query.descending else Qt.SortOrder.AscendingOrder
                header.blockSignals(True)
                header.setSortIndicator(column, order)
                header.blockSignals(False)
        wanted = self._wanted_number or self.detail.number_shown
        row = self.model.row_of(wanted) if wanted else None
        if row is not None:
            self.select_row(row)
        else:
            self.detail.clear()
        self._wanted_number = None
        self._update_count_label()

    def _remember_selection(self) -> None:
        """Before the rows are replaced: the orders selected, by number (rows may move)."""
        selection = self.table.selectionModel().selection()
        self._selected_numbers = [n for r in selection for n in self.model.numbers_between(r.top(), r.bottom())]

    def _restore_selection(self) -> None:
        """After the rows were replaced: select the same orders where they are now.

        A selection is by row number; left as it was, it would point at other orders once a
        sync moved rows (and a bulk capture would take their money). Selected rows in pages
        no longer held are dropped rather than guessed.
        """
        numbers, self._selected_numbers = self._selected_numbers, []
        selection = QItemSelection()
        last_column = self.model.columnCount() - 1
        for top, length in row_runs(self.model.rows_of(numbers)):
            selection.select(self.model.index(top, 0), self.model.index(top + length - 1, last_column))
        self.table.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._update_bulk_actions()

    def _on_model_refreshed(self) -> None:
        number = self.detail.number_shown
        if number:
            row = self.model.row_of(number)
            if row is not None and self.table.currentIndex().row() != row:
                # Move the current row only: the selection was restored by order number. The
                # view would scroll to it; the operator's place in the list stays (issue 14 item 4).
                bar = self.table.verticalScrollBar()
                position = bar.value()
                self.table.selectionModel().setCurrentIndex(
                    self.model.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate
                )
                bar.setValue(position)
            self._reload_detail(number)

    def _on_model_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, _roles: object = None) -> None:
        current = self.table.currentIndex()
        if not current.isValid() or self.detail.number_shown is not None:
            return
        if top_left.row() <= current.row() <= bottom_right.row():
            number = self.model.number_at(current.row())  # its page just arrived
            if number:
                self.load_detail(number)

    def select_row(self, row: int) -> None:
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        self.table.scrollTo(index)

    def select_number(self, number: str) -> bool:
        row = self.model.row_of(number)
        if row is None:
            return False
        self.select_row(row)
        return True

    def _on_table_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        number = self.model.number_at(current.row()) if current.isValid() else None
        if number is None:
            self._detail_generation += 1
            self.detail.clear("読み込み中…" if current.isValid() else "受注を選ぶと、ここに詳細が表示されます。")
            return
        if number != self.detail.number_shown:
            self.load_detail(number)

    def load_detail(self, number: str) -> None:
        """Read the order's detail on the read lane and show it (unless another was chosen meanwhile)."""
        self._detail_generation += 1
        generation = self._detail_generation

        def shown(detail: OrderDetail) -> None:
            if generation != self._detail_generation:
                return
            self.detail.set_detail(detail)
            self._update_detail_busy()

        def failed(exc: BaseException) -> None:
            if generation != self._detail_generation:
                return
            self.detail.clear(error_message(exc))
            if not isinstance(exc, UserError):
                self.show_bug(exc)

        self.runner.run(lambda: self.app.orders.detail(number), shown, failed, lane=READ)

    def _update_detail_busy(self) -> None:
        number = self.detail.number_shown
        action = self.operations.busy_action(number) if number else None
        if action is None:
            self.detail.set_busy(False)
        elif action == "bulk":
            self.detail.set_busy(True, "一括処理中…")
        else:
            self.detail.set_busy(True, f"{ACTION_LABELS[action]}中…")

    def _update_count_label(self, _count: int | None = None) -> None:
        count = self.model.rowCount()
        if not self.model.count_exact:
            self.count_label.setText(f"{count:,}件以上(件数を数えています…)")
        else:
            self.count_label.setText(f"{count:,}件")

    # --- operations ----------------------------------------------------------------------

    def _on_actions_started(self, number: str, _action: str) -> None:
        self._own_numbers[number] = time.monotonic()
        if number == self.detail.number_shown:
            self._update_detail_busy()

    def _on_actions_finished(self, outcome: Outcome) -> None:
        if outcome.ok:
            self.banner.show_message(f"受注番号 {outcome.number}: {outcome.message}", Tone.SUCCESS)
        else:
            self.banner.show_message(
                f"受注番号 {outcome.number} の{outcome.label}ができませんでした。{outcome.message}", Tone.FAILURE
            )
        self.model.refresh_orders([outcome.number])
        if outcome.number == self.detail.number_shown:
            self.load_detail(outcome.number)  # the buttons come back with the order's new state

    def _on_actions_busy_changed(self) -> None:
        self._update_bulk_actions()
        running = self.operations.sync_all_running
        self.sync_all_action.setEnabled(not running and not self.operations.bulk_running)
        if self.detail.number_shown and self.operations.busy_action(self.detail.number_shown) == "bulk":
            self._update_detail_busy()

    def selected_row_count(self) -> int:
        return sum(r.bottom() - r.top() + 1 for r in self.table.selectionModel().selection())

    def _update_bulk_actions(self) -> None:
        selected = self.selected_row_count()
        enabled = selected > 0 and not self.operations.bulk_running
        for action in (self.bulk_capture_action, self.bulk_reauthorize_action):
            action.setEnabled(enabled)
        self.bulk_capture_action.setText(f"一括入金処理({selected:,}件)" if selected else "一括入金処理")
        self.bulk_reauthorize_action.setText(f"一括再与信({selected:,}件)" if selected else "一括再与信")

    def _update_selection_summary(self) -> None:
        """Several orders selected: the detail panel shows their count, total and what the bulk
        actions will take in (issue 16 item 5); one order: its detail again."""
        count = self.selected_row_count()
        if count <= 1:
            self.detail.hide_selection()
            return
        self._summary_generation += 1
        generation = self._summary_generation
        if count > SUMMARY_LIMIT:
            self.detail.show_selection(summary_html(summarize(count, [])))
            return
        rows = sorted({row for r in self.table.selectionModel().selection() for row in range(r.top(), r.bottom() + 1)})
        read_numbers, pages, clock = self.model.numbers_reader(rows), self.pages, self.app.clock

        def read() -> SelectionSummary:
            found = pages.rows_by_number(read_numbers(), clock.now())
            return summarize(count, found.values())

        def shown(summary: SelectionSummary) -> None:
            if generation == self._summary_generation and self.selected_row_count() > 1:
                self.detail.show_selection(summary_html(summary))

        self.runner.run(read, shown, lane=READ)

    def bulk(self, action: str) -> None:
        """Capture or re-authorize every selected order, with a progress dialog that can be cancelled."""
        label = ACTION_LABELS[action]
        count = self.selected_row_count()
        if count == 0:
            self.banner.show_message(f"{label}する受注を一覧で選択してください。", Tone.ATTENTION)
            return
        if not self.confirm(
            f"選択した{count:,}件の受注を{label}します。\n"
            "ルール上できない受注は処理せず、理由を表示します。よろしいですか?"
        ):
            return
        rows = sorted({row for r in self.table.selectionModel().selection() for row in range(r.top(), r.bottom() + 1)})
        token = CancelToken()
        dialog = QProgressDialog(f"一括{label}を実行しています…", "中止", 0, count, self)
        dialog.setObjectName("bulkProgress")
        dialog.setWindowTitle(f"一括{label}")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(token.cancel)
        dialog.canceled.connect(lambda: self._show_bulk_stopping(label))
        self._bulk_dialog = dialog
        dialog.show()
        try:
            self.operations.bulk(action, self.model.numbers_reader(rows), count, token)
        except UserError as exc:
            dialog.close()
            self._bulk_dialog = None
            self.banner.show_message(exc.message, Tone.FAILURE)

    def _show_bulk_stopping(self, label: str) -> None:
        """The progress dialog hides itself when cancelled; the order in hand still finishes
        (a money call is never cut off), so the status bar says so until it has."""
        self._bulk_stopping_text = f"一括{label}を中止しています…(処理中の受注が終わると止まります)"
        self.job_label.setText(self._bulk_stopping_text)
        self.job_progress.setRange(0, 0)
        self.job_progress.show()

    def _on_actions_bulk_progress(self, done: int, total: int) -> None:
        dialog = self._bulk_dialog
        if dialog is None:
            return
        dialog.setMaximum(max(total, 1))
        dialog.setValue(done)
        if not dialog.wasCanceled():
            dialog.setLabelText(f"{done:,} / {total:,}件 処理しました…")

    def _on_actions_bulk_finished(self, outcome: BulkOutcome) -> None:
        if self._bulk_stopping_text and self.job_label.text() == self._bulk_stopping_text:
            self.job_label.setText("")
            self.job_progress.hide()
        self._bulk_stopping_text = ""
        if self._bulk_dialog is not None:
            self._bulk_dialog.blockSignals(True)  # closing a QProgressDialog emits canceled()
            self._bulk_dialog.close()
            self._bulk_dialog.deleteLater()
            self._bulk_dialog = None
        lines = [outcome.summary]
        for failed in outcome.failed[:10]:
            lines.append(f"・{failed.number}: {failed.message}")
        if len(outcome.failed) > 10:
            lines.append(f"ほか{len(outcome.failed) - 10}件")
        tone = Tone.SUCCESS if not outcome.failed and not outcome.cancelled else Tone.ATTENTION
        if outcome.outcomes and not outcome.succeeded:
            tone = Tone.FAILURE
        self.banner.show_message("\n".join(lines), tone)
        self.last_bulk = outcome
        self.model.refresh_orders(o.number for o in outcome.outcomes)
        if self.detail.number_shown:
            self.load_detail(self.detail.number_shown)

    def sync_all(self, *, background: bool = False) -> CancelToken | None:
        token = self.operations.sync_all(background=background)
        if token is None:
            return None
        self._sync_token = token
        self.job_label.setText("同期しています…" if not background else "バックグラウンドで同期しています…")
        self.job_progress.setRange(0, 0)
        self.job_progress.show()
        self.job_cancel.setVisible(not background)
        return token

    def _cancel_sync_all(self) -> None:
        """Stop after the order being read (a read is never cut off); say so until it has."""
        self.operations.cancel_sync_all()
        self.job_cancel.setEnabled(False)
        self.job_label.setText("同期を中止しています…(読み込み中の受注が終わると止まります)")

    def _on_sync_timer_timeout(self) -> None:
        self.sync_all(background=True)

    def _on_actions_sync_all_progress(self, done: int, total: int) -> None:
        self.job_progress.setRange(0, max(total, 1))
        self.job_progress.setValue(done)
        if self.job_cancel.isEnabled():
            self.job_label.setText(f"同期しています… {done:,}/{total:,}")

    def _on_actions_sync_all_finished(self, outcome: SyncAllOutcome) -> None:
        self._sync_token = None
        self.job_progress.hide()
        self.job_cancel.hide()
        self.job_cancel.setEnabled(True)
        self.job_label.setText("")
        failed = [r for r in outcome.results if not r.ok]
        if outcome.cancelled:  # not every order was read: the last full sync stays what it was
            self.sync_label.setText(
                (f"最終同期: {self.last_sync_at}" if self.last_sync_at else "")
                + f"(中止: {len(outcome.results):,}件のみ同期)"
            )
        else:
            self.last_sync_at = format_jst(self.app.clock.now())
            self.sync_label.setText(f"最終同期: {self.last_sync_at}" + (f"(失敗 {len(failed)}件)" if failed else ""))
        if not outcome.background:
            self.banner.show_message(outcome.summary, Tone.ATTENTION if failed else Tone.SUCCESS)
        elif failed:
            self.banner.show_message(
                f"バックグラウンド同期で{len(failed)}件の受注の状態を取得できませんでした。"
                "一覧で「(Amazonのステータスが取得できませんでした)」と表示されています。",
                Tone.ATTENTION,
            )
        self.model.refresh()

    # --- dialogs -------------------------------------------------------------------------

    # The about box and the composer (Jinja2 editor, SMTP dialog) are imported when first opened,
    # not before the window's first paint (issue 10 item 16).

    def _show_about(self) -> None:
        from gui.about_dialog import AboutDialog

        AboutDialog.ask(self)

    def open_subscriptions(self) -> SubscriptionsView:
        """The 定期購入 view (issue 12); the list reloads after a generation or a retry."""
        from gui.subscriptions.view import SubscriptionsView

        view = SubscriptionsView(
            self.app.subscriptions, self.runner, compose=lambda n: self.open_composer(n, "payment_failure"), parent=self
        )
        view.orders_changed.connect(self.model.refresh)
        self.subscriptions_view = view
        view.show()
        view.reload()
        return view

    def open_composer(self, number: str, situation: str = "") -> ComposerDialog:
        """The message composer for one order (issue 5); the order's timeline follows what it stores."""
        from gui.composer.dialog import ComposerDialog

        dialog = ComposerDialog(self.app.messages, self.runner, number, situation=situation or None, parent=self)
        dialog.message_recorded.connect(self._on_composer_message_recorded)
        dialog.settings_changed.connect(lambda: self._apply_settings(self.app.settings.load()))
        self.composer = dialog
        dialog.open()
        return dialog

    def _on_composer_message_recorded(self, record: MessageView) -> None:
        from gui.composer.dialog import record_summary

        text, tone = record_summary(record)
        self.banner.show_message(text, tone)
        if record.order_number == self.detail.number_shown:
            self.load_detail(record.order_number)

    def choose_import_file(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _filter = QFileDialog.getOpenFileName(
            self, "取り込む受注ファイル", "", "受注ファイル (*.csv *.tsv *.txt);;すべてのファイル (*)"
        )
        if path:
            self.open_import(Path(path))

    def open_money_view(self) -> QWidget:
        """Issue 13: this month's money by day, expiring authorizations and deposits (gui/settlements)."""
        from core.settlements.service import service_for
        from gui.settlements.money_view import MoneyView

        view = MoneyView(service_for(self.app), self.runner, to_jst(self.app.clock.now()).date(), parent=self)
        # An order behind a bar: the list shows it (the search finds it by its number).
        view.order_chosen.connect(self._show_order_from_money_view)
        self.money_view = view
        view.show()
        view.start()
        return view

    def _show_order_from_money_view(self, number: str) -> None:
        self.filter_bar.search.setText(number)
        self.filter_bar.apply_now()

    def open_import(self, path: Path) -> ImportDialog:
        """The import dialog for ``path``: it checks the file at once (nothing written) and shows it."""
        from gui.imports.import_dialog import ImportDialog

        dialog = ImportDialog(self.app.imports, self.runner, path, parent=self)
        dialog.imported.connect(self._on_import_dialog_imported)
        self._own_bulk_work(running=True)  # the import writes from this window, until the dialog closes
        dialog.finished.connect(lambda _result: self._own_bulk_work(running=False))
        self.import_dialog = dialog
        dialog.open()
        dialog.start()
        return dialog

    def _on_import_dialog_imported(self, summary: ImportSummary) -> None:
        state = "取込を中止しました" if summary.cancelled else "受注ファイルを取り込みました"
        self.banner.show_message(
            f"{state}({summary.file_name}): 追加 {summary.added:,}件 / 更新 {summary.updated:,}件 / "
            f"変更なし {summary.unchanged:,}件 / 除外 {len(summary.refused):,}件",
            Tone.ATTENTION if summary.cancelled or summary.refused or summary.mismatches else Tone.SUCCESS,
        )
        self._remember_current()
        self.model.set_query(self.model.wanted_query)

    def open_add_order(self) -> AddOrderDialog:
        from gui.imports.add_order_dialog import AddOrderDialog

        dialog = AddOrderDialog(self.app.imports, self.runner, parent=self)
        dialog.added.connect(self._on_add_order_dialog_added)
        self.add_order_dialog = dialog
        dialog.open()
        return dialog

    def _on_add_order_dialog_added(self, number: str) -> None:
        self.banner.show_message(f"受注 {number} をAmazon Payから追加しました。", Tone.SUCCESS)
        self._wanted_number = number  # selected once the list shows it
        self.model.set_query(self.model.wanted_query)

    def open_first_day(self, finished: Callable[[], None] | None = None) -> FirstDayDialog:
        """はじめての設定 (issue 16 item 4): shop name, operator, domain and Seller token, then
        what comes next; from ファイル or ヘルプ, and by itself at the first start (gui/app.py)."""
        from gui.onboarding.first_day_dialog import open_first_day

        def saved(settings: AppSettings) -> None:
            self._apply_settings(settings)
            self.banner.show_message(
                "はじめての設定を保存しました。次は「設定」でAmazon Payに接続し、"
                "「ファイル → 取込」で受注を取り込みます。",
                Tone.SUCCESS,
            )

        self.first_day_dialog = open_first_day(self.app.settings, self, saved, finished or (lambda: None))
        return self.first_day_dialog

    def open_shipping(self, view: str, number: str | None = None, path: str | None = None) -> QDialog | None:
        """発送 / 一括発送 / キャンセル対応 (issue 15) for the order shown, or ``number``."""
        from gui.shipping import open_view

        return open_view(self, view, number, path)

    def _confirm(self, text: str) -> bool:
        answer = QMessageBox.question(self, "確認", text)
        return answer == QMessageBox.StandardButton.Yes

    def show_bug(self, exc: BaseException) -> None:
        self.last_error_box = show_error(self, exc, title="予期しないエラー")
