"""Clocks. Every time rule (30 days, 13 months, 24 hours) reads one of these, never the OS.

Times are stored in UTC and shown in Asia/Tokyo.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
CLOCK_ENV = "KANJO_NOW"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to; thread-safe (the sandbox reads it from its server thread)."""

    def __init__(self, moment: datetime) -> None:
        self._lock = threading.Lock()
        self._now = to_utc(moment)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = to_utc(moment)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now = self._now + delta


def to_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; a naive value is taken to be UTC already (as SQLite returns it)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_iso(text: str) -> datetime:
    """Parse ISO 8601; a value without an offset is read as Japan time (what an operator types)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JST)
    return moment.astimezone(UTC)


def clock_from_env(environ: dict[str, str] | None = None) -> Clock:
    """``KANJO_NOW`` (ISO 8601) fixes the clock for the app and the sandbox alike."""
    env = os.environ if environ is None else environ
    text = env.get(CLOCK_ENV, "").strip()
    if not text:
        return SystemClock()
    from core.errors import BadInput

    try:
        return FixedClock(parse_iso(text))
    except (ValueError, OverflowError) as exc:
        shown = "".join(c if c.isprintable() else "?" for c in text[:40])
        raise BadInput(f"環境変数 {CLOCK_ENV} の日時を読めません: 「{shown}」(例: 2026-11-21T12:00:00+09:00)") from exc


def to_jst(moment: datetime) -> datetime:
    return to_utc(moment).astimezone(JST)


def format_jst(moment: datetime | None, *, seconds: bool = False) -> str:
    """'2026/11/21 09:05' in Japan time; '' for None."""
    if moment is None:
        return ""
    fmt = "%Y/%m/%d %H:%M:%S" if seconds else "%Y/%m/%d %H:%M"
    return to_jst(moment).strftime(fmt)


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months, clamping the day (Jan 31 + 1 month = Feb 28/29)."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=min(moment.day, day))
        except ValueError:
            continue
    raise AssertionError("unreachable")
