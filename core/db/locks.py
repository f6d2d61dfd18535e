"""One money operation per order at a time, across threads, windows and processes.

The check of what an order allows and the writing of the operation's journal intents must
be one atomic step (issue 10 item 1): two refunds started together must not both see the
same open amount. :func:`lock_order` is the first statement of that step's transaction and
holds until it commits:

- on SQLite it is a write (``UPDATE orders SET updated_at = updated_at``), which takes the
  database's single write lock at once, like ``BEGIN IMMEDIATE``. The second process waits
  (``busy_timeout``) and then reads what the first one committed, including its intents;
- on PostgreSQL (issue 14) it is a transaction-level advisory lock on the order *number*
  (``pg_advisory_xact_lock``), then ``SELECT … FOR UPDATE`` on the order's row. The advisory
  lock also covers a number that is not stored yet, so two inserts of one order (added by
  Charge Permission, imported) wait for each other; the row lock also holds off any other
  writer of the row. Operations on other orders go on in parallel. PostgreSQL's default READ
  COMMITTED isolation reads, after the wait, what the first transaction committed.

The lock is held for the check and the journal write only, a few milliseconds; the request
to Amazon is sent after the commit. What the loser sees is the winner's intent, which the
journal reports as an operation in progress (see ``core.journal.Journal.pending``).
"""

from __future__ import annotations

from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session

from core.db.schema import Order

# The first key of Kanjo's advisory locks (two-int form), so they never meet another program's
# locks in a shared database; the second is ``hashtext(number)``. Two numbers that hash alike
# merely wait for each other, which is safe.
ADVISORY_LOCK_CLASS = 0x4B414E4A  # "KANJ"


def lock_order(session: Session, number: str) -> None:
    """Take the per-order write lock for the rest of ``session``'s transaction.

    Call it first, before anything is read in the transaction: on SQLite a read taken
    before the lock would be a snapshot that the lock does not refresh.
    """
    number = number.strip()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Order)
            .where(Order.number == number)
            .values(updated_at=Order.updated_at)
            .execution_options(synchronize_session=False)
        )
    else:
        session.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_CLASS, func.hashtext(literal(number)))))
        session.execute(select(Order.id).where(Order.number == number).with_for_update())
