"""The receiver's response deadline: how long a referral may wait for an answer (accepted,
declined or allocated), and whether its deadline falls in working hours.

Neither protocol document gives a number for the answer itself, so the timescales are drawn from
what they do say, and from the national guidance the protocol defers to (004, "Referrals to
children and family services": "the protocol should outline next steps, in line with national
guidance"):

- **emergency** (a referral to children's social care at threshold ``emergency``, "a risk of
  immediate harm to a child"): answered the same day, within ``emergency_hours`` (4 by default)
  and never later than the end of the London day it was made. 004 asks for "clear arrangements
  for emergency referrals out of hours", so a deadline outside working hours is escalated to the
  receiver's out-of-hours team (the directory's ``out_of_hours``).
- **s47** (threshold ``child_protection_s47``): within one working day (8 working hours), the
  timescale *Working Together to Safeguard Children* sets for deciding the response to a referral.
- **priority** (social care to treatment, 004: "Referrals from children's social care should be
  treated as priority referrals"): answered by the close of the weekly allocation meeting that
  considers it (003, "Allocation": "New referrals will be considered on a weekly basis"), and
  never sooner than one working day after it arrived, so that a referral made just before the
  meeting ends is not overdue at once.

Other referrals (``child_in_need_s17``, ``family_support``) have no response deadline.
Working hours are Monday to Friday, 09:00 to 17:00 Europe/London, on working days (CONTRACT
section 3), both ends included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from isp_common.workingdays import LONDON, ONE_DAY, WorkingCalendar, london_date

from .rules import EMERGENCY_THRESHOLD, PRIORITY_DIRECTION, S47_THRESHOLD

ResponseKind = Literal["emergency", "s47", "priority"]

WORKING_DAY_OPENS = time(9)
WORKING_DAY_CLOSES = time(17)
ONE_WORKING_DAY = timedelta(hours=8)
"""09:00 to 17:00: one working day of working time."""
DEFAULT_EMERGENCY_RESPONSE_HOURS = 4


def response_kind(direction: str, threshold: str | None) -> ResponseKind | None:
    """Which response deadline a referral has, if any (see the module docstring)."""
    if direction == PRIORITY_DIRECTION:
        return "priority"
    if threshold == EMERGENCY_THRESHOLD:
        return "emergency"
    if threshold == S47_THRESHOLD:
        return "s47"
    return None


def in_working_hours(calendar: WorkingCalendar, at: datetime) -> bool:
    """Whether instant ``at`` falls in working hours (09:00 to 17:00 London, on a working day)."""
    local = at.astimezone(LONDON)
    return calendar.is_working_day(local.date()) and WORKING_DAY_OPENS <= local.time() <= WORKING_DAY_CLOSES


def working_time_after(calendar: WorkingCalendar, start: datetime, span: timedelta) -> datetime:
    """The instant (UTC) when ``span`` of working time has passed since ``start``; time outside
    working hours does not count (a referral made on Friday evening starts on Monday at 09:00)."""
    cursor = start.astimezone(LONDON)
    remaining = span
    day = cursor.date()
    while True:
        if calendar.is_working_day(day):
            opens, closes = _at(day, WORKING_DAY_OPENS), _at(day, WORKING_DAY_CLOSES)
            begin = max(cursor, opens)
            if begin <= closes and remaining <= closes - begin:
                return (begin + remaining).astimezone(UTC)
            if begin < closes:
                remaining -= closes - begin
        day += ONE_DAY
        cursor = _at(day, time(0))


def response_due_at(
    kind: ResponseKind,
    requested_at: datetime,
    *,
    calendar: WorkingCalendar,
    emergency_hours: int = DEFAULT_EMERGENCY_RESPONSE_HOURS,
    allocation_meeting_on: date | None = None,
) -> datetime:
    """When the receiver's answer to a referral of ``kind`` made at ``requested_at`` is due (UTC)."""
    if kind == "emergency":
        end_of_day = _at(london_date(requested_at), time.max)
        return min(requested_at + timedelta(hours=emergency_hours), end_of_day).astimezone(UTC)
    one_working_day = working_time_after(calendar, requested_at, ONE_WORKING_DAY)
    if kind == "priority" and allocation_meeting_on is not None:
        return max(_at(allocation_meeting_on, WORKING_DAY_CLOSES).astimezone(UTC), one_working_day)
    return one_working_day


def _at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LONDON)
