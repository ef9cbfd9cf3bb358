"""The due dates the protocol sets, counted in working days on the deployment's calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from isp_common.workingdays import WorkingCalendar, add_months

from .responses import DEFAULT_EMERGENCY_RESPONSE_HOURS, in_working_hours, response_due_at, response_kind
from .rules import PRIORITY_DIRECTION

JOINT_VISIT_WORKING_DAYS = 3
"""Initial joint visit within 3 working days from allocation (practice guidance)."""
WORKBOOK_WORKING_DAYS = 2
"""Workbook summary and programme opened within 2 working days from allocation (practice guidance)."""
DEFAULT_ASSESSMENT_BOOKING_WORKING_DAYS = 5


@dataclass(frozen=True)
class DueRules:
    """The working-day limits the protocol sets, with the calendar they are counted on."""

    calendar: WorkingCalendar
    assessment_booking_working_days: int = DEFAULT_ASSESSMENT_BOOKING_WORKING_DAYS
    allocation_weekday: int = 0
    emergency_response_hours: int = DEFAULT_EMERGENCY_RESPONSE_HOURS

    def assessment_booking_due(self, accepted_on: date) -> date:
        """The assessment appointment is booked within N working days of acceptance (default 5)."""
        return self.calendar.working_days_after(accepted_on, self.assessment_booking_working_days)

    def joint_visit_due(self, allocated_on: date) -> date:
        return self.calendar.working_days_after(allocated_on, JOINT_VISIT_WORKING_DAYS)

    def workbook_due(self, allocated_on: date) -> date:
        return self.calendar.working_days_after(allocated_on, WORKBOOK_WORKING_DAYS)

    def monthly_summary_due(self, activated_on: date, month: int) -> date:
        """The ``month``-th monthly summary (1, 2, ...) after activation: the same day of the
        month (clamped to the month's end), moved to the next working day when it is not one,
        so that a summary is never due on a day nobody works."""
        return self.calendar.next_working_day_on_or_after(add_months(activated_on, month))

    def allocation_meeting_on(self, requested_on: date) -> date:
        """The weekly allocation meeting that considers a referral made on ``requested_on``
        ("new referrals will be considered on a weekly basis"): the first allocation weekday
        on or after it, or the next working day when that day is a bank holiday."""
        days = (self.allocation_weekday - requested_on.weekday()) % 7
        return self.calendar.next_working_day_on_or_after(date.fromordinal(requested_on.toordinal() + days))

    def response_due(
        self, direction: str, threshold: str | None, requested_at: datetime, allocation_meeting_on: date | None
    ) -> datetime | None:
        """When the receiver's answer is due (:mod:`.responses`); None: this referral has no deadline."""
        kind = response_kind(direction, threshold)
        if kind is None:
            return None
        return response_due_at(
            kind,
            requested_at,
            calendar=self.calendar,
            emergency_hours=self.emergency_response_hours,
            allocation_meeting_on=allocation_meeting_on,
        )

    def in_working_hours(self, at: datetime) -> bool:
        return in_working_hours(self.calendar, at)


def assessment_booking_applies(direction: str) -> bool:
    """The assessment appointment is booked by the treatment provider a parent is referred to."""
    return direction == PRIORITY_DIRECTION


def overdue(due_on: date, today: date) -> bool:
    """A due date is missed once its day has ended (London date after it)."""
    return today > due_on
