"""The first start's question: who works at this PC (issue 14 item 3).

Several PCs share one store; every journal entry and message records the name given here
(core.operator keeps it in this user's data directory, not in the shared database). The
question is window-modal but does not block (``open``), so the window paints and loads behind
it; cancelled, it is asked again at the next start and the OS user name is recorded meanwhile.
The name is changed later in 設定 or with ``kanjo settings set operator_name NAME``.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from core.errors import UserError
from core.operator import MAX_OPERATOR_CHARS, normalize_operator_name


class OperatorNameDialog(QDialog):
    """Asks 担当者名; :attr:`name` holds the checked name once accepted."""

    def __init__(self, suggestion: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("operatorNameDialog")
        self.setWindowTitle("担当者名")
        self.name: str | None = None
        intro = QLabel(
            "この端末で作業する担当者の名前を入力してください。入金処理・返金・金額変更などの記録と、"
            "お客様へのメッセージの署名(R50)に使います。あとから「設定」で変更できます。"
        )
        intro.setWordWrap(True)
        self.field = QLineEdit(suggestion)
        self.field.setObjectName("operatorName")
        self.field.setMaxLength(MAX_OPERATOR_CHARS)
        self.field.selectAll()
        self.error = QLabel()
        self.error.setObjectName("operatorNameError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e;")
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("保存")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("あとで")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.field)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def accept(self) -> None:
        try:
            self.name = normalize_operator_name(self.field.text())
        except UserError as exc:  # blank, a control character, too long: said here, nothing saved
            self.error.setText(exc.message)
            self.error.show()
            return
        super().accept()


def ask_operator_name(parent: QWidget, suggestion: str, chosen: Callable[[str], None]) -> OperatorNameDialog:
    """Open the question without blocking; ``chosen`` gets the name when it is saved."""
    dialog = OperatorNameDialog(suggestion, parent)

    def finished(result: int) -> None:
        if result == QDialog.DialogCode.Accepted and dialog.name is not None:
            chosen(dialog.name)
        dialog.deleteLater()

    dialog.finished.connect(finished)
    dialog.open()
    return dialog
