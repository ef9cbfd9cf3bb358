"""Working days in England (CONTRACT §3) and conference notice (CONTRACT §4)."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from isp_common.workingdays import (
    Notice,
    WorkingCalendar,
    add_months,
    london_date,
    notice,
)

ENGLAND = WorkingCalendar()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 3, 2), True),  # Monday
        (date(2026, 3, 7), False),  # Saturday
        (date(2026, 3, 8), False),  # Sunday
        (date(2026, 4, 3), False),  # Good Friday 2026
        (date(2026, 4, 6), False),  # Easter Monday 2026
        (date(2026, 5, 4), False),  # Early May bank holiday 2026
        (date(2026, 5, 25), False),  # Spring bank holiday 2026
        (date(2026, 8, 31), False),  # Summer bank holiday 2026
        (date(2026, 12, 25), False),  # Christmas Day, a Friday
        (date(2026, 12, 28), False),  # Boxing Day (26th, a Saturday) observed on Monday
        (date(2026, 12, 29), True),
        (date(2027, 1, 1), False),  # New Year's Day, a Friday
        (date(2027, 3, 26), False),  # Good Friday 2027
        (date(2027, 3, 29), False),  # Easter Monday 2027
        (date(2027, 5, 3), False),  # Early May bank holiday 2027
        (date(2027, 5, 31), False),  # Spring bank holiday 2027
        (date(2027, 12, 27), False),  # Christmas Day (Saturday) observed
        (date(2027, 12, 28), False),  # Boxing Day (Sunday) observed
    ],
)
def test_working_days_are_weekdays_that_are_not_english_bank_holidays(day, working):
    assert ENGLAND.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 3, 2), 0, date(2026, 3, 2)),
        (date(2026, 3, 2), 1, date(2026, 3, 3)),  # strictly after: Mon -> Tue
        (date(2026, 3, 2), 5, date(2026, 3, 9)),  # Mon -> next Mon
        (date(2026, 3, 6), 1, date(2026, 3, 9)),  # Fri -> Mon over the weekend
        (date(2026, 3, 7), 1, date(2026, 3, 9)),  # from a Saturday
        (date(2026, 4, 2), 1, date(2026, 4, 7)),  # Thu before Easter 2026 -> Tue after
        (date(2026, 3, 30), 5, date(2026, 4, 8)),  # week of Easter 2026
        (date(2027, 3, 25), 1, date(2027, 3, 30)),  # Thu before Easter 2027 -> Tue after
        (date(2026, 5, 1), 1, date(2026, 5, 5)),  # Fri before Early May bank holiday
        (date(2026, 5, 22), 1, date(2026, 5, 26)),  # Fri before Spring bank holiday
        (date(2026, 12, 24), 1, date(2026, 12, 29)),  # Christmas and Boxing Day observed
        (date(2026, 12, 24), 3, date(2026, 12, 31)),
        (date(2026, 12, 24), 4, date(2027, 1, 4)),  # over New Year's Day 2027
    ],
)
def test_nth_working_day_strictly_after(start, n, expected):
    assert ENGLAND.working_days_after(start, n) == expected


def test_a_negative_count_of_working_days_is_refused():
    with pytest.raises(ValueError):
        ENGLAND.working_days_after(date(2026, 3, 2), -1)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 3, 2), date(2026, 3, 2), 0),
        (date(2026, 3, 9), date(2026, 3, 2), 0),  # end before start
        (date(2026, 3, 2), date(2026, 3, 3), 1),
        (date(2026, 3, 2), date(2026, 3, 9), 5),
        (date(2026, 3, 6), date(2026, 3, 8), 0),  # Fri -> Sun: only weekend
        (date(2026, 4, 1), date(2026, 4, 8), 3),  # Thu 2, Tue 7, Wed 8 (Easter 2026)
        (date(2026, 12, 23), date(2027, 1, 5), 6),  # 24, 29, 30, 31 Dec, 4, 5 Jan
    ],
)
def test_working_days_between_counts_after_start_up_to_and_including_end(start, end, expected):
    assert ENGLAND.working_days_between(start, end) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 4), date(2026, 3, 4)),
        (date(2026, 3, 7), date(2026, 3, 9)),
        (date(2026, 4, 3), date(2026, 4, 7)),
        (date(2026, 12, 25), date(2026, 12, 29)),
    ],
)
def test_next_working_day_on_or_after(day, expected):
    assert ENGLAND.next_working_day_on_or_after(day) == expected


def test_an_extra_bank_holiday_declared_in_settings_is_not_a_working_day():
    coronation_style = date(2026, 6, 15)
    calendar = WorkingCalendar(extra_holidays=[coronation_style])
    assert ENGLAND.is_working_day(coronation_style)
    assert not calendar.is_working_day(coronation_style)
    assert calendar.working_days_after(date(2026, 6, 12), 1) == date(2026, 6, 16)


def test_a_removed_bank_holiday_is_a_working_day_again():
    calendar = WorkingCalendar(removed_holidays=[date(2026, 5, 4)])
    assert calendar.is_working_day(date(2026, 5, 4))
    assert calendar.working_days_after(date(2026, 5, 1), 1) == date(2026, 5, 4)
    assert not calendar.is_working_day(date(2026, 5, 25))


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2026, 7, 1, 23, 30, tzinfo=UTC), date(2026, 7, 2)),  # BST: 00:30 next day
        (datetime(2026, 7, 1, 22, 59, tzinfo=UTC), date(2026, 7, 1)),
        (datetime(2026, 1, 15, 23, 30, tzinfo=UTC), date(2026, 1, 15)),  # GMT
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), date(2026, 3, 28)),  # last night of GMT
        (datetime(2026, 3, 29, 23, 30, tzinfo=UTC), date(2026, 3, 30)),  # first night of BST
        (datetime(2026, 10, 24, 23, 30, tzinfo=UTC), date(2026, 10, 25)),  # last night of BST
        (datetime(2026, 10, 25, 23, 30, tzinfo=UTC), date(2026, 10, 25)),  # back to GMT
        (datetime(2026, 7, 2, 1, 0, tzinfo=timezone(timedelta(hours=5))), date(2026, 7, 1)),
    ],
)
def test_london_date_follows_bst_and_gmt(instant, expected):
    assert london_date(instant) == expected
    assert WorkingCalendar.london_date(instant) == expected


def test_a_naive_datetime_has_no_london_date():
    with pytest.raises(ValueError):
        london_date(datetime(2026, 7, 1, 12, 0))


@pytest.mark.parametrize(
    ("issued_at", "scheduled_for", "expected"),
    [
        # Monday to the following Monday: five working days, not short.
        (
            datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
            datetime(2026, 3, 9, 10, 0, tzinfo=UTC),
            Notice(5, False, date(2026, 3, 6)),
        ),
        # Monday to Friday: four working days, short notice.
        (
            datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
            datetime(2026, 3, 6, 10, 0, tzinfo=UTC),
            Notice(4, True, date(2026, 3, 5)),
        ),
        # Over Easter 2026: issued Wed 1 Apr; 5th working day after is Wed 8 Apr.
        (
            datetime(2026, 4, 1, 9, 0, tzinfo=UTC),
            datetime(2026, 4, 7, 10, 0, tzinfo=UTC),
            Notice(2, True, date(2026, 4, 2)),
        ),
        (
            datetime(2026, 4, 1, 9, 0, tzinfo=UTC),
            datetime(2026, 4, 8, 10, 0, tzinfo=UTC),
            Notice(3, True, date(2026, 4, 7)),
        ),
        (
            datetime(2026, 3, 30, 9, 0, tzinfo=UTC),
            datetime(2026, 4, 8, 10, 0, tzinfo=UTC),
            Notice(5, False, date(2026, 4, 7)),
        ),
        # Issued 23:30 UTC on Sunday 5 July (BST) is Monday 6 July in London.
        (
            datetime(2026, 7, 5, 23, 30, tzinfo=UTC),
            datetime(2026, 7, 13, 9, 0, tzinfo=UTC),
            Notice(5, False, date(2026, 7, 10)),
        ),
        # Same instant in winter (GMT) stays on the Sunday; Monday counts too.
        (
            datetime(2026, 1, 4, 23, 30, tzinfo=UTC),
            datetime(2026, 1, 9, 9, 0, tzinfo=UTC),
            Notice(5, False, date(2026, 1, 8)),
        ),
        # Over Christmas 2026: report due before the observed Boxing Day.
        (
            datetime(2026, 12, 21, 9, 0, tzinfo=UTC),
            datetime(2026, 12, 29, 10, 0, tzinfo=UTC),
            Notice(4, True, date(2026, 12, 24)),
        ),
    ],
)
def test_conference_notice(issued_at, scheduled_for, expected):
    assert notice(issued_at, scheduled_for, ENGLAND) == expected


def test_conference_notice_requirement_can_be_changed():
    issued, held = datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 6, 9, tzinfo=UTC)
    assert notice(issued, held, ENGLAND, required=4).short_notice is False


def test_conference_notice_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        notice(datetime(2026, 3, 2, 9), datetime(2026, 3, 9, 9, tzinfo=UTC), ENGLAND)


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2027, 3, 31), 1, date(2027, 4, 30)),
        (date(2027, 1, 15), 1, date(2027, 2, 15)),
        (date(2026, 12, 31), 1, date(2027, 1, 31)),  # over the year end
        (date(2027, 1, 31), 13, date(2028, 2, 29)),
        (date(2027, 3, 31), -1, date(2027, 2, 28)),
        (date(2027, 5, 10), 0, date(2027, 5, 10)),
    ],
)
def test_add_months_clamps_to_the_end_of_the_month(day, n, expected):
    assert add_months(day, n) == expected


def test_add_months_defaults_to_one_month():
    assert add_months(date(2027, 1, 31)) == date(2027, 2, 28)
