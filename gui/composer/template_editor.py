"""Template editor (issue 5 §3): copy a built-in, edit it with a live preview, save versions.

Built-ins are shown read-only; 「コピーして編集」 makes the operator's own copy. Saving adds a
version (core refuses an unknown variable by name, bad syntax, or anything the sandbox
refuses, and the dialog shows that line in red: nothing is saved). Any earlier version, and
for a copy the built-in it came from, can be made current again.

The preview fills the text being typed for the order the composer was opened on (or a
made-up order), 250 ms after the last key press. Filling is bounded (see
``core.messages.budget``) but a template at its budget takes a second or two, so it runs on the
editor's own worker thread: the window keeps answering, and only the newest text's result is
shown (an older render that finishes later is dropped).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.clock import format_jst
from core.errors import StaleEdit, UserError
from core.messages.rendering import Rendered
from core.messages.variables import sample_variables
from core.services.messages import MessageService, TemplateInfo
from gui.composer.common import ERROR_STYLE
from gui.tasks import TaskRunner

PREVIEW_DELAY_MS = 250


class TemplateEditorDialog(QDialog):
    """Signals:
    templates_changed(): a template was saved, restored or deleted.
    """

    templates_changed = Signal()

    def __init__(
        self,
        messages: MessageService,
        *,
        variables: Mapping[str, Any] | None = None,
        order_number: str | None = None,
        select: str | None = None,
        runner: TaskRunner | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        # Renders run here, never on the composer's lanes (a slow template must not hold a capture).
        self.runner = runner if runner is not None else TaskRunner(parent=self)
        self._preview_generation = 0
        self.setObjectName("templateEditor")
        self.setWindowTitle("テンプレートの編集")
        self.resize(1100, 720)
        self.messages = messages
        self.preview_variables = variables if variables is not None else sample_variables()
        self.confirm: Callable[[str], bool] = self._confirm  # tests replace it
        self.current: TemplateInfo | None = None
        self._loading = False
        self._dirty = False

        self.list = QListWidget()
        self.list.setObjectName("templateList")
        self.list.setMinimumWidth(260)

        self.title = QLineEdit()
        self.subject = QLineEdit()
        self.body = QPlainTextEdit()
        self.body.setObjectName("templateBody")
        self.body.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.info = QLabel()
        self.info.setObjectName("templateInfo")
        self.info.setWordWrap(True)
        form = QFormLayout()
        form.addRow("題名", self.title)
        form.addRow("件名", self.subject)
        form.addRow("本文", self.body)

        self.copy_button = QPushButton("コピーして編集")
        self.save_button = QPushButton("保存")
        self.save_button.setObjectName("saveTemplateButton")
        self.versions = QComboBox()
        self.versions.setObjectName("versionPicker")
        self.restore_version_button = QPushButton("この版に戻す")
        self.restore_builtin_button = QPushButton("標準の内容に戻す")
        self.archive_button = QPushButton("削除")
        actions = QHBoxLayout()
        for widget in (self.copy_button, self.save_button):
            actions.addWidget(widget)
        actions.addStretch(1)
        actions.addWidget(self.versions)
        for button in (self.restore_version_button, self.restore_builtin_button, self.archive_button):
            actions.addWidget(button)
        self.error = QLabel()
        self.error.setObjectName("templateError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        editor = QWidget()
        editor_layout = QVBoxLayout(editor)
        editor_layout.setContentsMargins(0, 0, 0, 0)
        editor_layout.addWidget(self.info)
        editor_layout.addLayout(form, 1)
        editor_layout.addLayout(actions)
        editor_layout.addWidget(self.error)

        self.variables = QListWidget()
        self.variables.setObjectName("variableList")
        self.variables.setToolTip("ダブルクリックで本文のカーソル位置に挿入します。")
        for variable in messages.variables():
            item = QListWidgetItem(f"{variable.name} — {variable.description}")
            item.setData(Qt.ItemDataRole.UserRole, variable.name)
            item.setToolTip(f"{{{{ {variable.name} }}}}\n{variable.description}")
            self.variables.addItem(item)
        where = f"受注番号 {order_number}" if order_number and variables is not None else "サンプルの受注"
        self.preview_title = QLabel(f"プレビュー({where})")
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("templatePreview")
        self.preview.setReadOnly(True)
        self.preview_error = QLabel()
        self.preview_error.setObjectName("previewError")
        self.preview_error.setWordWrap(True)
        self.preview_error.setStyleSheet(ERROR_STYLE)
        self.preview_error.hide()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(QLabel("変数"))
        side_layout.addWidget(self.variables, 1)
        side_layout.addWidget(self.preview_title)
        side_layout.addWidget(self.preview, 2)
        side_layout.addWidget(self.preview_error)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.list)
        splitter.addWidget(editor)
        splitter.addWidget(side)
        splitter.setSizes([260, 520, 320])
        close = QPushButton("閉じる")
        close.clicked.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

        self.preview_timer = QTimer(self)
        self.preview_timer.setSingleShot(True)
        self.preview_timer.setInterval(PREVIEW_DELAY_MS)
        self.preview_timer.timeout.connect(self.refresh_preview)

        self.list.currentItemChanged.connect(self._on_list_current_item_changed)
        for field in (self.title, self.subject):
            field.textChanged.connect(self._on_text_changed)
        self.body.textChanged.connect(self._on_text_changed)
        self.variables.itemDoubleClicked.connect(self._on_variables_item_double_clicked)
        self.copy_button.clicked.connect(self.copy_current)
        self.save_button.clicked.connect(self.save)
        self.restore_version_button.clicked.connect(self.restore_version)
        self.restore_builtin_button.clicked.connect(self.restore_builtin)
        self.archive_button.clicked.connect(self.archive)
        self.reload(select)

    # --- list ----------------------------------------------------------------------------

    def reload(self, select: str | None = None) -> None:
        templates = self.messages.templates()
        self.list.blockSignals(True)
        self.list.clear()
        for info in templates:
            item = QListWidgetItem(info.label)
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setToolTip(f"{info.id}" + (f"(もとの標準: {info.based_on})" if info.based_on else ""))
            self.list.addItem(item)
        self.list.blockSignals(False)
        ids = [t.id for t in templates]
        row = ids.index(select) if select in ids else 0
        self.list.setCurrentRow(row)
        self._show(templates[row] if templates else None)

    def select(self, template_id: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == template_id:
                self.list.setCurrentRow(row)
                return
        raise KeyError(template_id)

    def _on_list_current_item_changed(self, current: QListWidgetItem | None, previous: QListWidgetItem | None) -> None:
        if current is None:
            return
        template_id = current.data(Qt.ItemDataRole.UserRole)
        if self.current is not None and template_id == self.current.id:
            return
        if self._dirty and not self.confirm("保存していない変更があります。破棄して切り替えますか?"):
            if previous is not None:
                self.list.blockSignals(True)
                self.list.setCurrentItem(previous)
                self.list.blockSignals(False)
            return
        self._show(self.messages.template(template_id))

    def _show(self, info: TemplateInfo | None) -> None:
        self.current = info
        self._loading = True
        editable = info is not None and not info.builtin
        self.title.setText(info.title if info else "")
        self.subject.setText(info.subject if info else "")
        self.body.setPlainText(info.body if info else "")
        for field in (self.title, self.subject, self.body):
            field.setReadOnly(not editable)
        self._loading = False
        self._dirty = False
        self.hide_error()
        if info is None:
            self.info.setText("")
        elif info.builtin:
            self.info.setText(
                f"標準テンプレート({info.rule})は変更できません。「コピーして編集」で自分用のテンプレートを作れます。"
            )
        else:
            source = f"標準テンプレート「{info.based_on}」をもとにしています。" if info.based_on else ""
            updated = format_jst(info.updated_at) if info.updated_at else ""
            self.info.setText(f"第{info.version}版({updated} 保存){source}")
        self._fill_versions(info)
        self._update_buttons()
        self.refresh_preview()

    def _fill_versions(self, info: TemplateInfo | None) -> None:
        self.versions.clear()
        if info is None or info.builtin:
            return
        for version in reversed(self.messages.versions(info.id)):
            self.versions.addItem(
                f"第{version.version}版 {format_jst(version.created_at)} {version.title}", version.version
            )

    def _update_buttons(self) -> None:
        info = self.current
        user = info is not None and not info.builtin
        self.copy_button.setEnabled(info is not None)
        self.save_button.setEnabled(user and self._dirty)
        self.versions.setEnabled(user and self.versions.count() > 1)
        self.restore_version_button.setEnabled(user and self.versions.count() > 1)
        self.restore_builtin_button.setEnabled(user and bool(info and info.based_on))
        self.archive_button.setEnabled(user)

    # --- editing and preview ---------------------------------------------------------------

    def _on_text_changed(self) -> None:
        if self._loading:
            return
        self._dirty = True
        self._update_buttons()
        self.preview_timer.start()

    def _on_variables_item_double_clicked(self, item: QListWidgetItem) -> None:
        if self.body.isReadOnly():
            return
        self.body.insertPlainText("{{ " + str(item.data(Qt.ItemDataRole.UserRole)) + " }}")
        self.body.setFocus()

    def refresh_preview(self) -> None:
        """Render the text on screen off the GUI thread; show it if it is still the newest."""
        self.preview_timer.stop()
        self._preview_generation += 1
        generation = self._preview_generation
        subject, body, variables = self.subject.text(), self.body.toPlainText(), self.preview_variables

        def shown(rendered: Rendered) -> None:
            if generation == self._preview_generation:
                self.preview_error.hide()
                self.preview.setPlainText(f"件名: {rendered.subject}\n{'─' * 30}\n{rendered.body}")

        def failed(exc: BaseException) -> None:
            if generation != self._preview_generation:
                return
            if not isinstance(exc, UserError):
                raise exc
            self.preview_error.setText(exc.message)
            self.preview_error.show()

        self.runner.run(lambda: self.messages.render_source(subject, body, variables), shown, failed)

    @property
    def preview_busy(self) -> bool:
        return self.runner.busy

    # --- actions -------------------------------------------------------------------------

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def hide_error(self) -> None:
        self.error.clear()
        self.error.hide()

    def _apply(self, action: Callable[[], TemplateInfo]) -> TemplateInfo | None:
        try:
            info = action()
        except StaleEdit as exc:
            # Issue 14 item 2: another operator saved a newer version meanwhile. Nothing was saved;
            # the message names the current version, the version list and the base are reloaded,
            # and the text on screen stays (history keeps every version, so saving it again after
            # reading the message loses nothing of the other operator's).
            self.show_error(exc.message)
            self._reload_current()
            return None
        except UserError as exc:
            self.show_error(exc.message)  # nothing was saved
            return None
        self._dirty = False
        self.reload(info.id)
        self.templates_changed.emit()
        return info

    def _reload_current(self) -> None:
        info = self.current
        if info is None or info.builtin:
            return
        try:
            fresh = self.messages.template(info.id)
        except UserError:
            return  # deleted meanwhile: the next save says so
        self.current = fresh
        updated = format_jst(fresh.updated_at) if fresh.updated_at else ""
        self.info.setText(f"第{fresh.version}版({updated} 保存、他の担当者が保存した版)")
        self._fill_versions(fresh)
        self._update_buttons()
        self.templates_changed.emit()

    def copy_current(self) -> TemplateInfo | None:
        info = self.current
        if info is None:
            return None
        if self._dirty and not info.builtin:
            # Copy what is on screen, so an unsaved edit is not lost.
            return self._apply(
                lambda: self.messages.save_template(
                    None,
                    title=f"{self.title.text()}(コピー)",
                    subject=self.subject.text(),
                    body=self.body.toPlainText(),
                    based_on=info.based_on,
                )
            )
        return self._apply(lambda: self.messages.copy_template(info.id))

    def save(self) -> TemplateInfo | None:
        info = self.current
        if info is None or info.builtin:
            return None
        return self._apply(
            lambda: self.messages.save_template(
                info.id,
                title=self.title.text(),
                subject=self.subject.text(),
                body=self.body.toPlainText(),
                expected_version=info.version,  # the version the edit started from (issue 14 item 2)
            )
        )

    def restore_version(self) -> TemplateInfo | None:
        info, version = self.current, self.versions.currentData()
        if info is None or info.builtin or not isinstance(version, int):
            return None
        return self._apply(lambda: self.messages.restore_version(info.id, version, expected_version=info.version))

    def restore_builtin(self) -> TemplateInfo | None:
        info = self.current
        if info is None or info.builtin:
            return None
        return self._apply(lambda: self.messages.restore_builtin(info.id, expected_version=info.version))

    def archive(self) -> None:
        info = self.current
        if info is None or info.builtin:
            return
        if not self.confirm(f"テンプレート「{info.title}」を削除しますか?(送信済みのメッセージは残ります)"):
            return
        try:
            self.messages.archive_template(info.id)
        except UserError as exc:
            self.show_error(exc.message)
            return
        self._dirty = False
        self.current = None
        self.reload(info.based_on)
        self.templates_changed.emit()

    def _confirm(self, text: str) -> bool:
        return QMessageBox.question(self, "確認", text) == QMessageBox.StandardButton.Yes

    def reject(self) -> None:
        if self._dirty and not self.confirm("保存していない変更があります。破棄して閉じますか?"):
            return
        self._preview_generation += 1  # a render still running is not shown any more
        self.runner.shutdown(wait=False)
        super().reject()
