"""取込: preview a shop's order file, then import it, both off the GUI thread (issue 11 item 6).

The file is first checked (``import_file(dry_run=True)``: nothing written) and every order and
refused row shown; 取り込む runs the real import with a determinate progress bar. 中止 stops a
check at once and an import between chunks of whole orders (core.imports.service), so an order
is never half-written. Every error is a Japanese sentence in the dialog, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.domain import Tone
from core.errors import UserError
from core.imports.service import ImportProgress, ImportRefused, ImportService, ImportSummary
from gui.errors import error_message, show_error
from gui.imports.labels import ENCODING_CHOICES, FORMAT_CHOICES, column_label, encoding_label, format_label
from gui.imports.message_frame import MessageFrame
from gui.imports.preview_model import HEADERS, PreviewColumn, PreviewModel, refused_rows, rows_of
from gui.tasks import READ, CancelToken, TaskRunner

MISMATCH_SHOWN = 10  # order numbers named in the result; the rest are counted
REFUSED_SHOWN = 3  # refused rows spelled out above the table (all are in it)


def counts_text(summary: ImportSummary) -> str:
    return (
        f"追加 {summary.added:,}件 / 更新 {summary.updated:,}件 / 変更なし {summary.unchanged:,}件 / "
        f"連携 {summary.linked:,}件 / 未連携 {summary.unlinked:,}件"
    )


def result_text(summary: ImportSummary) -> str:
    """The result summary: counts, the orders whose file total differs from Amazon's, 中止."""
    lines = []
    if summary.cancelled:
        lines.append(
            "取込を中止しました。ここまでに取り込んだ受注は商品まで揃って保存され、残りの受注は取り込んでいません。"
        )
    else:
        lines.append("取り込みました。")
    lines.append(f"{counts_text(summary)} / 除外 {len(summary.refused):,}件")
    if summary.mismatches:
        named = "、".join(summary.mismatches[:MISMATCH_SHOWN])
        more = len(summary.mismatches) - MISMATCH_SHOWN
        lines.append(
            f"ファイルの合計金額がAmazon Payの金額と異なる受注 {len(summary.mismatches):,}件: {named}"
            + (f" ほか{more:,}件" if more > 0 else "")
            + "(金額はAmazon Payの値を使っています)"
        )
    lines.extend(notice_lines(summary))
    return "\n".join(lines)


def notice_lines(summary: ImportSummary) -> list[str]:
    """What the operator must do by hand (a キャンセル in the file the import did not take, R35)."""
    if not summary.notices_total:
        return []
    shown = [f"・受注 {n.number}({n.line:,}行目): {n.reason}" for n in summary.notices[:REFUSED_SHOWN]]
    more = summary.notices_total - len(shown)
    return [f"要対応 {summary.notices_total:,}件:", *shown, *([f"ほか{more:,}件"] if more > 0 else [])]


class ImportDialog(QDialog):
    """Preview, then import, one order file.

    Signals:
        imported(object): the ``ImportSummary`` of an import that wrote (also a cancelled one).
    """

    imported = Signal(object)

    def __init__(self, imports: ImportService, runner: TaskRunner, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importDialog")
        self.setWindowTitle(f"受注ファイルの取込 — {path.name}")
        self.imports = imports
        self.runner = runner
        self.path = path
        self.preview: ImportSummary | None = None  # the last complete check
        self.outcome: ImportSummary | None = None  # the import's outcome
        self.busy = ""  # "" | "preview" | "apply"
        self._token: CancelToken | None = None
        self._generation = 0
        self._build()
        self.resize(1100, 720)

    # --- construction --------------------------------------------------------------------

    def _build(self) -> None:
        self.file_label = QLabel(f"ファイル: {self.path}")
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.format_combo = QComboBox()
        self.format_combo.setObjectName("importFormat")
        for value, label in FORMAT_CHOICES:
            self.format_combo.addItem(label, value)
        self.encoding_combo = QComboBox()
        self.encoding_combo.setObjectName("importEncoding")
        for value, label in ENCODING_CHOICES:
            self.encoding_combo.addItem(label, value)
        self.mapping_button = QPushButton("列の対応を編集…")
        self.mapping_button.setToolTip(
            "ほかのCSVの列を、受注番号・注文日時・合計などに対応させて名前を付けて保存します。"
        )
        self.recheck_button = QPushButton("再確認")
        self.recheck_button.setToolTip("ファイルをもう一度読み、取り込む内容を確認し直します。")
        choose = QHBoxLayout()
        choose.addWidget(QLabel("形式:"))
        choose.addWidget(self.format_combo)
        choose.addSpacing(12)
        choose.addWidget(QLabel("文字コード:"))
        choose.addWidget(self.encoding_combo)
        choose.addSpacing(12)
        choose.addWidget(self.mapping_button)
        choose.addWidget(self.recheck_button)
        choose.addStretch(1)
        self.detected_label = QLabel()
        self.detected_label.setObjectName("importDetected")
        self.message = MessageFrame("importMessage")

        self.progress_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("importProgress")
        self.cancel_button = QPushButton("中止")
        self.cancel_button.setObjectName("importCancel")
        progress = QHBoxLayout()
        progress.addWidget(self.progress_label)
        progress.addWidget(self.progress_bar, 1)
        progress.addWidget(self.cancel_button)
        self.progress_row = QWidget()
        self.progress_row.setLayout(progress)
        progress.setContentsMargins(0, 0, 0, 0)
        self.progress_row.hide()

        self.counts_label = QLabel()
        self.counts_label.setObjectName("importCounts")
        self.model = PreviewModel(self)
        self.table = self._build_table()
        self.skip_check = QCheckBox("取込不可の行を除いて取り込む")
        self.skip_check.setObjectName("importSkipBad")
        self.skip_check.setEnabled(False)
        self.result_frame = MessageFrame("importResult")
        self.import_button = QPushButton("取り込む")
        self.import_button.setObjectName("importApply")
        self.import_button.setDefault(True)
        self.import_button.setEnabled(False)
        self.close_button = QPushButton("閉じる")
        buttons = QHBoxLayout()
        buttons.addWidget(self.skip_check)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.file_label)
        layout.addLayout(choose)
        layout.addWidget(self.detected_label)
        layout.addWidget(self.message)
        layout.addWidget(self.progress_row)
        layout.addWidget(self.counts_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.result_frame)
        layout.addLayout(buttons)

        self.format_combo.currentIndexChanged.connect(lambda _i: self.start_preview())
        self.encoding_combo.currentIndexChanged.connect(lambda _i: self.start_preview())
        self.recheck_button.clicked.connect(self.start_preview)
        self.mapping_button.clicked.connect(self.open_mapping_editor)
        self.cancel_button.clicked.connect(self.cancel)
        self.skip_check.toggled.connect(lambda _on: self._update_buttons())
        self.import_button.clicked.connect(self.start_import)
        self.close_button.clicked.connect(self.reject)

    def _build_table(self) -> QTableView:
        table = QTableView()
        table.setObjectName("importPreview")
        table.setModel(self.model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setWordWrap(False)
        table.setAlternatingRowColors(True)
        table.verticalHeader().setVisible(False)
        # Fixed row heights and column widths: the view never measures 100,000 rows.
        metrics = QFontMetrics(table.font())
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.verticalHeader().setDefaultSectionSize(metrics.height() + 8)
        header = table.horizontalHeader()
        header.setStretchLastSection(True)
        widest = {
            PreviewColumn.LINE: "1,000,000",
            PreviewColumn.NUMBER: "K01000000-00",
            PreviewColumn.ACTION: "変更なし",
            PreviewColumn.CHANGES: "お届け先住所、商品、伝票番号",
            PreviewColumn.LINK: "未連携",
            PreviewColumn.COLUMN: "請求合計金額(税込)",
        }
        for column, text in widest.items():
            width = max(metrics.horizontalAdvance(text), metrics.horizontalAdvance(HEADERS[column]) + 18)
            header.resizeSection(column, width + 16)
        return table

    def _load_mappings(self) -> None:
        """Saved mapping names join the format choices (a small table, read on the read lane)."""

        def arrived(names: list[str]) -> None:
            self.add_mapping_names(names)

        self.runner.run(lambda: sorted(self.imports.mappings()), arrived, self._on_bug, lane=READ)

    def add_mapping_names(self, names: list[str]) -> None:
        self.format_combo.blockSignals(True)
        for name in names:
            if self.format_combo.findData(name) < 0:
                self.format_combo.addItem(name, name)
        self.format_combo.blockSignals(False)

    # --- the check (nothing written) -----------------------------------------------------

    def start(self) -> None:
        """Read the saved mappings, then check the file with the automatic choices."""
        self._load_mappings()
        self.start_preview()

    def chosen(self) -> tuple[str, str]:
        return str(self.format_combo.currentData()), str(self.encoding_combo.currentData())

    def start_preview(self) -> None:
        if self.busy == "apply" or self.outcome is not None:
            return
        if self._token is not None:
            self._token.cancel()  # a check of the former choices stops and is ignored
        self._generation += 1
        generation = self._generation
        token = CancelToken()
        self._token = token
        format_name, encoding = self.chosen()
        self.preview = None
        self.model.set_rows([])
        self.counts_label.setText("")
        self.message.hide()
        self.detected_label.setText("")
        self._set_busy("preview", "ファイルを確認しています…")
        relay = self.runner.progress_callback(lambda p: self._on_progress(generation, p))

        def check() -> ImportSummary:
            return self.imports.import_file(
                self.path, format=format_name, encoding=encoding, dry_run=True, progress=relay, cancel=token.cancelled
            )

        self.runner.run(
            check,
            lambda summary: self._on_preview_done(generation, summary),
            lambda exc: self._on_preview_failed(generation, exc),
        )

    def _on_progress(self, generation: int, progress: ImportProgress) -> None:
        if generation != self._generation or not self.busy:
            return
        if self._token is not None and self._token.cancelled():
            return  # the label says 中止しています… until the worker has stopped
        if progress.phase == "check":
            self.progress_bar.setRange(0, 0)
            self.progress_label.setText(f"ファイルを確認しています… {progress.done:,}行")
        else:
            self.progress_bar.setRange(0, max(progress.total, 1))
            self.progress_bar.setValue(progress.done)
            self.progress_label.setText(f"書き込んでいます… {progress.done:,} / {progress.total:,}件")

    def _on_preview_done(self, generation: int, summary: ImportSummary) -> None:
        if generation != self._generation:
            return
        self._set_busy("")
        self._show_detected(summary)
        if summary.cancelled:
            self.message.show_message(
                "確認を中止しました。何も取り込んでいません。「再確認」でもう一度確認できます。", Tone.ATTENTION
            )
            self._update_buttons()
            return
        self.preview = summary
        self.model.set_rows(rows_of(summary))
        self.counts_label.setText(
            f"取込前の確認(まだ何も書き込んでいません): {counts_text(summary)} / 取込不可 {len(summary.refused):,}件"
        )
        if summary.refused:
            shown = [
                f"・{r.line:,}行目" + (f" {column_label(r.column)}" if r.column else "") + f": {r.reason}"
                for r in summary.refused[:REFUSED_SHOWN]
            ]
            more = len(summary.refused) - REFUSED_SHOWN
            self.message.show_message(
                "\n".join(
                    [
                        f"取り込めない行が{len(summary.refused):,}件あります(表の先頭に行・列・理由を表示しています)。"
                        "ファイルを直して「再確認」するか、「取込不可の行を除いて取り込む」を選んでください。",
                        *shown,
                        *([f"ほか{more:,}件"] if more > 0 else []),
                    ]
                ),
                Tone.FAILURE,
            )
        elif summary.notices_total:
            self.message.show_message("\n".join(notice_lines(summary)), Tone.ATTENTION)
        elif not summary.orders:
            self.message.show_message("取り込む受注がありません。", Tone.ATTENTION)
        self._update_buttons()

    def _on_preview_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._set_busy("")
        self.detected_label.setText("形式・文字コード: 判別できませんでした")
        text = error_message(exc)
        if isinstance(exc, UserError) and ("形式" in text or "必要な列" in text):
            # Not a format we know (or not the one chosen): the mapping editor is the way on.
            text += "\n「列の対応を編集…」で列を指定すると、ほかの形式のファイルも取り込めます。"
        self.message.show_message(text, Tone.FAILURE)
        if not isinstance(exc, UserError):
            self._on_bug(exc)
        self._update_buttons()

    def _show_detected(self, summary: ImportSummary) -> None:
        self.detected_label.setText(
            f"形式: {format_label(summary.format)} / 文字コード: {encoding_label(summary.encoding)}"
        )

    # --- the import ----------------------------------------------------------------------

    def can_import(self) -> bool:
        preview = self.preview
        if preview is None or self.busy or self.outcome is not None:
            return False
        if preview.refused and not self.skip_check.isChecked():
            return False  # nothing is imported while a row is refused, unless it is skipped
        return bool(preview.orders)

    def start_import(self) -> None:
        if not self.can_import():
            return
        preview = self.preview
        assert preview is not None
        self._generation += 1
        generation = self._generation
        token = CancelToken()
        self._token = token
        skip_bad = self.skip_check.isChecked()
        self.message.hide()
        self._set_busy("apply", "取り込む前にもう一度確認しています…")
        relay = self.runner.progress_callback(lambda p: self._on_progress(generation, p))

        def run() -> ImportSummary:
            # The format and encoding the check found, so the import reads the file the same way.
            return self.imports.import_file(
                self.path,
                format=preview.format,
                encoding=preview.encoding,
                skip_bad=skip_bad,
                progress=relay,
                cancel=token.cancelled,
            )

        self.runner.run(
            run,
            lambda summary: self._on_import_done(generation, summary),
            lambda exc: self._on_import_failed(generation, exc),
        )

    def _on_import_done(self, generation: int, summary: ImportSummary) -> None:
        if generation != self._generation:
            return
        self._set_busy("")
        self.outcome = summary
        self.model.set_rows(rows_of(summary))
        self.counts_label.setText("取り込んだ受注と除外した行:")
        tone = Tone.SUCCESS
        if summary.cancelled or summary.refused or summary.mismatches or summary.notices_total:
            tone = Tone.ATTENTION
        self.result_frame.show_message(result_text(summary), tone)
        self.close_button.setDefault(True)
        self.close_button.setFocus()
        self._update_buttons()
        self.imported.emit(summary)

    def _on_import_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._set_busy("")
        if isinstance(exc, ImportRefused):
            # The file changed since the check: its refused rows, and nothing written.
            self.preview = None
            self.model.set_rows(refused_rows(exc.refused))
        self.message.show_message(error_message(exc), Tone.FAILURE)
        if not isinstance(exc, UserError):
            self._on_bug(exc)
        self._update_buttons()

    # --- cancel and close ----------------------------------------------------------------

    def cancel(self) -> None:
        """Stop the check now, or the import after the chunk of whole orders being written."""
        if self._token is None or not self.busy:
            return
        self._token.cancel()
        self.cancel_button.setEnabled(False)
        if self.busy == "apply":
            self.progress_label.setText("中止しています…(書き込み中の受注がそろうと止まります)")
        else:
            self.progress_label.setText("確認を中止しています…")

    def reject(self) -> None:
        if self.busy == "apply":
            self.cancel()  # the window stays until the orders being written are whole
            return
        if self.busy == "preview":
            self.cancel()
            self._generation += 1
            self._set_busy("")
        super().reject()

    # --- the mapping editor --------------------------------------------------------------

    def open_mapping_editor(self) -> None:
        """The file's header row (read on the read lane), then the editor for a new mapping."""
        from core.imports.reader import read_headers

        encoding = str(self.encoding_combo.currentData())
        current = str(self.format_combo.currentData())

        def read() -> tuple[tuple[str, ...], object]:
            headers = read_headers(self.path, encoding=encoding)
            mapping = self.imports.mappings().get(current)
            return headers, mapping

        def arrived(result: tuple[tuple[str, ...], object]) -> None:
            from core.imports.mapping import ColumnMapping
            from gui.imports.mapping_dialog import MappingDialog

            headers, mapping = result
            dialog = MappingDialog(
                self.imports,
                self.runner,
                headers,
                mapping if isinstance(mapping, ColumnMapping) else None,
                parent=self,
            )
            dialog.saved.connect(self._on_mapping_saved)
            self.mapping_dialog = dialog
            dialog.open()

        def failed(exc: BaseException) -> None:
            self.message.show_message(error_message(exc), Tone.FAILURE)
            if not isinstance(exc, UserError):
                self._on_bug(exc)

        self.runner.run(read, arrived, failed, lane=READ)

    def _on_mapping_saved(self, name: str) -> None:
        self.add_mapping_names([name])
        index = self.format_combo.findData(name)
        if index == self.format_combo.currentIndex():
            self.start_preview()  # the mapping changed under the same name
        else:
            self.format_combo.setCurrentIndex(index)  # → start_preview

    # --- state ---------------------------------------------------------------------------

    def _set_busy(self, busy: str, text: str = "") -> None:
        self.busy = busy
        self.progress_row.setVisible(bool(busy))
        self.cancel_button.setEnabled(bool(busy))
        self.progress_bar.setRange(0, 0)
        self.progress_label.setText(text)
        for widget in (self.format_combo, self.encoding_combo, self.mapping_button, self.recheck_button):
            widget.setEnabled(busy != "apply" and self.outcome is None)
        self._update_buttons()

    def _update_buttons(self) -> None:
        preview = self.preview
        self.skip_check.setEnabled(
            preview is not None and bool(preview.refused) and not self.busy and self.outcome is None
        )
        self.import_button.setEnabled(self.can_import())
        self.close_button.setEnabled(self.busy != "apply")
        for widget in (self.format_combo, self.encoding_combo, self.mapping_button, self.recheck_button):
            widget.setEnabled(self.busy != "apply" and self.outcome is None)

    def _on_bug(self, exc: BaseException) -> None:
        show_error(self, exc, title="予期しないエラー")
