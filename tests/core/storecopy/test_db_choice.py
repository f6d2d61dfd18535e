"""Issue 14 item 1 (the per-PC part): which store this PC opens without ``--db`` is a small file
in the data directory, not in any database; the PostgreSQL password lives in the OS keyring
(the test's in-memory backend here) and never in the file, the URL or a log."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from core.app import chosen_db_url, default_db_url, open_app
from core.cli import main as cli_main
from core.db.engine import make_engine
from core.db_choice import (
    KEYRING_SERVICE,
    DatabaseChoice,
    attach_keyring_password,
    choice_path,
    load_choice,
    save_choice,
    save_password,
)
from core.errors import BadInput, UserError
from tests.core.test_messages_smtp import MemoryKeyring, memory_keyring  # noqa: F401
from tests.pg import PgCluster

SECRET = "s3cret-Pg!pass"


def _choice_for(url: str) -> DatabaseChoice:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    assert parsed.host and parsed.database and parsed.username and parsed.port
    return DatabaseChoice("postgresql", parsed.host, parsed.port, parsed.database, parsed.username)


def test_without_a_choice_the_local_sqlite_store_is_used(home: Path) -> None:
    assert load_choice(home) == DatabaseChoice()
    assert chosen_db_url() == default_db_url()


def test_a_shared_choice_is_a_private_file_without_a_password(home: Path) -> None:
    choice = DatabaseChoice("postgresql", "db.shop.lan", 5433, "kanjo", "desk1")
    path = save_choice(home, choice)
    assert path == choice_path(home)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "kind": "postgresql",
        "host": "db.shop.lan",
        "port": 5433,
        "database": "kanjo",
        "user": "desk1",
    }
    assert load_choice(home) == choice
    assert chosen_db_url() == "postgresql+psycopg://desk1@db.shop.lan:5433/kanjo"
    save_choice(home, DatabaseChoice())  # back to このPC: the file goes
    assert not path.exists() and chosen_db_url() == default_db_url()


def test_an_incomplete_choice_is_refused_and_a_damaged_file_is_one_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(BadInput, match="データベース名"):
        save_choice(home, DatabaseChoice("postgresql", "db.shop.lan", 5432, "", "desk1"))
    with pytest.raises(BadInput, match="ポート"):
        save_choice(home, DatabaseChoice("postgresql", "db.shop.lan", 0, "kanjo", "desk1"))
    assert not choice_path(home).exists()
    home.mkdir(parents=True, exist_ok=True)
    choice_path(home).write_text("{not json", encoding="utf-8")
    with pytest.raises(UserError, match="壊れています"):
        load_choice(home)
    assert cli_main(["orders", "list"]) == 1  # the CLI without --db reads the same choice
    err = capsys.readouterr().err
    assert err.startswith("kanjo: データベースの接続設定ファイルが壊れています") and err.count("\n") == 1
    assert not (home / "kanjo.sqlite3").exists()  # it did not quietly open another store


def test_the_cli_without_db_opens_the_shared_store_this_pc_chose(
    home: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    save_choice(home, _choice_for(pg_url))
    assert cli_main(["init", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["db"] == pg_url
    assert not (home / "kanjo.sqlite3").exists()
    # --db still wins.
    local = f"sqlite:///{home / 'local.sqlite3'}"
    assert cli_main(["--db", local, "init", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["db"] == local


def _connect_params(engine: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def record(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        seen.update(cparams)

    event.listen(engine, "do_connect", record)  # after the keyring's listener: sees what it added
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return seen


def test_the_keyring_password_reaches_the_driver_and_nothing_else(
    home: Path,
    pg_url: str,
    memory_keyring: MemoryKeyring,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    caplog.set_level(logging.DEBUG)
    choice = _choice_for(pg_url)
    save_choice(home, choice)
    save_password(choice.account, SECRET)
    assert memory_keyring.items == {(KEYRING_SERVICE, choice.account): SECRET}

    engine = make_engine(pg_url)
    try:
        assert attach_keyring_password(engine, {})
        assert _connect_params(engine)["password"] == SECRET
        assert SECRET not in str(engine.url) and SECRET not in repr(engine)
    finally:
        engine.dispose()
    # PGPASSWORD wins over the keyring; a password in the URL wins too.
    engine = make_engine(pg_url)
    try:
        assert not attach_keyring_password(engine, {"PGPASSWORD": "other"})
        assert "password" not in _connect_params(engine)
    finally:
        engine.dispose()

    app = open_app(None, environ={"KANJO_HOME": str(home)})  # the window's and the CLI's way in
    try:
        assert app.db_url == pg_url
        app.engine.dispose()  # a fresh connection, so the recorder sees its parameters
        assert _connect_params(app.engine)["password"] == SECRET
    finally:
        app.close()
    assert SECRET not in choice_path(home).read_text(encoding="utf-8")
    assert SECRET not in caplog.text
    assert all(SECRET not in p.read_text(errors="replace") for p in home.rglob("*") if p.is_file())


def test_without_a_keyring_nothing_is_attached_and_saving_says_why(pg_url: str, pg_cluster: PgCluster) -> None:
    import keyring
    import keyring.backends.fail

    keyring.set_keyring(keyring.backends.fail.Keyring())
    engine = make_engine(pg_url)
    try:
        assert not attach_keyring_password(engine, {})
    finally:
        engine.dispose()
    with pytest.raises(UserError, match="パスワードを保存できません"):
        save_password("desk1@db:5432/kanjo", SECRET)


@pytest.fixture
def password_role(pg_cluster: PgCluster) -> Iterator[tuple[str, str]]:
    """A login role that must give its password (scram), on this session's cluster only."""
    hba = pg_cluster.data / "pg_hba.conf"
    original = hba.read_text(encoding="utf-8")
    role = "desk_pw"
    pg_cluster._admin(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{SECRET}'")
    hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + original, encoding="utf-8")
    pg_cluster._admin("SELECT pg_reload_conf()")
    try:
        yield role, SECRET
    finally:
        hba.write_text(original, encoding="utf-8")
        pg_cluster._admin("SELECT pg_reload_conf()", f"DROP ROLE IF EXISTS {role}")


def test_a_password_kept_only_in_the_keyring_opens_the_shared_store(
    home: Path,
    pg_url: str,
    password_role: tuple[str, str],
    memory_keyring: MemoryKeyring,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    role, secret = password_role
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(home / "no-pgpass"))
    choice = DatabaseChoice(**{**_choice_for(pg_url).__dict__, "user": role})
    save_choice(home, choice)
    assert cli_main(["orders", "list", "--json"]) == 1  # no password anywhere yet: one line, no traceback
    err = capsys.readouterr().err
    assert err.startswith("kanjo: データベースに接続できません") and err.count("\n") == 1 and secret not in err
    save_password(choice.account, secret)
    assert cli_main(["orders", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert secret not in choice_path(home).read_text(encoding="utf-8")


def test_backup_on_a_pc_that_chose_the_shared_store_points_to_pg_dump(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kanjo backup` follows this PC's choice like every command: the shared PostgreSQL store is
    backed up with pg_dump, not by copying a local SQLite file nobody uses any more."""
    save_choice(home, DatabaseChoice("postgresql", "db.shop.lan", 5433, "kanjo", "desk1"))
    assert cli_main(["backup"]) == 1
    err = capsys.readouterr().err
    assert "pg_dump" in err and err.count("\n") == 1
    assert not (home / "backups").exists()
