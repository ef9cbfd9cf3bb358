"""The one clock: time in tests moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from isp_common.clock import Clock, FixedClock, SystemClock


def test_a_fixed_clock_stands_still_until_advanced() -> None:
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    clock = FixedClock(start)
    assert clock.now() == clock.now() == start
    assert clock.advance(hours=2) == start + timedelta(hours=2) == clock.now()
    assert clock.advance(timedelta(minutes=30)) == start + timedelta(hours=2, minutes=30)


def test_a_fixed_clock_keeps_instants_in_utc() -> None:
    clock = FixedClock(datetime(2026, 6, 1, 9, 0, tzinfo=timezone(timedelta(hours=1))))
    assert clock.now() == datetime(2026, 6, 1, 8, 0, tzinfo=UTC) and clock.now().tzinfo is UTC
    clock.set(datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5))))
    assert clock.now() == datetime(2026, 7, 1, 17, 0, tzinfo=UTC) and clock.now().tzinfo is UTC


def test_a_fixed_clock_without_a_time_starts_on_a_known_monday_morning() -> None:
    assert FixedClock().now() == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_the_system_clock_tells_aware_utc_time() -> None:
    clock: Clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    assert now.tzinfo is UTC and before <= now <= datetime.now(UTC)
