"""Conference notice (CONTRACT §4 conference_invitation; DOMAIN rule 5) across weekends, Easter
and Christmas/New Year. Dates are London dates; 2026 bank holidays in England: Good Friday
3 April, Easter Monday 6 April, Christmas Day Friday 25 December, Boxing Day (substitute)
Monday 28 December; New Year's Day Friday 1 January 2027.

``notice_working_days``: working days after the issue date up to and including the
conference date. ``short_notice``: the conference is before the 5th working day after issue.
``report_due``: the last working day before the conference.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from isp_notifications.domain.conferences import WorkingCalendar, notice

LONDON = ZoneInfo("Europe/London")
UTC = ZoneInfo("UTC")


def at(y, m, d, hh=10, mm=0, tz=LONDON) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=tz)


# (case, issued_at, scheduled_for, notice_working_days, short_notice, report_due)
CASES = [
    ("Mon to next Mon: exactly five", at(2026, 3, 2), at(2026, 3, 9), 5, False, date(2026, 3, 6)),
    ("Mon to Fri same week: four", at(2026, 3, 2), at(2026, 3, 6), 4, True, date(2026, 3, 5)),
    ("Fri to next Fri across a weekend", at(2026, 3, 6), at(2026, 3, 13), 5, False, date(2026, 3, 12)),
    ("issued on a Saturday", at(2026, 3, 7), at(2026, 3, 13), 5, False, date(2026, 3, 12)),
    ("issued on a Sunday", at(2026, 3, 8), at(2026, 3, 13), 5, False, date(2026, 3, 12)),
    ("same day", at(2026, 3, 9, 9), at(2026, 3, 9, 15), 0, True, date(2026, 3, 6)),
    ("Wed before Easter to Wed after", at(2026, 4, 1), at(2026, 4, 8), 3, True, date(2026, 4, 7)),
    ("Wed before Easter to Fri after", at(2026, 4, 1), at(2026, 4, 10), 5, False, date(2026, 4, 9)),
    ("Maundy Thu to Thu after", at(2026, 4, 2), at(2026, 4, 9), 3, True, date(2026, 4, 8)),
    ("Maundy Thu to Mon 13 Apr", at(2026, 4, 2), at(2026, 4, 13), 5, False, date(2026, 4, 10)),
    (
        "conference the Tuesday after Easter: report due Maundy Thursday",
        at(2026, 3, 31),
        at(2026, 4, 7),
        3,
        True,
        date(2026, 4, 2),
    ),
    (
        "Mon 21 Dec to Tue 29 Dec (Christmas, substitute Boxing Day)",
        at(2026, 12, 21),
        at(2026, 12, 29),
        4,
        True,
        date(2026, 12, 24),
    ),
    ("Mon 21 Dec to Wed 30 Dec", at(2026, 12, 21), at(2026, 12, 30), 5, False, date(2026, 12, 29)),
    ("Tue 29 Dec to Tue 5 Jan (New Year)", at(2026, 12, 29), at(2027, 1, 5), 4, True, date(2027, 1, 4)),
    ("Tue 29 Dec to Wed 6 Jan", at(2026, 12, 29), at(2027, 1, 6), 5, False, date(2027, 1, 5)),
    (
        "Christmas Eve to Mon 4 Jan: report due Thu 31 Dec",
        at(2026, 12, 24),
        at(2027, 1, 4),
        4,
        True,
        date(2026, 12, 31),
    ),
    (
        "issued 23:30 UTC Sun 29 Mar = 00:30 Mon in London (BST)",
        at(2026, 3, 29, 23, 30, UTC),
        at(2026, 4, 7),
        4,
        True,
        date(2026, 4, 2),
    ),
    (
        "held 23:30 UTC Thu 9 Apr = 00:30 Fri 10 Apr London",
        at(2026, 4, 1),
        at(2026, 4, 9, 23, 30, UTC),
        5,
        False,
        date(2026, 4, 9),
    ),
]


@pytest.mark.parametrize(("case", "issued", "held", "days", "short", "due"), CASES, ids=[c[0] for c in CASES])
def test_conference_notice(case, issued, held, days, short, due):
    given = notice(issued, held, WorkingCalendar())
    assert (given.notice_working_days, given.short_notice, given.report_due) == (days, short, due)


def test_a_one_off_bank_holiday_from_settings_shortens_the_notice():
    calendar = WorkingCalendar(extra_holidays=[date(2026, 3, 4)])
    given = notice(at(2026, 3, 2), at(2026, 3, 9), calendar)
    assert (given.notice_working_days, given.short_notice) == (4, True)
