"""journal: refuse a rewrite through INSERT OR REPLACE / REPLACE INTO

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

Issue 10, item 7. The journal is append-only: 0001 refuses UPDATE and DELETE with triggers.
But SQLite's REPLACE conflict resolution (``INSERT OR REPLACE``, ``REPLACE INTO``) removes the
conflicting row *without* firing DELETE triggers unless ``recursive_triggers`` is on, and then
inserts the new one: an existing entry could be rewritten under its own id (or under its
idempotency key, the other unique column). Two guards, each enough on its own:

* this trigger: a BEFORE INSERT refuses a row whose id or idempotency key is already in the
  journal, before any conflict resolution runs, on every connection (the ``sqlite3`` shell too);
* ``PRAGMA recursive_triggers=ON`` on every connection of the app (core/db/engine.py), so a
  REPLACE on any unique column fires ``journal_no_delete``.

An upsert (``INSERT … ON CONFLICT DO UPDATE``) runs an UPDATE and fires ``journal_no_update``;
``UPDATE OR REPLACE`` is an UPDATE too.

What cannot be prevented: someone with write access to the file can ``DROP TRIGGER``, drop or
rename the table, or edit the file with any tool. Triggers guard against mistakes and against
code paths in this program, not against a local user who owns the file; the file's 0600 mode
keeps other local users out (item 5).

PostgreSQL has no REPLACE; its 0001 row trigger already covers UPDATE (including an upsert's
``INSERT … ON CONFLICT DO UPDATE``) and DELETE. What bypasses row triggers there is
``TRUNCATE`` (also reached through ``TRUNCATE … CASCADE`` of a table the journal refers to), so
this revision adds a statement-level ``BEFORE TRUNCATE`` trigger with the same function (issue
14). An insert on an existing id or idempotency key fails on the unique constraint; ``ON
CONFLICT DO NOTHING`` changes nothing. The table's owner can still disable or drop triggers
(``ALTER TABLE … DISABLE TRIGGER``), as a file's owner can on SQLite; give operators a role
that does not own the tables to keep that out of their reach.

Plain ``op.execute``: batch mode would recreate the table and drop the 0001 triggers.
"""

from __future__ import annotations

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON journal "
            "FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only()"
        )
    if dialect != "sqlite":
        return
    op.execute(
        "CREATE TRIGGER journal_no_replace BEFORE INSERT ON journal "
        "WHEN EXISTS (SELECT 1 FROM journal WHERE id = NEW.id) "
        "OR (NEW.idempotency_key IS NOT NULL AND EXISTS "
        "(SELECT 1 FROM journal WHERE idempotency_key = NEW.idempotency_key)) "
        "BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS journal_no_truncate ON journal")
    if dialect != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS journal_no_replace")
