"""Read-only view of one order (issue 3 §4), with its 入金処理 / 再与信 / 同期 buttons.

Fed by :meth:`DetailPanel.set_detail` with the ``core.queries.OrderDetail`` DTO (read on a
worker). The buttons only emit requests; the window runs them and tells the panel when an
operation on this order is in flight, so a button stays disabled until its outcome is known.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.clock import format_jst
from core.domain import OrderKind, PaymentStatus, Tone
from core.environment import label as environment_label
from core.journal import OUTCOME_LABELS
from core.order_pages import no_badge_label
from core.queries import OrderDetail
from gui.composer.entry import MessageButton
from gui.dialogs.operation_bar import FlowLayout, OperationBar
from gui.labels import BadgeColors, order_status_from_label, order_status_tone, payment_label, payment_tone, yen
from gui.menus import Keys, with_shortcut
from gui.orders.status_badge import BadgeLabel
from gui.orders.status_hint import money_hint
from gui.tinted_frame import TintedFrame

PURPOSE_LABELS = {
    "original": "注文時の与信",
    "increase": "増額分の与信",
    "reauth": "再与信",
    "generation": "受注生成の与信",
}
ORIGIN_LABELS = {"product": "勘定", "seller_central": "Seller Central", "buyer": "購入者", "operator": "勘定"}
# Every action the journal can hold, in Japanese (issue 16 item 3; a test finds them all in core).
ACTION_LABELS = {
    "order_received": "受注",
    "capture": "入金処理",
    "authorize": "与信",
    "refund": "返金",
    "cancel": "与信取消",
    "close": "Charge Permission終了",
    "sync_failed": "同期失敗",
    "external_capture": "Seller Centralで売上確定",
    "external_refund": "Seller Centralで返金",
    "external_charge": "Seller Centralで与信追加",
    "external_cancel": "Seller Centralで与信取消",
    "amount_change": "金額変更",
    "clear_payment_date": "入金日取消",
    "reconciled": "Amazon Payと照合済み",
    "import": "受注ファイルの取込",
    "order_imported": "受注ファイルから取込",
    "order_added": "Amazon Payから受注を追加",
    "order_linked": "Charge Permissionを連携",
    "order_removed": "一覧から削除",
    "charge_linked": "Chargeを連携",
    "generated": "定期購入の受注生成",
    "subscription_created": "定期購入の登録",
    "subscription_edited": "定期購入の変更",
    "subscription_closed": "定期購入の終了",
}
PHASE_LABELS = {"intent": "送信", "outcome": "結果", "event": "記録"}
CP_STATE_LABELS = {"Chargeable": "利用可能", "NonChargeable": "利用不可", "Closed": "終了"}
AMAZON_PAY_ORDERS_URL = "https://payments.amazon.co.jp/jr/your-account/orders/"  # R43
AMAZON_PAY_SUBSCRIPTIONS_URL = "https://pay.amazon.com/jp/jr/your-account/ba"  # R43
R42_GUIDANCE = (
    "購入者にご連絡ください。購入者がお支払い設定を変更しても通知は届きません。"
    "変更が済んだと確認できたら、もう一度「再与信」を押してください。"
)


class Notice(TintedFrame):
    """A tinted box for a message that needs the operator's eye (R41, a failed sync, R32)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("notice", "QLabel#noticeTitle { font-weight: bold; }", parent)
        self._body = ""
        self.title = QLabel()
        self.title.setObjectName("noticeTitle")
        self.body = QLabel()
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setOpenExternalLinks(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.body)
        self.hide()

    def show_message(self, title: str, body: str, tone: Tone) -> None:
        """``body`` is HTML (escaped text, <br>, links)."""
        self._body = body
        self.title.setText(title)
        self.set_tone(tone)

    def tone_applied(self, colors: BadgeColors) -> None:
        # A style sheet does not reach links in rich text, and the palette's link blue is
        # unreadable on a dark red tint: each link takes the tone's text colour.
        self.body.setText(self._body.replace("<a ", f'<a style="color: {colors.text.name()};" '))
        self.show()


def _value_label() -> QLabel:
    label = QLabel()
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


class DetailPanel(QWidget):
    """Everything about one order.

    Signals:
        capture_requested(str): 入金処理 pressed for this order number.
        reauthorize_requested(str): 再与信 pressed.
        sync_requested(str): 同期 pressed.
        compose_requested(str, str): (order number, situation or ''): write to the customer (issue 5).
    """

    capture_requested = Signal(str)
    reauthorize_requested = Signal(str)
    sync_requested = Signal(str)
    compose_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._detail: OrderDetail | None = None
        self._busy = False
        self._shop_domain = ""
        self.refusals: dict[QWidget, str] = {}  # why a button is off now ('' when it is on)
        self.setMinimumWidth(360)

        self.stack = QStackedWidget()
        self.empty = QLabel("受注を選ぶと、ここに詳細が表示されます。")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.stack.addWidget(self.empty)
        # Several orders selected (issue 16 item 5): what they add up to, instead of one order.
        self._selection_shown = False
        self.selection_view = QLabel()
        self.selection_view.setObjectName("selectionSummary")
        self.selection_view.setWordWrap(True)
        self.selection_view.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.selection_view.setContentsMargins(12, 12, 12, 12)
        self.selection_view.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        content = QWidget()
        body = QVBoxLayout(content)
        body.setContentsMargins(12, 12, 12, 12)
        body.setSpacing(10)

        # Header: number, badges, buttons.
        self.number = QLabel()
        self.number.setObjectName("detailNumber")
        self.number.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.number.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.number.setFont(font)
        self.subtitle = QLabel()
        self.payment_badge = BadgeLabel()
        self.order_badge = BadgeLabel()
        badges = QHBoxLayout()
        badges.setSpacing(4)
        badges.addWidget(self.payment_badge)
        badges.addWidget(self.order_badge)
        badges.addStretch(1)
        self.capture_button = QPushButton("入金処理")
        self.capture_button.setObjectName("captureButton")
        self.reauthorize_button = QPushButton("再与信")
        self.reauthorize_button.setObjectName("reauthorizeButton")
        self.sync_button = QPushButton("同期")
        self.sync_button.setObjectName("syncButton")
        self.sync_button.setToolTip("この受注の状態をAmazon Payから読み直します。")
        # The buttons wrap onto a second line when the panel is narrow (issue 16 item 2).
        button_row = QWidget()
        buttons = FlowLayout(button_row)
        buttons.addWidget(self.capture_button)
        buttons.addWidget(self.reauthorize_button)
        buttons.addWidget(self.sync_button)
        self.message_button = MessageButton()  # the composer (issue 5, gui/composer)
        self.message_button.setToolTip(with_shortcut(self.message_button.toolTip(), Keys.MESSAGE))
        buttons.addWidget(self.message_button)
        self.busy_label = QLabel()
        self.busy_label.setObjectName("busyLabel")
        buttons.addWidget(self.busy_label)
        body.addWidget(self.number)
        body.addWidget(self.subtitle)
        body.addLayout(badges)
        body.addWidget(button_row)
        self.operation_bar = OperationBar()  # 金額変更・返金・キャンセル… (issue 4, gui/dialogs)
        body.addWidget(self.operation_bar)

        # Issue 11 item 8: the order lives in another Amazon Pay than the connection.
        self.environment_notice = Notice()
        body.addWidget(self.environment_notice)
        self.reauth_notice = Notice()
        self.reauth_compose_button = QPushButton("購入者への案内を作成…")  # R41–R43 (issue 5)
        self.reauth_compose_button.setObjectName("reauthComposeButton")
        self.reauth_notice.layout().addWidget(self.reauth_compose_button)
        self.sync_notice = Notice()
        self.other_notice = Notice()
        body.addWidget(self.reauth_notice)
        body.addWidget(self.sync_notice)
        body.addWidget(self.other_notice)

        # Amounts.
        amounts = QGroupBox("金額")
        form = QFormLayout(amounts)
        self.amount_labels: dict[str, QLabel] = {}
        for key, title in (
            ("total", "受注金額"),
            ("authorized", "与信額(未売上)"),
            ("captured", "売上額"),
            ("refunded", "返金額"),
            ("pending", "処理中"),
            ("breakdown", "内訳"),
        ):
            label = _value_label()
            if key != "breakdown":
                label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.amount_labels[key] = label
            form.addRow(title, label)
        body.addWidget(amounts)

        # Customer and address.
        people = QGroupBox("顧客・お届け先")
        form = QFormLayout(people)
        self.customer_labels: dict[str, QLabel] = {}
        for key, title in (
            ("name", "顧客名"),
            ("email", "メール"),
            ("phone", "電話"),
            ("member", "会員"),
            ("ship", "お届け先"),
        ):
            label = _value_label()
            self.customer_labels[key] = label
            form.addRow(title, label)
        body.addWidget(people)

        # Items.
        items_box = QGroupBox("商品")
        items_layout = QVBoxLayout(items_box)
        self.items = QTableWidget(0, 4)
        self.items.setHorizontalHeaderLabels(["商品名", "単価", "数量", "小計"])
        self.items.verticalHeader().setVisible(False)
        self.items.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.items.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.items.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            self.items.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.items.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.items.setTabKeyNavigation(False)  # Tab moves on to the next control (issue 16 item 1)
        items_layout.addWidget(self.items)
        body.addWidget(items_box)

        # Charge Permission.
        cp_box = QGroupBox("Charge Permission")
        form = QFormLayout(cp_box)
        self.cp_labels: dict[str, QLabel] = {}
        for key, title in (("id", "ID"), ("state", "状態"), ("expires", "有効期限"), ("limit", "上限額")):
            label = _value_label()
            self.cp_labels[key] = label
            form.addRow(title, label)
        body.addWidget(cp_box)

        # Timeline.
        timeline_box = QGroupBox("履歴(与信・売上・返金・記録)")
        timeline_layout = QVBoxLayout(timeline_box)
        self.timeline = QTableWidget(0, 5)
        # 担当者: the operator at the PC that wrote the entry or message (issue 14 item 3).
        self.timeline.setHorizontalHeaderLabels(["日時", "内容", "金額", "状態", "担当者"])
        self.timeline.verticalHeader().setVisible(False)
        self.timeline.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.timeline.setWordWrap(True)
        header = self.timeline.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.ResizeToContents)
        self.timeline.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Tab and Shift+Tab pass through the history instead of walking its cells (issue 16 item 1).
        self.timeline.setTabKeyNavigation(False)
        timeline_layout.addWidget(self.timeline)
        body.addWidget(timeline_box)

        # Shop memo (R22).
        memo_box = QGroupBox("ショップメモ")
        memo_layout = QVBoxLayout(memo_box)
        self.memo = QPlainTextEdit()
        self.memo.setReadOnly(True)
        self.memo.setMaximumHeight(80)
        self.memo.setTabChangesFocus(True)
        memo_layout.addWidget(self.memo)
        body.addWidget(memo_box)
        body.addStretch(1)

        scroll = QScrollArea()
        self.scroll_area = scroll
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        # Narrow panel: the contents wrap and the panel scrolls down, never sideways (issue 16 item 2).
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content.setMinimumWidth(0)
        scroll.setWidget(content)
        self.stack.addWidget(scroll)
        # In its own scroll area: a long summary never makes the window taller (or the list shorter).
        self.selection_scroll = QScrollArea()
        self.selection_scroll.setWidgetResizable(True)
        self.selection_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.selection_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.selection_scroll.setWidget(self.selection_view)
        self.stack.addWidget(self.selection_scroll)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)

        self.capture_button.clicked.connect(self._on_capture_clicked)
        self.reauthorize_button.clicked.connect(self._on_reauthorize_clicked)
        self.sync_button.clicked.connect(self._on_sync_clicked)
        self.message_button.requested.connect(self._on_message_button_requested)
        self.reauth_compose_button.clicked.connect(lambda: self._on_message_button_requested("payment_failure"))
        self._update_buttons()
        self.chain_tab_order()

    # --- feeding -------------------------------------------------------------------------

    @property
    def detail(self) -> OrderDetail | None:
        return self._detail

    @property
    def number_shown(self) -> str | None:
        return self._detail.number if self._detail else None

    def set_shop_domain(self, domain: str) -> None:
        self._shop_domain = domain.strip().removeprefix("https://").removeprefix("http://").strip("/")

    def show_selection(self, html: str) -> None:
        """Several orders are selected: show what they add up to (the order's detail waits behind)."""
        self._selection_shown = True
        self.selection_view.setText(html)
        self.stack.setCurrentWidget(self.selection_scroll)

    def hide_selection(self) -> None:
        if not self._selection_shown:
            return
        self._selection_shown = False
        self.stack.setCurrentIndex(1 if self._detail is not None else 0)

    @property
    def selection_shown(self) -> bool:
        return self._selection_shown

    def clear(self, message: str = "受注を選ぶと、ここに詳細が表示されます。") -> None:
        self._detail = None
        self.empty.setText(message)
        if not self._selection_shown:
            self.stack.setCurrentWidget(self.empty)
        self._update_buttons()
        self.operation_bar.set_detail(None)

    def set_detail(self, detail: OrderDetail) -> None:
        self._detail = detail
        if not self._selection_shown:
            self.stack.setCurrentIndex(1)
        self.number.setText(f"受注番号 {detail.number}")
        self.subtitle.setText(f"{format_jst(detail.ordered_at)} 受注 ・ {detail.kind_label}")
        status = PaymentStatus(detail.payment_status) if detail.payment_status else None
        text = (
            payment_label(status)
            if status is not None
            else no_badge_label(
                detail.kind,
                detail.payment_method,
                detail.charge_permission_id is not None,
                total=detail.total,
                unknown_charges=detail.charges_unknown,
            )
        )
        self.payment_badge.set_badge(text, payment_tone(status))
        order_status = order_status_from_label(detail.order_status)
        self.order_badge.set_badge(order_status.label, order_status_tone(order_status))
        hint = self._money_hint(detail)
        if hint:
            self.order_badge.setToolTip(hint)
        self._fill_notices(detail)
        self._fill_amounts(detail)
        self._fill_customer(detail)
        self._fill_items(detail)
        self._fill_charge_permission(detail)
        self._fill_timeline(detail)
        self.memo.setPlainText(detail.shop_memo)
        self._update_buttons()
        self.operation_bar.set_detail(detail)

    def reload(self, detail: OrderDetail) -> None:
        """The order shown changed (another operator, issue 14 item 4): show its new state where
        the operator was reading (the panel's scroll position stays). Another order: ``set_detail``."""
        if detail.number != self.number_shown:
            self.set_detail(detail)
            return
        bar = self.scroll_area.verticalScrollBar()
        position = bar.value()
        self.set_detail(detail)
        content = self.scroll_area.widget()
        if content is not None:
            content.adjustSize()  # the new contents' height, before the old position is set back
        bar.setValue(position)

    def set_busy(self, busy: bool, text: str = "") -> None:
        """An operation on this order is in flight: its buttons wait for the outcome."""
        self._busy = busy
        self.busy_label.setText(text if busy else "")
        self._update_buttons()
        self.operation_bar.set_busy(busy)

    # --- keyboard (issue 16 item 1) ------------------------------------------------------

    def action_buttons(self) -> list[QWidget]:
        """The panel's buttons in their Tab order: the order's own actions, then the operations."""
        return [
            self.capture_button,
            self.reauthorize_button,
            self.sync_button,
            self.message_button,
            *self.operation_bar.buttons.values(),
            self.reauth_compose_button,
        ]

    def chain_tab_order(self) -> None:
        """Tab walks the buttons in reading order, then the history and the memo."""
        chain: list[QWidget] = [*self.action_buttons(), self.items, self.timeline, self.memo]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    def focus_first(self) -> None:
        """Enter on a row: the keyboard moves here, to the first button that can act (else the panel)."""
        for button in self.action_buttons():
            if button.isEnabled() and button.isVisibleTo(self):
                button.setFocus(Qt.FocusReason.TabFocusReason)
                return
        self.scroll_area.setFocus(Qt.FocusReason.TabFocusReason)

    # --- buttons -------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        detail = self._detail
        busy_tip = "この受注の処理中です。結果が出るまでお待ちください。"
        for button, allowed, reason, tip, keys in (
            (
                self.capture_button,
                bool(detail and detail.can_capture),
                detail.capture_blocked_reason if detail else "",
                "この受注の売上を確定します(入金処理, R24)。",
                Keys.CAPTURE,
            ),
            (
                self.reauthorize_button,
                bool(detail and detail.can_reauthorize),
                detail.reauthorize_blocked_reason if detail else "",
                "新しい与信を取得します(再与信, R40)。",
                Keys.REAUTHORIZE,
            ),
            (
                self.sync_button,
                detail is not None and not detail.other_environment,
                detail.environment_note if detail else "",
                "この受注の状態をAmazon Payから読み直します。",
                Keys.SYNC_ORDER,
            ),
        ):
            enabled = allowed and not self._busy
            button.setEnabled(enabled)
            if self._busy and detail is not None:
                why = busy_tip
            elif enabled:
                why = ""
            else:
                why = reason or "受注が選ばれていません。"
            self.refusals[button] = why
            button.setToolTip(with_shortcut(why or tip, keys))

    def _on_capture_clicked(self) -> None:
        if self._detail is not None and self.capture_button.isEnabled():
            self.set_busy(True, "入金処理中…")  # at once: a second click cannot capture twice
            self.capture_requested.emit(self._detail.number)

    def _on_reauthorize_clicked(self) -> None:
        if self._detail is not None and self.reauthorize_button.isEnabled():
            self.set_busy(True, "再与信中…")
            self.reauthorize_requested.emit(self._detail.number)

    def _on_message_button_requested(self, situation: str) -> None:
        if self._detail is not None:
            self.compose_requested.emit(self._detail.number, situation)

    def _on_sync_clicked(self) -> None:
        if self._detail is not None and self.sync_button.isEnabled():
            self.set_busy(True, "同期中…")
            self.sync_requested.emit(self._detail.number)

    # --- sections ------------------------------------------------------------------------

    def _fill_notices(self, detail: OrderDetail) -> None:
        if detail.other_environment:
            self.environment_notice.show_message(
                f"{environment_label(detail.environment)}の受注です",
                _html(
                    f"{detail.environment_note}入金処理・再与信・同期などAmazon Payの操作はできません。"
                    "本番に切り替えた後のテスト用の受注は、設定の保存時または kanjo orders remove-sandbox で"
                    "一覧から削除できます(記録は残ります)。"
                ),
                Tone.ATTENTION,
            )
        else:
            self.environment_notice.hide()
        if detail.reauth_message:
            # R41 message, then what to do next (R42) and where to send the buyer (R43).
            links = []
            if self._shop_domain:
                url = f"https://{self._shop_domain}/my/orders/{detail.number}"
                links.append(f'ショップの注文履歴: <a href="{url}">{url}</a>')
            amazon = AMAZON_PAY_SUBSCRIPTIONS_URL if detail.kind == OrderKind.SUBSCRIPTION else AMAZON_PAY_ORDERS_URL
            links.append(f'Amazon Pay: <a href="{amazon}">{amazon}</a>')
            body = (
                f"{_html(detail.reauth_message)}<br><br>{_html(R42_GUIDANCE)}<br>"
                + "<br>".join(links)
                + f"<br>(ご案内には受注日 {format_jst(detail.ordered_at)}、受注番号 {detail.number}、"
                f"金額 {yen(detail.total)} を添えてください)"
            )
            self.reauth_notice.show_message("再与信に失敗しました", body, Tone.FAILURE)
        else:
            self.reauth_notice.hide()
        if detail.sync_error:
            last = f"(最後に成功した同期: {format_jst(detail.last_synced_at)})" if detail.last_synced_at else ""
            self.sync_notice.show_message(
                "Amazon Payの状態を取得できませんでした",
                _html(f"{detail.sync_error}{last} 「同期」でもう一度読み直せます。"),
                Tone.ATTENTION,
            )
        else:
            self.sync_notice.hide()
        notes = []
        if detail.amount_changed_externally:
            notes.append(
                "Seller Centralで金額が変更されました。この受注の売上はSeller Centralで確定してください(R32)。"
            )
        if detail.unsettled_operations:
            notes.append(
                f"結果不明の決済処理が{detail.unsettled_operations}件あります。同期すると同じ要求を再送して確定します"
                "(二重に決済されることはありません)。"
            )
        if detail.operations_in_progress:
            notes.append(
                "この受注の決済処理をほかのウィンドウまたは担当者が実行中です。終わるまで、ここからは操作できません。"
                "同期すると結果が表示されます。"
            )
        notes.extend(getattr(detail, "seller_central_tasks", ()))  # R11: recorded here, to do there
        hint = self._money_hint(detail)  # the order status has not followed the money (issue 16 item 5)
        if hint:
            notes.append(hint)
        if notes:
            self.other_notice.show_message("ご確認ください", _html("\n".join(notes)), Tone.ATTENTION)
        else:
            self.other_notice.hide()

    @staticmethod
    def _money_hint(detail: OrderDetail) -> str:
        status = PaymentStatus(detail.payment_status) if detail.payment_status else None
        return money_hint(
            order_status_from_label(detail.order_status),
            status,
            captured=detail.captured,
            refunded=detail.refunded,
            pending=detail.pending_refund,
        )

    def _fill_amounts(self, detail: OrderDetail) -> None:
        labels = self.amount_labels
        labels["total"].setText(yen(detail.total))
        labels["authorized"].setText(yen(detail.authorized))
        labels["captured"].setText(yen(detail.captured))
        labels["refunded"].setText(yen(detail.refunded))
        pending = []
        if detail.pending_capture:
            pending.append(f"売上 {yen(detail.pending_capture)}")
        if detail.pending_refund:
            pending.append(f"返金 {yen(detail.pending_refund)}")
        labels["pending"].setText("、".join(pending) or "なし")
        parts = [f"商品 {yen(sum(i.subtotal for i in detail.items))}", f"送料 {yen(detail.shipping_fee)}"]
        if detail.fees:
            parts.append(f"手数料 {yen(detail.fees)}")
        if detail.discount:
            parts.append(f"割引 -{yen(detail.discount)}")
        if detail.original_total != detail.total:
            parts.append(f"注文時 {yen(detail.original_total)}")
        labels["breakdown"].setText(" / ".join(parts))

    def _fill_customer(self, detail: OrderDetail) -> None:
        labels = self.customer_labels
        labels["name"].setText(detail.customer_name)
        labels["email"].setText(detail.customer_email)
        labels["phone"].setText(detail.customer_phone)
        if detail.customer_is_member:
            linked = format_jst(detail.amazon_linked_at)
            labels["member"].setText(f"会員(AmazonID連携 {linked})" if linked else "会員")
        else:
            labels["member"].setText("ゲスト")
        labels["ship"].setText(
            f"{detail.ship_name}\n〒{detail.ship_postal_code} {detail.ship_prefecture}{detail.ship_address}\n"
            f"{detail.ship_phone}"
        )

    def _fill_items(self, detail: OrderDetail) -> None:
        self.items.setRowCount(len(detail.items))
        for row, item in enumerate(detail.items):
            values = (item.name, yen(item.unit_price), str(item.quantity), yen(item.subtotal))
            for column, value in enumerate(values):
                cell = QTableWidgetItem(value)
                if column:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.items.setItem(row, column, cell)
        _fit_height(self.items)

    def _fill_charge_permission(self, detail: OrderDetail) -> None:
        cp = detail.charge_permission
        labels = self.cp_labels
        if cp is None:
            for label in labels.values():
                label.setText("—")
            return
        labels["id"].setText(cp.id)
        reason = f"({cp.reason_code})" if cp.reason_code else ""
        labels["state"].setText(CP_STATE_LABELS.get(cp.state, cp.state) + reason)
        if cp.expires_at is None:
            labels["expires"].setText("—")
        else:
            left = f"残り{cp.expires_in_days}日" if cp.expires_in_days else "期限切れ"
            labels["expires"].setText(f"{format_jst(cp.expires_at)}({left}, R13)")
        labels["limit"].setText(yen(cp.amount_limit) if cp.amount_limit is not None else "—")

    def _fill_timeline(self, detail: OrderDetail) -> None:
        entries: list[tuple[datetime, str, str, str, str]] = []
        for charge in detail.charges:
            purpose = PURPOSE_LABELS.get(charge.purpose, charge.purpose)
            what = f"{purpose}({ORIGIN_LABELS.get(charge.origin, charge.origin)})"
            state = charge.label
            if charge.expires_in_days is not None:
                state += f" ・ 残り{charge.expires_in_days}日"
            if charge.reason_code:
                state += f" ・ {charge.reason_code}"
            entries.append((charge.created_at, what, yen(charge.amount), state, ""))
            if charge.captured:
                entries.append((charge.created_at, f"└ 売上({charge.id[-8:]})", yen(charge.captured), charge.label, ""))
        for refund in detail.refunds:
            reason = f" {refund.reason}" if refund.reason else ""
            what = f"返金({ORIGIN_LABELS.get(refund.origin, refund.origin)}){reason}"
            entries.append((refund.created_at, what, yen(refund.amount), refund.label, ""))
        for entry in detail.journal:
            action = ACTION_LABELS.get(entry.action, entry.action)
            phase = PHASE_LABELS.get(entry.phase, entry.phase)
            by_us = entry.actor in ("operator", "sync", "buyer")
            who = "" if by_us else f"[{ORIGIN_LABELS.get(entry.actor, entry.actor)}] "
            # An event is a record in itself: 「金額変更」, not 「金額変更・記録」.
            text = f"{who}{action}" if entry.phase == "event" else f"{who}{action}・{phase}"
            if entry.detail and entry.phase != "intent":
                text += f": {entry.detail}"
            outcome = OUTCOME_LABELS.get(entry.outcome or "", entry.outcome or "")
            entries.append((entry.at, text, yen(entry.amount) if entry.amount else "", outcome, entry.operator))
        for message in getattr(detail, "messages", ()):  # R51: messages to the customer (issue 5)
            state = message.status_label + (f": {message.error}" if message.error else "")
            entries.append(
                (message.sent_at or message.created_at, f"メッセージ「{message.subject}」", "", state, message.operator)
            )
        entries.sort(key=lambda e: e[0])
        self.timeline.setRowCount(len(entries))
        for row, (at, what, amount, state, who) in enumerate(entries):
            for column, value in enumerate((format_jst(at, seconds=True), what, amount, state, who)):
                cell = QTableWidgetItem(value)
                cell.setToolTip(value)
                if column == 2:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.timeline.setItem(row, column, cell)
        self.timeline.resizeRowsToContents()
        _fit_height(self.timeline)


def _fit_height(table: QTableWidget) -> None:
    """Show every row without an inner scroll bar (the panel itself scrolls)."""
    height = table.horizontalHeader().height() + 2 * table.frameWidth()
    height += sum(table.rowHeight(row) for row in range(table.rowCount()))
    table.setFixedHeight(max(height, table.horizontalHeader().height() + 8))
    table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
