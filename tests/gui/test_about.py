"""バージョン情報 shows the version and the bundled components' licenses, Qt's LGPL notice included."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from core import __version__
from core.resources import resource_path
from gui.about_dialog import AboutDialog


def test_about_dialog_shows_version_and_licenses(qtbot: QtBot) -> None:
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    assert __version__ in dialog.version_label.text()
    text = dialog.notices.toPlainText()
    assert "LGPL" in text and "PySide6" in text and "SQLAlchemy" in text


def test_resources_are_found_from_the_checkout() -> None:
    assert resource_path("icons", "kanjo-256.png").is_file()
    assert resource_path("licenses", "THIRD_PARTY_NOTICES.txt").is_file()
