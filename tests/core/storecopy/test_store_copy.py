"""Issue 14 item 5: ``kanjo store copy --to URL`` copies a SQLite store into an empty PostgreSQL
database, verified by row counts and the journal's SHA-256; a non-empty or unreachable target
is refused with one line; the source is never changed. Real SQLite file, the real sandbox over
HTTP, the throwaway PostgreSQL cluster of tests/pg.py."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core.app import Kanjo, open_app
from core.cli import main as cli_main
from core.clock import FixedClock
from core.db.engine import make_engine
from core.db.schema import ImportRecord, JournalEntry, Message, Order
from core.demo import seed_demo
from core.storecopy import CopyCancelled, CopyRefused, copy_store, journal_sha256
from tests.conftest import NOW
from tests.core.imports.test_service import FILE, shop_order
from tests.helpers import table_counts
from tests.pg import PgCluster

NOW_ISO = "2026-11-21T12:00:00+09:00"


@pytest.fixture
def empty_pg(pg_cluster: PgCluster) -> Iterator[str]:
    """A database with nothing in it, not even the schema."""
    url = pg_cluster.new_database(migrated=False)
    try:
        yield url
    finally:
        pg_cluster.drop_database(url)


@pytest.fixture(scope="module")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store with demo orders over every badge, their journal, a message, an import
    and an operator's own template; built once for the module, closed as a copied store is."""
    home = tmp_path_factory.mktemp("built")
    store = home / "kanjo.sqlite3"
    app = open_app(
        f"sqlite:///{store}",
        clock=FixedClock(NOW),
        environ={"KANJO_HOME": str(home)},
        gateway_options={"timeout": 2.0, "retry_delays": (0.0, 0.0, 0.0)},
        daily_backup=False,
    )
    try:
        app.settings.save(shop_name="勘定商店 ①", operator_name="佐藤", shop_domain="shop.example.jp")
        demo = seed_demo(app, orders=16)
        number = demo[0].number
        draft = app.messages.render("thanks" if _has(app, "thanks") else app.messages.templates()[0].id, number)
        app.messages.record_manual(
            number,
            template_id=draft.template_id,
            template_version=draft.template_version,
            subject=draft.subject,
            body=draft.body,
        )
        app.messages.copy_template(app.messages.templates()[0].id, title="うちの定型文")
        app.imports.apply(FILE, [shop_order("FS-1", 2), shop_order("FS-2", 3, customer_name="髙橋 ①子")])
    finally:
        app.close()
    return store


@pytest.fixture
def populated(built_store: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own copy of the built store, in its data directory."""
    monkeypatch.setenv("KANJO_NOW", NOW_ISO)
    home.mkdir(parents=True, exist_ok=True)
    store = home / "kanjo.sqlite3"
    shutil.copyfile(built_store, store)
    return store


def _has(app: Kanjo, template_id: str) -> bool:
    return any(t.id == template_id for t in app.messages.templates())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli_main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_copy_keeps_every_row_and_the_journal_hash_and_never_touches_the_source(
    populated: Path, empty_pg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source_url = f"sqlite:///{populated}"
    before = _sha(populated)
    source_counts = table_counts(source_url)
    assert source_counts["orders"] == 18 and source_counts["messages"] == 1 and source_counts["imports"] == 1
    assert source_counts["journal"] > 16 and source_counts["message_templates"] == 1

    code, out, err = _cli(capsys, "--db", source_url, "store", "copy", "--to", empty_pg, "--json")
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert set(result) >= {"tables", "journal_sha256", "to"}
    assert result["to"] == empty_pg
    assert result["tables"] == source_counts == table_counts(empty_pg)
    assert _sha(populated) == before  # not one byte of the source changed

    source = make_engine(source_url)
    target = make_engine(empty_pg)
    try:
        with source.connect() as a, target.connect() as b:
            assert result["journal_sha256"] == journal_sha256(a) == journal_sha256(b)
            # The journal's guard holds on the copy: inserts only, as everywhere (issue 14 item 1).
            with pytest.raises(Exception, match="append-only"):
                b.execute(text("UPDATE journal SET detail = 'x'"))
            b.rollback()
            # Sequences continue after the copied ids: the next journal entry gets a fresh id.
            top = b.execute(select(func.max(JournalEntry.id))).scalar_one()
            nxt = b.execute(text("SELECT nextval(pg_get_serial_sequence('journal', 'id'))")).scalar_one()
            assert nxt == top + 1
            b.rollback()
            names = a.execute(select(Order.number).order_by(Order.id)).scalars().all()
            assert b.execute(select(Order.number).order_by(Order.id)).scalars().all() == names
            assert (
                b.execute(select(Message.subject)).scalars().all() == a.execute(select(Message.subject)).scalars().all()
            )
            assert (
                b.execute(select(ImportRecord.file_name)).scalars().all()
                == a.execute(select(ImportRecord.file_name)).scalars().all()
            )
    finally:
        source.dispose()
        target.dispose()

    # The copied store opens with --db and shows every order as the source does.
    for number in (names[0], names[5], "FS-2"):
        code_a, shown_a, _ = _cli(capsys, "--db", source_url, "orders", "show", number, "--json")
        code_b, shown_b, _ = _cli(capsys, "--db", empty_pg, "orders", "show", number, "--json")
        assert code_a == code_b == 0
        assert json.loads(shown_b) == json.loads(shown_a)


def test_text_output_says_how_to_start_on_the_shared_store(
    populated: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, "--db", f"sqlite:///{populated}", "store", "copy", "--to", pg_url)
    assert code == 0 and err == ""
    assert "コピーしました" in out and f"--db {pg_url}" in out and "共有(PostgreSQL)" in out


def test_a_target_with_rows_is_refused_and_left_as_it_was(
    populated: Path, pg_url: str, capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO settings(key, value) VALUES ('shop_name', '別の店')"))
    finally:
        engine.dispose()
    before = _sha(populated)
    code, out, err = _cli(capsys, "--db", f"sqlite:///{populated}", "store", "copy", "--to", pg_url)
    assert code == 1 and out == ""
    assert err.startswith("kanjo: コピー先のデータベースは空ではありません(settings 1行)")
    assert len(err.strip().splitlines()) == 1
    assert (
        table_counts(pg_url)["orders"] == 0 and table_counts(pg_url)["settings"] == 2
    )  # its row and 0008's version row
    assert _sha(populated) == before


def test_an_unreachable_target_or_a_wrong_url_is_one_line(populated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = f"sqlite:///{populated}"
    code, _out, err = _cli(
        capsys, "--db", source, "store", "copy", "--to", "postgresql+psycopg://kanjo@127.0.0.1:1/nowhere"
    )
    assert code == 1 and err.startswith("kanjo: コピー先のPostgreSQLに接続できません") and err.count("\n") == 1
    code, _out, err = _cli(capsys, "--db", source, "store", "copy", "--to", "sqlite:////tmp/other.sqlite3")
    assert code == 1 and "PostgreSQLのデータベースURL" in err and err.count("\n") == 1
    for args in (("store", "copy"), ("store",)):
        with pytest.raises(SystemExit) as exited:
            cli_main(["--db", source, *args])
        assert exited.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_a_missing_source_is_refused_and_not_created(
    home: Path, empty_pg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = home / "nothing.sqlite3"
    code, _out, err = _cli(capsys, "--db", f"sqlite:///{missing}", "store", "copy", "--to", empty_pg)
    assert code == 1 and "コピー元のデータベースがありません" in err
    assert not missing.exists()


def test_a_cancelled_copy_leaves_the_target_empty(populated: Path, empty_pg: str) -> None:
    seen: list[tuple[str, int, int]] = []

    def cancelled() -> bool:
        return any(table == "journal" for table, _done, _total in seen)  # once the journal has begun

    with pytest.raises(CopyCancelled):
        copy_store(populated, empty_pg, progress=lambda *step: seen.append(step), cancelled=cancelled, chunk_rows=5)
    assert seen and all(total == seen[0][2] for *_rest, total in seen)
    assert sum(table_counts(empty_pg).values()) == 1  # only the version row migration 0008 writes
    # Empty again means a second copy goes through.
    result = copy_store(populated, empty_pg, chunk_rows=7)
    assert result.tables == table_counts(empty_pg)


def test_a_value_postgresql_cannot_hold_rolls_everything_back(populated: Path, empty_pg: str) -> None:
    """SQLite does not enforce VARCHAR lengths; PostgreSQL does. One line naming the table."""
    import sqlite3

    with sqlite3.connect(populated) as connection:
        connection.execute("UPDATE settings SET value = value WHERE 0")  # the store opens writable
        connection.execute(
            "INSERT INTO import_mappings(name, columns_json, updated_at) "
            "VALUES (?, '{}', '2026-11-21 03:00:00.000000')",
            ("x" * 100,),
        )
    with pytest.raises(CopyRefused, match="表 import_mappings の行"):
        copy_store(populated, empty_pg)
    assert sum(table_counts(empty_pg).values()) == 1  # only the version row migration 0008 writes


def test_a_source_on_an_older_schema_is_refused_not_migrated(home: Path, empty_pg: str) -> None:
    from core.db.engine import migrate_to

    store = home / "old.sqlite3"
    engine = make_engine(f"sqlite:///{store}")
    migrate_to(engine, "0005")
    engine.dispose()
    before = _sha(store)
    with pytest.raises(CopyRefused, match="最新"):
        copy_store(store, empty_pg)
    assert _sha(store) == before


def test_the_copy_opens_in_the_app_and_new_rows_get_new_ids(
    populated: Path, empty_pg: str, home: Path, clock: FixedClock
) -> None:
    copy_store(populated, empty_pg)
    app = open_app(empty_pg, clock=clock, environ={"KANJO_HOME": str(home)})
    try:
        with app.sessions() as session:
            before = session.execute(select(func.count()).select_from(JournalEntry)).scalar_one()
        from core.journal import Journal

        with app.sessions.begin() as session:
            Journal().event(session, action="note", now=clock.now(), order_number=None, message="copied")
        with app.sessions() as session:
            assert session.execute(select(func.count()).select_from(JournalEntry)).scalar_one() == before + 1
    finally:
        app.close()
