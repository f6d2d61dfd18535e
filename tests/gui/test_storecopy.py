"""Issue 14 items 1 and 5 in the window: 設定 → データベース (このPC / 共有, the password in the
keyring only, used from the next start) and 「共有データベースへ移行…」, copying off the GUI
thread with progress and cancel. Real SQLite store, real PostgreSQL (tests/pg.py), real thread."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy.engine import make_url

from core.app import Kanjo, chosen_db_url
from core.db_choice import KEYRING_SERVICE, choice_path, load_choice
from core.settings import AppSettings
from gui.settings_dialog import SettingsDialog
from gui.storecopy import MigrateDialog
from tests.core.test_messages_smtp import MemoryKeyring, memory_keyring  # noqa: F401
from tests.helpers import place_order, table_counts
from tests.pg import PgCluster

SECRET = "desk-Pa55!"


@pytest.fixture(autouse=True)
def _no_os_keyring() -> None:
    """No test here may reach the machine's real keyring."""
    keyring.set_keyring(keyring.backends.fail.Keyring())


@pytest.fixture
def empty_pg(pg_cluster: PgCluster) -> Iterator[str]:
    url = pg_cluster.new_database(migrated=False)
    try:
        yield url
    finally:
        pg_cluster.drop_database(url)


def test_the_connection_setting_is_saved_for_the_next_start_with_the_password_in_the_keyring(
    qtbot: QtBot,
    home: Path,
    memory_keyring: MemoryKeyring,  # noqa: F811
) -> None:
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    box = dialog.database
    assert box.kind.currentText() == "このPC(SQLite)" and not box.host.isEnabled()
    box.kind.setCurrentIndex(1)
    assert box.host.isEnabled() and box.password.isEnabled()
    box.host.setText("db.shop.lan")
    box.user.setText("desk1")
    box.password.setText(SECRET)
    dialog.buttons.accepted.emit()
    assert "データベース名" in dialog.error.text() and dialog.result_settings is None
    assert not choice_path(home).exists() and memory_keyring.items == {}  # nothing saved

    box.database.setText("kanjo")
    box.port.setValue(5433)
    dialog.buttons.accepted.emit()
    assert dialog.result_settings is not None
    assert "次回の起動から共有データベース(db.shop.lan:5433/kanjo)を使います" in (dialog.database_notice or "")
    assert box.notice is not None and "再起動" in box.notice.text()
    saved = json.loads(choice_path(home).read_text(encoding="utf-8"))
    assert saved == {"kind": "postgresql", "host": "db.shop.lan", "port": 5433, "database": "kanjo", "user": "desk1"}
    assert memory_keyring.items == {(KEYRING_SERVICE, "desk1@db.shop.lan:5433/kanjo"): SECRET}
    assert SECRET not in choice_path(home).read_text(encoding="utf-8") and box.password.text() == ""
    assert chosen_db_url() == "postgresql+psycopg://desk1@db.shop.lan:5433/kanjo"  # the next start's URL

    again = SettingsDialog(AppSettings())  # the dialog shows the choice, never the password
    qtbot.addWidget(again)
    assert again.database.kind.currentIndex() == 1 and again.database.host.text() == "db.shop.lan"
    assert again.database.password.text() == ""
    again.database.kind.setCurrentIndex(0)
    again.buttons.accepted.emit()
    assert not choice_path(home).exists() and "このPCのデータベース" in (again.database_notice or "")


def test_without_a_keyring_the_password_is_refused_and_nothing_is_saved(qtbot: QtBot, home: Path) -> None:
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    box = dialog.database
    box.kind.setCurrentIndex(1)
    for field, value in ((box.host, "db"), (box.database, "kanjo"), (box.user, "desk1"), (box.password, SECRET)):
        field.setText(value)
    dialog.buttons.accepted.emit()
    assert "パスワードを保存できません" in dialog.error.text() and dialog.result_settings is None
    assert not choice_path(home).exists()


@pytest.fixture
def source_app(app: Kanjo) -> Kanjo:
    for index in range(3):
        place_order(app, f"M-{index}", total=1_000 + index)
    return app


def _migrate_dialog(qtbot: QtBot, app: Kanjo) -> tuple[SettingsDialog, MigrateDialog]:
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.database.store_url = app.db_url
    assert dialog.database.migrate_button.isEnabled()
    dialog.database.open_migration()
    migrate = dialog.database.migration_dialog
    assert isinstance(migrate, MigrateDialog)
    assert migrate.source == Path(app.db_url.removeprefix("sqlite:///"))
    return dialog, migrate


def test_the_window_migrates_the_store_off_the_gui_thread_and_fills_the_setting(
    qtbot: QtBot, source_app: Kanjo, empty_pg: str, home: Path
) -> None:
    expected = table_counts(source_app.db_url)
    _settings, migrate = _migrate_dialog(qtbot, source_app)
    migrate.url.setText("sqlite:////tmp/not-postgres.sqlite3")
    migrate.start_button.click()
    assert "PostgreSQLのURL" in migrate.status.text() and not migrate.running

    migrate.url.setText(empty_pg)
    with qtbot.waitSignal(migrate.copied, timeout=30_000) as copied:
        migrate.start_button.click()
        assert migrate.running and not migrate.start_button.isEnabled() and migrate.cancel_button.isEnabled()
    assert "移行しました" in migrate.status.text() and "再起動" in migrate.status.text()
    assert migrate.result_copy is not None and migrate.result_copy.tables == expected == table_counts(empty_pg)
    assert migrate.progress.value() == migrate.progress.maximum()
    choice = copied.args[0]
    parsed = make_url(empty_pg)
    assert (choice.host, choice.port, choice.database, choice.user) == (
        parsed.host,
        parsed.port,
        parsed.database,
        parsed.username,
    )
    box = migrate.parentWidget()
    assert box is not None and box.kind.currentIndex() == 1 and box.database.text() == parsed.database
    assert load_choice(home).kind == "sqlite"  # used only once the operator saves it


def test_a_cancelled_migration_leaves_the_target_empty(qtbot: QtBot, source_app: Kanjo, empty_pg: str) -> None:
    _settings, migrate = _migrate_dialog(qtbot, source_app)
    migrate.url.setText(empty_pg)
    migrate.start_button.click()
    migrate.cancel_button.click()  # the worker is still connecting and migrating the target
    migrate.close()  # refused while copying: it cancels instead of vanishing
    assert migrate.running or "中止" in migrate.status.text()
    qtbot.waitUntil(lambda: not migrate.running, timeout=30_000)
    assert "中止しました" in migrate.status.text() and migrate.start_button.isEnabled()
    assert sum(table_counts(empty_pg).values()) == 1  # only the version row migration 0008 writes
