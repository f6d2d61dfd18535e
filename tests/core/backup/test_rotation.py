"""Issue 14 item 6: which backups rotation keeps (a pure function over names and now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.backup.rotation import backup_name, parse_backup_name, plan_rotation

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # Saturday 12:00 in Tokyo


def names_every_day(days: int, per_day: int = 1) -> list[str]:
    return [
        backup_name("kanjo", NOW - timedelta(days=d, hours=h * 3), "0005") for d in range(days) for h in range(per_day)
    ]


def test_a_name_carries_the_utc_time_and_the_revision_and_reads_back() -> None:
    name = backup_name("kanjo", datetime(2026, 11, 21, 12, 0, 5, tzinfo=UTC), "0005")
    assert name == "kanjo-20261121T120005Z-0005.sqlite3"
    parsed = parse_backup_name(name, "kanjo")
    assert parsed is not None and parsed.revision == "0005" and parsed.to_revision is None
    before = parse_backup_name(backup_name("shop", NOW, "0004", to_revision="0005", seq=2))
    assert before is not None and before.stem == "shop" and before.before_migration and before.seq == 2
    assert parse_backup_name("kanjo.sqlite3") is None and parse_backup_name(name, "shop") is None


def test_keeps_the_newest_of_each_of_the_last_7_days_and_4_iso_weeks() -> None:
    names = names_every_day(40, per_day=2)
    plan = plan_rotation(names, NOW, stem="kanjo")
    kept = [parse_backup_name(n) for n in plan.keep]
    assert all(k is not None for k in kept)
    days = {k.at.date() for k in kept if k is not None}
    # 7 newest days, Nov 15–21 (one each, the newest of the day); the 4 newest ISO weeks add the
    # two whose newest backup is not among them (Nov 8 and Nov 1): this week's and last week's
    # newest (Nov 21, Nov 15, a Sunday) are already kept as days
    assert len(plan.keep) == 9 and len(days) == 9
    assert plan.keep[0] == names[0]  # the newest of all
    assert set(plan.keep) | set(plan.remove) == set(names) and not set(plan.keep) & set(plan.remove)
    for day_offset in range(7):  # newest of each of the last 7 days (Japan time)
        assert backup_name("kanjo", NOW - timedelta(days=day_offset), "0005") in plan.keep
    # weeks: 2026-11-16..22 (this week), 11-09..15, 11-02..08, 10-26..11-01: the newest of each
    for sunday in (
        datetime(2026, 11, 15, 3, tzinfo=UTC),
        datetime(2026, 11, 8, 3, tzinfo=UTC),
        datetime(2026, 11, 1, 3, tzinfo=UTC),
    ):
        assert backup_name("kanjo", sunday, "0005") in plan.keep


def test_days_with_no_backup_do_not_count_toward_the_seven() -> None:
    names = [backup_name("kanjo", NOW - timedelta(days=d * 3), "0005") for d in range(10)]  # every 3rd day
    plan = plan_rotation(names, NOW, stem="kanjo")
    assert set(names[:7]) <= set(plan.keep)  # the last 7 days that *have* one reach back 18 days
    assert set(plan.remove) == {n for n in names[7:] if n not in plan.keep}


def test_never_removes_the_backup_just_written_nor_migration_copies_nor_others() -> None:
    old = backup_name("kanjo", NOW - timedelta(days=400), "0003")
    before = backup_name("kanjo", NOW - timedelta(days=300), "0003", to_revision="0004")
    future = backup_name("kanjo", NOW + timedelta(days=30), "0005")
    other_store = backup_name("shop", NOW - timedelta(days=500), "0005")
    names = [*names_every_day(20), old, before, future, other_store, "notes.txt", ".lock"]
    plan = plan_rotation(names, NOW, stem="kanjo", just_written=old)
    assert old in plan.keep and before in plan.keep and future in plan.keep
    assert other_store not in plan.remove and "notes.txt" not in plan.remove and ".lock" not in plan.remove
    assert plan_rotation([], NOW, stem="kanjo").keep == ()
