"""The pages' words for dates, times and NHS numbers: UK style, Europe/London, never raising."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from isp_common.formatting import nhs_number, role_label, uk_date, uk_datetime


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        # GMT: London is UTC in winter
        (datetime(2026, 11, 30, 14, 5, tzinfo=UTC), "30 Nov 2026, 14:05"),
        # BST: London is UTC+1 in summer
        (datetime(2026, 7, 1, 13, 5, tzinfo=UTC), "1 Jul 2026, 14:05"),
        # the clocks go forward at 01:00 UTC on the last Sunday of March (29 Mar 2026)
        (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "29 Mar 2026, 00:59"),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "29 Mar 2026, 02:00"),
        # and back at 01:00 UTC on the last Sunday of October (25 Oct 2026): 01:30 happens twice
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "25 Oct 2026, 01:30"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "25 Oct 2026, 01:30"),
        # late evening UTC in summer is already tomorrow in London
        (datetime(2026, 6, 30, 23, 30, tzinfo=UTC), "1 Jul 2026, 00:30"),
        # another offset is converted, not relabelled
        (datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=-5))), "5 Jan 2026, 14:00"),
    ],
)
def test_a_moment_is_written_in_london_time_to_the_minute(moment: datetime, shown: str) -> None:
    assert uk_datetime(moment) == shown
    assert uk_datetime(moment.isoformat()) == shown


def test_seconds_microseconds_and_zone_names_are_never_shown() -> None:
    shown = uk_datetime("2026-11-30T14:05:59.999999Z")
    assert shown == "30 Nov 2026, 14:05"
    assert "UTC" not in shown and "GMT" not in shown and ":59" not in shown


def test_a_naive_datetime_is_taken_as_utc_as_the_services_store_it() -> None:
    assert uk_datetime(datetime(2026, 7, 1, 13, 5)) == "1 Jul 2026, 14:05"


def test_a_date_is_day_month_year_without_a_leading_zero() -> None:
    assert uk_date(date(2026, 12, 1)) == "1 Dec 2026"
    assert uk_date("2026-11-30") == "30 Nov 2026"
    assert uk_datetime("2026-11-30") == "30 Nov 2026"  # a bare date has no time to show


def test_the_date_of_a_moment_is_its_london_date() -> None:
    assert uk_date(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == "1 Jul 2026"  # BST
    assert uk_date(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == "31 Dec 2026"  # GMT
    assert uk_date("2026-06-30T23:30:00Z") == "1 Jul 2026"


@pytest.mark.parametrize("nothing", [None, ""])
def test_nothing_is_shown_as_nothing(nothing: str | None) -> None:
    assert uk_date(nothing) == uk_datetime(nothing) == nhs_number(nothing) == ""


def test_text_that_is_not_a_date_is_shown_as_it_is() -> None:
    assert uk_date("next week") == "next week"
    assert uk_datetime("2026-13-45") == "2026-13-45"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("9434765919", "943 476 5919"),
        ("943 476 5919", "943 476 5919"),
        (" 943476 5919 ", "943 476 5919"),
        ("C-7", "C-7"),  # a local id stays as it is
        ("12345", "12345"),
        ("94347659190", "94347659190"),
    ],
)
def test_an_nhs_number_is_spaced_three_three_four(given: str, shown: str) -> None:
    assert nhs_number(given) == shown


def test_roles_are_named_in_words() -> None:
    assert role_label("ig_officer") == "IG officer"
    assert role_label("dsl") == "designated safeguarding lead"
    assert role_label("unknown_role") == "unknown_role"
