"""一括発送: a shipping file (B2クラウド, e飛伝 or any CSV with the columns) is checked first and
shown (nothing changed), then shipped with progress and 中止, ending in a result list."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.domain import Tone
from core.shipping.carriers import carrier_label
from core.shipping.service import BulkResult, ShippingService
from gui.shipping.common import StatusLine, run_task
from gui.tasks import CancelToken, TaskRunner


class BulkShipDialog(QDialog):
    def __init__(self, service: ShippingService, runner: TaskRunner, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service, self.runner, self.path = service, runner, Path(path)
        self.preview: BulkResult | None = None
        self.result_value: BulkResult | None = None
        self.token: CancelToken | None = None
        self.setWindowTitle(f"一括発送 — {self.path.name}")
        self.resize(760, 480)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("bulkRows")
        self.table.setHorizontalHeaderLabels(["行", "受注番号", "内容", "結果"])
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = StatusLine()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.ship_button = self.buttons.addButton("発送する", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ship_button.setObjectName("bulkShipButton")
        self.ship_button.setEnabled(False)
        self.stop_button = self.buttons.addButton("中止", QDialogButtonBox.ButtonRole.ActionRole)
        self.stop_button.setEnabled(False)
        self.buttons.rejected.connect(self.reject)
        self.ship_button.clicked.connect(self.ship)
        self.stop_button.clicked.connect(self.stop)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    def open(self) -> None:
        super().open()
        self.check()

    def check(self) -> None:
        run_task(
            self.runner,
            self.ship_button,
            self.status,
            lambda: self.service.ship_file(self.path, dry_run=True),
            self._previewed,
            busy="発送ファイルを確認しています(まだ何も変更しません)…",
        )

    def _rows(self, result: BulkResult, *, done: bool) -> None:
        rows: list[tuple[str, str, str, str]] = []
        for planned in result.planned:
            what = f"{carrier_label(planned['carrier'])} {planned['tracking']}" + (
                "(先に入金処理)" if planned["capture"] else ""
            )
            rows.append((str(planned["line"]), planned["number"], what, "発送しました" if done else "発送します"))
        for number in result.skipped_numbers:
            rows.append(("", number, "", "発送済みのため飛ばします"))
        for refused in result.refused:
            rows.append(
                (str(refused["line"]), str(refused.get("number", "")), "", f"登録できません: {refused['reason']}")
            )
        self.table.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()

    def _previewed(self, result: BulkResult) -> None:
        self.preview = result
        self._rows(result, done=False)
        self.summary.setText(
            f"発送予定 {len(result.planned)}件 / 発送済みで飛ばす {result.skipped}件 / 登録できない行 {len(result.refused)}件"
            + (f"\n{result.notice_note}" if result.notice_note else "")
        )
        self.status.show_text("確認しました。内容を見て「発送する」を押してください。", Tone.NEUTRAL)
        self.ship_button.setEnabled(bool(result.planned))

    def ship(self) -> None:
        total = len(self.preview.planned) if self.preview else 0
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.token = CancelToken()
        token = self.token
        relay = self.runner.progress_callback(lambda done, _total: self.progress.setValue(done))
        self.stop_button.setEnabled(True)
        self.ship_button.setEnabled(False)
        run_task(
            self.runner,
            self.ship_button,
            self.status,
            lambda: self.service.ship_file(self.path, progress=relay, canceled=token.cancelled),
            self._finished,
            busy="入金処理・発送の登録・発送通知をしています…",
        )

    def stop(self) -> None:
        if self.token is not None:
            self.token.cancel()
            self.status.show_text("中止しています(処理中の受注が終わったら止まります)…", Tone.ATTENTION)

    def _finished(self, result: BulkResult) -> None:
        self.result_value = result
        self.stop_button.setEnabled(False)
        self.ship_button.setEnabled(False)
        self._rows(result, done=True)
        state = "中止しました" if result.canceled else "完了しました"
        self.status.show_text(
            f"{state}: 発送 {result.shipped}件(入金処理 {result.captured}件、発送通知 {result.notified}件)、"
            f"飛ばした受注 {result.skipped}件、登録できなかった行 {len(result.refused)}件",
            Tone.ATTENTION if result.refused or result.canceled else Tone.SUCCESS,
        )
