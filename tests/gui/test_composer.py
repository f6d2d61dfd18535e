"""The composer in the real window over the real core: from a failed re-authorization to a sent
message (a real local SMTP server), manual sending without SMTP, a failed send that keeps the
text, the template editor with its live preview and versions, and the SMTP settings."""

from __future__ import annotations

import threading
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from core.amazonpay.errors import R41_CHANGE_METHOD_MESSAGE
from core.app import Kanjo
from core.clock import FixedClock
from core.domain import Tone
from core.messages.mail import SmtpConfig, SmtpSender
from gui.composer.dialog import SUGGESTED_MARK, ComposerDialog
from gui.composer.smtp_dialog import SmtpSettingsDialog
from gui.composer.template_editor import TemplateEditorDialog
from gui.main_window import MainWindow
from gui.tasks import TaskRunner
from tests.core.test_messages import SETTINGS, place
from tests.core.test_messages_smtp import (  # noqa: F401 - fixtures
    PASSWORD,
    USER,
    Inbox,
    MemoryKeyring,
    certificate,
    configure,
    free_port,
    memory_keyring,
    smtp_server,
)
from tests.gui.conftest import MakeWindow
from tests.gui.helpers import control, select


def timeline_texts(window: MainWindow) -> list[str]:
    table = window.detail.timeline
    return [f"{table.item(r, 1).text()} | {table.item(r, 3).text()}" for r in range(table.rowCount())]


def composer_of(window: MainWindow) -> ComposerDialog:
    dialog = window.composer
    assert dialog is not None and dialog.isVisible()
    dialog.confirm = lambda _text: True
    return dialog


class ThreadRecordingSender(SmtpSender):
    """The real SMTP sender, noting which thread it ran on."""

    def __init__(self, certificate_path: Path) -> None:
        import ssl

        super().__init__(ssl_context=lambda: ssl.create_default_context(cafile=str(certificate_path)))
        self.threads: list[threading.Thread] = []

    def send(self, config: SmtpConfig, password: str | None, message: EmailMessage) -> None:
        self.threads.append(threading.current_thread())
        super().send(config, password, message)


def test_from_a_failed_reauthorization_to_a_sent_message(
    app: Kanjo,
    make_window: MakeWindow,
    clock: FixedClock,
    qtbot: QtBot,
    memory_keyring: MemoryKeyring,  # noqa: F811
    certificate: tuple[Path, Path],  # noqa: F811
    smtp_server: tuple[Inbox, int, str],  # noqa: F811
) -> None:
    inbox, port, security = smtp_server
    place(app, "P-1", ordered_at=clock.now() - timedelta(days=40), member=False)
    configure(app, port, security, certificate)
    app.messages.set_smtp_password(PASSWORD)
    sender = ThreadRecordingSender(certificate[0])
    app.messages.sender = sender
    control(app).decline_next("P-1", "hard")
    threaded = TaskRunner()  # real worker threads: the window never waits for the mail server
    try:
        window = make_window(task_runner=threaded, start=False)
        window.model.set_query(window.model.query)
        qtbot.waitUntil(lambda: window.model.row_of("P-1") is not None)
        window.select_number("P-1")
        qtbot.waitUntil(lambda: window.detail.number_shown == "P-1")
        panel = window.detail
        panel.reauthorize_button.click()
        qtbot.waitUntil(
            lambda: (
                panel.reauth_notice.isVisible() and panel.detail is not None and panel.detail.reauth_message is not None
            ),
            timeout=10_000,
        )
        assert R41_CHANGE_METHOD_MESSAGE in panel.reauth_notice.body.text()

        panel.reauth_compose_button.click()  # 「購入者への案内を作成…」 in the R41 notice
        dialog = composer_of(window)
        qtbot.waitUntil(lambda: dialog.context is not None)
        assert dialog.template_id == "payment-method-change"  # R41: change the payment method, first
        assert dialog.picker.currentText().startswith(SUGGESTED_MARK)
        assert "R41" in dialog.reason.text()
        suggested = [
            dialog.picker.itemData(i)
            for i in range(dialog.picker.count())
            if dialog.picker.itemText(i).startswith(SUGGESTED_MARK)
        ]
        assert suggested[:2] == ["payment-method-change", "payment-amazon"]  # then R43 for a guest
        dialog.select_template("payment-amazon")
        assert "https://payments.amazon.co.jp/jr/your-account/orders/" in dialog.body.toPlainText()
        assert "受注番号: P-1" in dialog.body.toPlainText()
        dialog.subject.setText(dialog.subject.text() + "【再送】")
        dialog.body.appendPlainText("追伸: ご不明な点はお電話でも承ります。")
        dialog.tabs.setCurrentIndex(1)
        assert "【再送】" in dialog.preview.toPlainText() and "追伸" in dialog.preview.toPlainText()
        assert dialog.send_button.text() == "送信"

        with qtbot.waitSignal(dialog.message_recorded, timeout=15_000) as recorded:
            dialog.send_button.click()
            assert not dialog.send_button.isEnabled()  # in flight: no second send
        record = recorded.args[0]
        assert record.status_label == "送信済"
        assert sender.threads and all(t is not threading.main_thread() for t in sender.threads)
        qtbot.waitUntil(lambda: not dialog.isVisible())
        assert dialog.result() == QDialog.DialogCode.Accepted

        mail = inbox.received()
        assert mail["Subject"].endswith("【再送】") and "P-1" in mail["Subject"]
        assert "追伸: ご不明な点はお電話でも承ります。" in mail.get_content()
        assert window.banner.tone is Tone.SUCCESS and "送信しました" in window.banner.text()
        qtbot.waitUntil(lambda: any("送信済" in t for t in timeline_texts(window)), timeout=10_000)
        assert any(t.startswith("メッセージ「") and "【再送】" in t for t in timeline_texts(window))
    finally:
        threaded.shutdown()


def test_without_smtp_the_composer_copies_and_records_a_manual_send(
    app: Kanjo, make_window: MakeWindow, qtbot: QtBot
) -> None:
    app.settings.save(**SETTINGS)
    place(app, "P-2")
    window = make_window()
    select(window, "P-2")
    window.detail.message_button.compose_action.trigger()
    dialog = composer_of(window)
    assert dialog.template_id == "thanks"  # a new order: the thank-you mail (R24)
    assert dialog.send_button.text() == "コピーして手動送信として記録"
    assert "未設定" in dialog.smtp_label.text()
    dialog.copy_button.click()
    clipboard = QGuiApplication.clipboard().text()
    assert dialog.subject.text() in clipboard and "藍染の店 かんじょう" in clipboard
    assert app.messages.history("P-2") == []  # copying alone records nothing
    dialog.send_button.click()
    assert not dialog.isVisible()
    assert [m.status_label for m in app.messages.history("P-2")] == ["手動送信"]
    assert window.banner.tone is Tone.PROGRESS and "手動送信" in window.banner.text()
    assert any("手動送信" in t for t in timeline_texts(window))


def test_a_failed_send_keeps_the_text_and_says_why(
    app: Kanjo,
    make_window: MakeWindow,
    memory_keyring: MemoryKeyring,  # noqa: F811
    certificate: tuple[Path, Path],  # noqa: F811
) -> None:
    place(app, "P-3")
    configure(app, free_port(), "starttls", certificate)  # nothing listens there
    app.messages.set_smtp_password(PASSWORD)
    window = make_window()
    select(window, "P-3")
    window.detail.message_button.compose_action.trigger()
    dialog = composer_of(window)
    dialog.body.setPlainText(dialog.body.toPlainText() + "手で書き足した一文。\n")
    dialog.send_button.click()
    assert dialog.isVisible()  # the dialog stays, with the text
    assert dialog.error.isVisible() and "接続できませんでした" in dialog.error.text()
    assert "手で書き足した一文。" in dialog.body.toPlainText()
    assert dialog.send_button.isEnabled()  # try again after fixing the settings
    history = app.messages.history("P-3")
    assert [m.status_label for m in history] == ["送信失敗"] and "手で書き足した一文。" in history[0].body
    assert window.banner.tone is Tone.FAILURE
    assert any("送信失敗" in t for t in timeline_texts(window))
    dialog.reject()


def test_a_cancellation_request_offers_r45_and_a_missing_setting_is_named(app: Kanjo, make_window: MakeWindow) -> None:
    app.settings.save(**{**SETTINGS, "seller_token": ""})
    place(app, "P-4")
    window = make_window()
    select(window, "P-4")
    window.detail.message_button.situation_actions["cancel_request"].trigger()
    dialog = composer_of(window)
    assert dialog.template_id == "cancel-reply" and "R45" in dialog.reason.text()
    assert (
        dialog.error.isVisible() and "出品者トークン" in dialog.error.text() and "seller_token" in dialog.error.text()
    )
    assert dialog.body.toPlainText() == "" and not dialog.send_button.isEnabled()  # never a broken URL
    dialog.select_template("return-steps")
    assert not dialog.error.isVisible() and "¥2,450" in dialog.body.toPlainText()  # R46, half of ¥4,900
    dialog.reject()


def test_template_editor_copy_edit_preview_save_and_restore(app: Kanjo, make_window: MakeWindow, qtbot: QtBot) -> None:
    app.settings.save(**SETTINGS)
    place(app, "P-5")
    window = make_window()
    select(window, "P-5")
    window.detail.message_button.compose_action.trigger()
    dialog = composer_of(window)
    dialog.select_template("cancel-reply")
    editor = dialog.open_template_editor()
    assert isinstance(editor, TemplateEditorDialog)
    editor.confirm = lambda _text: True
    assert editor.current is not None and editor.current.id == "cancel-reply"
    assert editor.body.isReadOnly() and not editor.save_button.isEnabled()  # built-ins are not edited
    assert "P-5" in editor.preview.toPlainText()  # the preview fills the composer's order

    copy = editor.copy_current()
    assert copy is not None and editor.current is not None and editor.current.id == copy.id
    assert not editor.body.isReadOnly() and copy.version == 1
    editor.body.setPlainText(editor.body.toPlainText() + "{{ customer_nmae }}\n")
    editor.refresh_preview()  # (the debounce timer does this 250 ms after typing)
    qtbot.waitUntil(lambda: "customer_nmae" in editor.preview_error.text(), timeout=3_000)
    assert editor.preview_error.isVisible()
    editor.save_button.click()
    assert editor.error.isVisible() and "customer_nmae" in editor.error.text()  # refused when saved
    assert [v.version for v in app.messages.versions(copy.id)] == [1]

    editor.body.setPlainText(editor.body.toPlainText().replace("{{ customer_nmae }}", "担当: {{ operator_name }}"))
    qtbot.waitUntil(lambda: "担当: 山本" in editor.preview.toPlainText(), timeout=2_000)  # live preview
    assert not editor.preview_error.isVisible()
    editor.save_button.click()
    assert not editor.error.isVisible()
    assert [v.version for v in app.messages.versions(copy.id)] == [1, 2]
    # The composer picked up the saved template.
    dialog.select_template(copy.id)
    assert "担当: 山本" in dialog.body.toPlainText()

    editor.versions.setCurrentIndex(editor.versions.findData(1))
    editor.restore_version_button.click()
    assert app.messages.template(copy.id).version == 3
    assert "担当: 山本" not in app.messages.template(copy.id).body
    editor.body.setPlainText("{{ customer_name }}\n短い文面\n")
    editor.save_button.click()
    editor.restore_builtin_button.click()
    original = app.messages.template("cancel-reply")
    assert app.messages.template(copy.id).body == original.body  # the built-in stays restorable
    editor.archive_button.click()
    assert copy.id not in {t.id for t in app.messages.templates()}
    editor.reject()
    dialog.reject()


def test_smtp_settings_keep_the_password_in_the_keyring_only(
    app: Kanjo,
    runner: TaskRunner,
    qtbot: QtBot,
    memory_keyring: MemoryKeyring,  # noqa: F811
) -> None:
    dialog = SmtpSettingsDialog(app.messages, runner)
    qtbot.addWidget(dialog)
    dialog.host.setText("smtp.example.jp")
    dialog.security.setCurrentIndex(dialog.security.findData("ssl"))
    assert dialog.port.value() == 465  # follows the usual port
    dialog.user.setText(USER)
    dialog.password.setText("s3cret-pass")
    with qtbot.waitSignal(dialog.saved):
        dialog.buttons.accepted.emit()
    assert dialog.password.text() == ""
    saved = app.settings.load()
    assert (saved.smtp_host, saved.smtp_port, saved.smtp_security, saved.smtp_user) == (
        "smtp.example.jp",
        465,
        "ssl",
        USER,
    )
    assert list(memory_keyring.items.values()) == ["s3cret-pass"]
    with app.engine.connect() as connection:
        values = [row[0] for row in connection.exec_driver_sql("SELECT value FROM settings")]
    assert "s3cret-pass" not in values
    again = SmtpSettingsDialog(app.messages, runner)
    qtbot.addWidget(again)
    assert again.password.text() == "" and again.password_state.text() == "パスワード: 保存済み"


def test_smtp_settings_without_a_keyring_say_so(app: Kanjo, runner: TaskRunner, qtbot: QtBot) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    dialog = SmtpSettingsDialog(app.messages, runner)
    qtbot.addWidget(dialog)
    dialog.host.setText("smtp.example.jp")
    dialog.user.setText(USER)
    dialog.password.setText("never-kept")
    dialog.save()
    assert not dialog.error.isHidden() and "保存できません" in dialog.error.text()
    assert app.settings.load().smtp_host == "smtp.example.jp"  # the server settings are kept
    dialog.sender_field.setText("not an address")
    dialog.save()
    assert "メールアドレス" in dialog.error.text()


@pytest.fixture(autouse=True)
def _no_os_keyring() -> None:
    """No test here may reach the machine's real keyring."""
    keyring.set_keyring(keyring.backends.fail.Keyring())
