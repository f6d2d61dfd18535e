"""Start the window: ``kanjo`` with no subcommand calls :func:`run` (main.py)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLibraryInfo, QLocale, Qt, QTimer, QTranslator
from PySide6.QtGui import QFont, QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from core.app import Kanjo, data_dir, open_app
from core.db.engine import sqlite_path
from core.errors import UserError
from core.resources import resource_path
from gui.errors import error_message, install_excepthooks
from gui.labels import APP_TITLE
from gui.main_window import MainWindow
from gui.settings_store import WindowSettings
from gui.tasks import TaskRunner

log = logging.getLogger("kanjo")

# Preferred UI fonts for Japanese, first found wins; Qt falls back further by itself.
JAPANESE_FONTS = ("Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic UI", "Meiryo UI", "Noto Sans JP", "IPAexGothic")


def application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once), with a Japanese UI font when one is installed."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    qt_app = QApplication(argv if argv is not None else sys.argv[:1])
    qt_app.setApplicationName("kanjo")
    qt_app.setApplicationDisplayName(APP_TITLE)
    qt_app.setOrganizationName("kanjo")
    qt_app.setWindowIcon(QIcon(str(resource_path("icons", "kanjo-256.png"))))
    apply_japanese_font(qt_app)
    install_japanese_translation(qt_app)
    return qt_app


def install_japanese_translation(qt_app: QApplication) -> QTranslator | None:
    """Qt's own Japanese (qtbase_ja.qm, shipped with PySide6): the standard buttons of message
    boxes and dialogs read はい/いいえ/閉じる, not Yes/No/Close (issue 16 item 3).

    Returns the translator (kept on the application so it lives as long), or None when the
    file is missing (a trimmed package): Qt then shows its English, nothing else changes.
    """
    existing = qt_app.property("kanjo_translator")
    if isinstance(existing, QTranslator):
        return existing
    translator = QTranslator(qt_app)
    directory = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if not translator.load(QLocale(QLocale.Language.Japanese, QLocale.Country.Japan), "qtbase", "_", directory):
        log.warning("Qt's Japanese translation (qtbase_ja.qm) not found in %s", directory)
        return None
    qt_app.installTranslator(translator)
    qt_app.setProperty("kanjo_translator", translator)
    return translator


def apply_japanese_font(qt_app: QApplication) -> None:
    from PySide6.QtGui import QFontDatabase

    families = set(QFontDatabase.families())
    for family in JAPANESE_FONTS:
        if family in families:
            font = QFont(qt_app.font())
            font.setFamilies([family, *qt_app.font().families()])
            qt_app.setFont(font)
            return


def window_settings_for(app: Kanjo, environ: Mapping[str, str] | None = None) -> WindowSettings:
    """QSettings file beside the store's SQLite file, else in the data directory."""
    path = sqlite_path(app.db_url)
    directory = path.parent if path is not None else data_dir(environ)
    return WindowSettings.in_dir(Path(directory))


@dataclass
class Launched:
    """A window running over a store, and what must be closed after it."""

    window: MainWindow
    runner: TaskRunner
    kanjo: Kanjo
    operator_question: QDialog | None = None  # the first start's 担当者名 (issue 14 item 3)
    first_day_question: QDialog | None = None  # はじめての設定 (issue 16 item 4)

    def shutdown(self) -> None:
        # Let an operation already sent finish and record its outcome; drop what is queued.
        self.runner.shutdown(wait=True)
        self.kanjo.close()


def launch(db_url: str | None, *, environ: Mapping[str, str] | None = None) -> Launched:
    """Open the store and show the window at once; the gateway, recovery and (on a first start
    over the sandbox) the demo orders follow in the background. Raises what ``open_app`` raises."""
    kanjo = open_app(db_url, environ=environ)
    runner = TaskRunner()
    window = MainWindow(kanjo, runner, window_settings_for(kanjo))
    runner.default_failure = window.show_bug
    install_excepthooks(window)
    window.show()
    window.start(connect_after_paint=True)
    launched = Launched(window, runner, kanjo)
    if first_day_due(kanjo, window.window_settings):
        ask_first_day(launched)
    elif not kanjo.operator_chosen():
        ask_first_operator(launched)
    return launched


FIRST_DAY_KEY = "onboarding/first_day_offered"


def first_day_due(kanjo: Kanjo, settings: WindowSettings) -> bool:
    """The shop has no name yet and this PC has not offered はじめての設定: offer it once (issue 16
    item 4). A PC joining a shop already set up asks only for its operator's name."""
    return not kanjo.settings.load().shop_name and settings.value(FIRST_DAY_KEY, False) not in (True, "true")


def ask_first_day(launched: Launched) -> None:
    """はじめての設定 over the window; skipped, it is reopened from ファイル or ヘルプ (and the
    operator's name is asked at the next start, as before)."""
    window = launched.window
    window.window_settings.set_value(FIRST_DAY_KEY, True)

    def finished() -> None:
        launched.first_day_question = None

    launched.first_day_question = window.open_first_day(finished)


def ask_first_operator(launched: Launched) -> None:
    """This PC has no operator name yet: ask for it over the window (issue 14 item 3)."""
    from gui.operator_dialog import ask_operator_name

    kanjo, window = launched.kanjo, launched.window

    def chosen(name: str) -> None:
        launched.operator_question = None
        try:
            kanjo.set_operator_name(name)
        except (UserError, OSError) as exc:  # a data directory that cannot be written
            QMessageBox.warning(window, APP_TITLE, f"担当者名を保存できませんでした。{error_message(exc)}")
            return
        window.settings = kanjo.settings.load()

    launched.operator_question = ask_operator_name(window, kanjo.suggested_operator_name(), chosen)


def run(db_url: str | None) -> int:
    """Open the window over the store at ``db_url`` (default: the per-user store) until it closes."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
    qt_app = application()
    try:
        launched = launch(db_url)
    except UserError as exc:
        QMessageBox.critical(None, APP_TITLE, f"データを開けませんでした。{exc.message}")
        return 1
    except Exception as exc:  # a bug: the operator reads Japanese, the log keeps the traceback
        log.exception("could not open the store")
        QMessageBox.critical(None, APP_TITLE, f"データを開けませんでした。{error_message(exc)}")
        return 1
    schedule_screenshot(launched.window, qt_app)
    try:
        return qt_app.exec()
    finally:
        launched.shutdown()


def schedule_screenshot(window: MainWindow, qt_app: QApplication, environ: Mapping[str, str] | None = None) -> None:
    """``KANJO_SCREENSHOT=path.png``: save the window after ``KANJO_SCREENSHOT_DELAY_MS`` (default
    8000) and quit. The installer test uses it to see the installed app's real window."""
    env = os.environ if environ is None else environ
    target = env.get("KANJO_SCREENSHOT")
    if not target:
        return
    delay = int(env.get("KANJO_SCREENSHOT_DELAY_MS", "8000"))

    def shoot() -> None:
        window.grab().save(target)
        qt_app.quit()

    QTimer.singleShot(delay, shoot)
