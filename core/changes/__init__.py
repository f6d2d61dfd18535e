"""Live updates between windows (issue 14 item 4): which orders another operator changed.

``open_change_feed(engine)`` gives a :class:`ChangeFeed` for the store: ``start(callback)``
calls ``callback`` on a background thread with the numbers of the orders changed since
(a ``frozenset``), or :data:`ALL` when it cannot say which (a connection was lost, a bulk
change); ``stop()`` ends it. The window hops to its GUI thread itself. Never imports Qt.
"""

from core.changes.feed import (
    ALL,
    CHANNEL,
    ChangeCallback,
    ChangedOrders,
    ChangeFeed,
    PostgresChangeFeed,
    SqliteChangeFeed,
    open_change_feed,
)

__all__ = [
    "ALL",
    "CHANNEL",
    "ChangeCallback",
    "ChangeFeed",
    "ChangedOrders",
    "PostgresChangeFeed",
    "SqliteChangeFeed",
    "open_change_feed",
]
