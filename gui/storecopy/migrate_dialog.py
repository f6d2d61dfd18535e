"""共有データベースへ移行: the window's ``kanjo store copy --to URL`` (issue 14 item 5).

The copy runs on a thread of its own (never the GUI thread), reports its progress through a
queued signal and stops at the next chunk when 中止 is pressed: the copy is one PostgreSQL
transaction, so a cancelled or failed copy leaves the target as empty as it was
(core/storecopy). The store this window runs on is only read. At the end the dialog says how
to start on the shared store.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.engine import make_url

from core.db_choice import DEFAULT_PORT, POSTGRESQL, DatabaseChoice
from core.errors import UserError
from core.storecopy import CopyCancelled, CopyResult, copy_store
from gui.errors import error_message

log = logging.getLogger(__name__)
EXAMPLE_URL = "postgresql+psycopg://USER@HOST:5432/DB"


class _Relay(QObject):
    """Lives on the GUI thread; the worker emits, the slots run here (queued)."""

    progressed = Signal(str, int, int)
    done = Signal(object)  # CopyResult or BaseException


def choice_from_url(url: str) -> DatabaseChoice | None:
    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != POSTGRESQL:
        return None
    choice = DatabaseChoice(
        POSTGRESQL, parsed.host or "", parsed.port or DEFAULT_PORT, parsed.database or "", parsed.username or ""
    )
    return choice if choice.problem() is None else None


class MigrateDialog(QDialog):
    """Signals: copied(DatabaseChoice, str): the copy finished and was verified (choice, the
    password typed here or "")."""

    copied = Signal(object, str)

    def __init__(self, source: Path, target: DatabaseChoice | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("migrateDialog")
        self.setWindowTitle("共有データベースへ移行")
        self.setMinimumWidth(560)
        self.source = source
        self.url = QLineEdit((target.url() if target is not None else None) or "")
        self.url.setObjectName("migrateUrl")
        self.url.setPlaceholderText(EXAMPLE_URL)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("必要なときだけ(保存済み・PGPASSWORD・~/.pgpass があれば空欄で可)")
        intro = QLabel(
            f"このPCのデータベース({source})を、空のPostgreSQLデータベースにコピーします。"
            "コピー元は読むだけで変更しません。行数と記録(journal)のハッシュを確かめてから確定し、"
            "中止や失敗のときはコピー先に何も残しません。コピーの開始後にこのPCで行った変更は移りません。"
        )
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("コピー先のURL", self.url)
        form.addRow("パスワード", self.password)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setObjectName("migrateStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start_button = QPushButton("移行を開始")
        self.start_button.setObjectName("migrateStart")
        self.cancel_button = QPushButton("中止")
        self.cancel_button.setObjectName("migrateCancel")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("閉じる")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self._relay = _Relay(self)
        self._relay.progressed.connect(self._on_progress)
        self._relay.done.connect(self._on_done)
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.result_copy: CopyResult | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        url = self.url.text().strip()
        if choice_from_url(url) is None:
            self.status.setText(f"コピー先にはPostgreSQLのURLを入力してください(例: {EXAMPLE_URL})。")
            return
        password = self.password.text() or None
        self._cancel.clear()
        self.result_copy = None
        self.start_button.setEnabled(False)
        self.close_button.setEnabled(False)
        self.url.setEnabled(False)
        self.password.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)  # busy until the first count arrives
        self.status.setText("コピー先を確認しています…")
        source, relay, cancel = self.source, self._relay, self._cancel

        def work() -> None:
            try:
                outcome: object = copy_store(
                    source,
                    url,
                    password=password,
                    progress=lambda table, done, total: relay.progressed.emit(table, done, total),
                    cancelled=cancel.is_set,
                )
            except BaseException as exc:  # handed to the GUI thread, which tells it apart
                outcome = exc
            relay.done.emit(outcome)

        self._thread = threading.Thread(target=work, name="kanjo-store-copy", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        if self.running:
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.status.setText("中止しています…(コピー先の変更を取り消します)")

    def _on_progress(self, table: str, done: int, total: int) -> None:
        if self._cancel.is_set():
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        if table:
            self.status.setText(f"コピーしています: {table}(全{total:,}行中 {done:,}行)")
        else:
            self.status.setText("行数と記録(journal)のハッシュを確認しました。確定しています…")

    def _on_done(self, outcome: object) -> None:
        if self._thread is not None:
            self._thread.join()
        self._thread = None
        self.cancel_button.setEnabled(False)
        self.close_button.setEnabled(True)
        self.progress.setRange(0, 1)
        if isinstance(outcome, CopyResult):
            self.result_copy = outcome
            self.progress.setValue(1)
            rows = sum(outcome.tables.values())
            self.status.setText(
                f"移行しました: {rows:,}行(受注 {outcome.tables.get('orders', 0):,}件)を {outcome.to} にコピーし、"
                "行数と記録(journal)のハッシュが一致することを確認しました。\n"
                "共有データベースで始めるには: この設定画面の「データベース」で「共有(PostgreSQL)」が選ばれた状態で"
                "「保存」を押し、Kanjoを再起動してください(ほかのPCも同じ接続先を設定します)。"
                f"コマンドでは kanjo --db {outcome.to} … で使えます。このPCのデータベースはそのまま残ります。"
            )
            choice = choice_from_url(self.url.text().strip())
            if choice is not None:
                self.copied.emit(choice, self.password.text())
            self.start_button.setEnabled(False)
            return
        self.progress.setValue(0)
        self.start_button.setEnabled(True)
        self.url.setEnabled(True)
        self.password.setEnabled(True)
        if isinstance(outcome, CopyCancelled):
            self.status.setText("移行を中止しました。コピー先には何も書き込んでいません。")
        elif isinstance(outcome, UserError):
            self.status.setText(outcome.message)
        elif isinstance(outcome, BaseException):  # a bug: the log keeps the traceback (no values)
            log.error("store copy failed", exc_info=(type(outcome), outcome, outcome.__traceback__))
            self.status.setText(f"移行できませんでした。{error_message(outcome)}")

    def wait(self, timeout: float | None = None) -> None:
        """Tests: wait for the worker thread (its result still arrives through the event loop)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def reject(self) -> None:  # Esc or the title bar's close while copying: cancel, do not vanish
        if self.running:
            self.cancel()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.running:
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)
