"""Names of backups and which of them to keep (issue 14, item 6). Pure: no I/O, no clock.

A backup of the store ``kanjo.sqlite3`` is named ``kanjo-20261121T030000Z-0005.sqlite3``: the
store's stem, the UTC time of the copy and the schema revision it holds; a second copy in the
same second gets ``.2``, ``.3`` … before the suffix. The copy made before a migration also names
the revision it is about to become: ``kanjo-20261121T030000Z-0004-to-0005.sqlite3``.

Rotation (``plan_rotation``) keeps, among one store's regular backups:

- the newest backup of each of the last 7 days that have one (days and ISO weeks are counted
  in Japan time, the shop's calendar; "last" means the 7 most recent such days up to ``now``),
- the newest backup of each of the last 4 ISO weeks that have one,
- the backup just written, whatever the above says,
- every backup made before a migration (``-to-``; one per migration, like the old ``.bak-`` copy),
- every backup dated after ``now`` (the clock was set back: it is not ours to judge),

and removes every other regular backup of that store. A name that does not parse, or belongs
to another store, is neither kept nor removed: it is simply not ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
SUFFIX = ".sqlite3"
KEEP_DAILY = 7
KEEP_WEEKLY = 4
_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(
    r"^(?P<stem>.+?)-(?P<at>\d{8}T\d{6}Z)-(?P<revision>[0-9A-Za-z_]+?)"
    r"(?:-to-(?P<to>[0-9A-Za-z_]+?))?(?:\.(?P<seq>[1-9][0-9]*))?\.sqlite3$"
)


@dataclass(frozen=True, order=True)
class BackupName:
    """One backup file's name, read back into its parts (sortable by time, then sequence)."""

    at: datetime
    seq: int
    name: str
    stem: str
    revision: str
    to_revision: str | None

    @property
    def before_migration(self) -> bool:
        return self.to_revision is not None


def backup_name(stem: str, at: datetime, revision: str, *, to_revision: str | None = None, seq: int = 1) -> str:
    """The file name of a backup of store ``stem`` made at ``at`` (any timezone; named in UTC)."""
    stamp = at.astimezone(UTC).strftime(_TIME_FORMAT)
    middle = f"{revision}-to-{to_revision}" if to_revision else revision
    extra = f".{seq}" if seq > 1 else ""
    return f"{stem}-{stamp}-{middle}{extra}{SUFFIX}"


def parse_backup_name(name: str, stem: str | None = None) -> BackupName | None:
    """The parts of a backup's name, or None when it is not one (of ``stem``'s store, if given)."""
    match = _NAME.match(name)
    if match is None or (stem is not None and match["stem"] != stem):
        return None
    try:
        at = datetime.strptime(match["at"], _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return BackupName(
        at=at,
        seq=int(match["seq"] or 1),
        name=name,
        stem=match["stem"],
        revision=match["revision"],
        to_revision=match["to"],
    )


@dataclass(frozen=True)
class Rotation:
    keep: tuple[str, ...]
    remove: tuple[str, ...]


def _day(moment: datetime) -> date:
    return moment.astimezone(JST).date()


def _week(moment: datetime) -> tuple[int, int]:
    year, week, _weekday = moment.astimezone(JST).isocalendar()
    return year, week


def plan_rotation(
    names: Iterable[str],
    now: datetime,
    *,
    stem: str,
    just_written: str | None = None,
    daily: int = KEEP_DAILY,
    weekly: int = KEEP_WEEKLY,
) -> Rotation:
    """Which of store ``stem``'s backups to keep and which to remove (see the module docstring)."""
    parsed = [p for p in (parse_backup_name(n, stem) for n in set(names)) if p is not None]
    keep: set[str] = {p.name for p in parsed if p.before_migration or p.at > now}
    if just_written is not None and any(p.name == just_written for p in parsed):
        keep.add(just_written)
    regular = sorted((p for p in parsed if not p.before_migration and p.at <= now), reverse=True)  # newest first
    newest_of_day: dict[date, str] = {}
    newest_of_week: dict[tuple[int, int], str] = {}
    for p in regular:
        newest_of_day.setdefault(_day(p.at), p.name)
        newest_of_week.setdefault(_week(p.at), p.name)
    for day in sorted(newest_of_day, reverse=True)[:daily]:
        keep.add(newest_of_day[day])
    for week in sorted(newest_of_week, reverse=True)[:weekly]:
        keep.add(newest_of_week[week])
    ordered = sorted(parsed, reverse=True)
    return Rotation(
        keep=tuple(p.name for p in ordered if p.name in keep),
        remove=tuple(p.name for p in ordered if p.name not in keep),
    )
