"""列の対応: for "any other CSV", which of the file's columns carries each order field.

Saved under a name with ``ImportService.save_mapping`` (issue 11 item 1: ``--format NAME``); the
import dialog then uses it. A field may take two columns joined with ``+`` (``住所1+住所2``),
typed into its box. Required fields left empty: a Japanese message, nothing saved.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.domain import Tone
from core.errors import UserError
from core.imports.formats import BUILTIN
from core.imports.formats.base import FIELD_LABELS, FIELDS
from core.imports.mapping import REQUIRED_FIELDS, ColumnMapping
from core.imports.service import ImportService
from gui.errors import error_message, show_error
from gui.imports.message_frame import MessageFrame
from gui.tasks import TaskRunner

NOT_USED = ""  # the empty first entry of each box: the field is not in the file


def guess(key: str, headers: tuple[str, ...]) -> str:
    """A header that surely carries ``key``: its Japanese name or a name a known format uses."""
    present = set(headers)
    if FIELD_LABELS[key] in present:
        return FIELD_LABELS[key]
    for spec in BUILTIN.values():
        for group in spec.all_columns().get(key, ()):
            if len(group) == 1 and group[0] in present:
                return group[0]
    return NOT_USED


class MappingDialog(QDialog):
    """Signals:
    saved(str): the mapping was saved under this name.
    """

    saved = Signal(str)

    def __init__(
        self,
        imports: ImportService,
        runner: TaskRunner,
        headers: tuple[str, ...],
        mapping: ColumnMapping | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mappingDialog")
        self.setWindowTitle("列の対応を編集")
        self.imports = imports
        self.runner = runner
        self.headers = headers
        intro = QLabel(
            "ファイルの見出し行の列を、受注の各項目に対応させます。* の項目は必須です。"
            "2つの列をつなげるときは「住所1+住所2」のように入力します。"
        )
        intro.setWordWrap(True)
        self.name = QLineEdit(mapping.name if mapping is not None else "")
        self.name.setObjectName("mappingName")
        self.name.setPlaceholderText("例: 自社カート")
        self.boxes: dict[str, QComboBox] = {}
        form = QFormLayout()
        form.addRow("名前 *", self.name)
        for key in FIELDS:
            box = QComboBox()
            box.setObjectName(f"mapping_{key}")
            box.setEditable(True)
            box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            box.addItem(NOT_USED)
            box.addItems(list(headers))
            line_edit = box.lineEdit()
            if line_edit is not None:
                line_edit.setPlaceholderText("(使わない)")
            chosen = mapping.columns.get(key, NOT_USED) if mapping is not None else guess(key, headers)
            box.setCurrentText(chosen)
            self.boxes[key] = box
            label = FIELD_LABELS[key] + (" *" if key in REQUIRED_FIELDS else "")
            form.addRow(label, box)
        fields = QWidget()
        fields.setLayout(form)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(fields)
        self.message = MessageFrame("mappingMessage")
        self.buttons = QDialogButtonBox()
        self.save_button = self.buttons.addButton("保存", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("mappingSave")
        self.buttons.addButton("キャンセル", QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        columns = QLabel(f"ファイルの列: {'、'.join(headers)}")
        columns.setWordWrap(True)
        layout.addWidget(columns, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(560, 720)

    def columns(self) -> dict[str, str]:
        return {key: box.currentText().strip() for key, box in self.boxes.items() if box.currentText().strip()}

    def save(self) -> None:
        try:
            mapping = ColumnMapping(name=self.name.text().strip(), columns=self.columns())
        except UserError as exc:  # a missing name or required field: nothing saved
            self.message.show_message(exc.message, Tone.FAILURE)
            return
        self.save_button.setEnabled(False)
        self.message.show_message("保存しています…", Tone.PROGRESS)

        def saved(_result: object) -> None:
            self.message.hide()
            self.saved.emit(mapping.name)
            self.accept()

        def failed(exc: BaseException) -> None:
            self.save_button.setEnabled(True)
            self.message.show_message(error_message(exc), Tone.FAILURE)
            if not isinstance(exc, UserError):
                show_error(self, exc, title="予期しないエラー")

        self.runner.run(lambda: self.imports.save_mapping(mapping), saved, failed)
