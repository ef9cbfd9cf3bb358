"""Register alerts (from ``isp.register.v1``, which never carries an NHS number).

* A cross-area match becomes two ``register_cross_area`` alerts, one to each organisation's
  DSL, on statutory ground ``safeguarding_register_match``, carrying only the fact of the
  match: entry ids, organisations, categories; no person, no notes, no children. Each is a
  share of the *other* organisation's entry, so that organisation is the discloser.
* Review reminders (``review.due``/``review.overdue``) and a missed weekly review go to the
  owning organisation's DSL: operational, no person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from isp_common.db import UnitOfWork
from isp_schemas.alerts import RegisterCrossAreaAlert, RegisterReviewDueAlert, WeeklyReviewMissedAlert
from isp_schemas.envelope import CloudEvent
from isp_schemas.register import RegisterCrossAreaMatch, ReviewDue, ReviewOverdue, WeeklyReviewMissed

from ..disclosure import queue_operational, share_alert
from ..domain.shares import BuildData, Share
from .timed import TimedHandler


def cross_area_match(uow: UnitOfWork, event: CloudEvent, data: RegisterCrossAreaMatch, now: datetime) -> None:
    sides = (
        (data.org, data.entry_id, data.category, data.other_org, data.other_entry_id, data.other_category),
        (data.other_org, data.other_entry_id, data.other_category, data.org, data.entry_id, data.category),
    )
    for recipient, own_entry, own_category, discloser, their_entry, their_category in sides:
        share = Share(
            alert_type=RegisterCrossAreaAlert.event_type,
            sender=discloser,
            recipient=recipient,
            nhs_number=None,
            person=None,
            source_event_id=event.id,
            required=("register",),
            register_match=True,
        )
        build = _match_alert(own_entry, own_category, discloser, their_entry, their_category)
        share_alert(uow, share, build, now)


def _match_alert(own_entry: str, own_category: str, discloser: str, their_entry: str, their_category: str) -> BuildData:
    """The alert to one side: the *other* side's entry (its discloser's), and the recipient's own for reference."""

    def build(alert_id: str, basis: dict[str, Any], _categories: tuple[str, ...]) -> RegisterCrossAreaAlert:
        return RegisterCrossAreaAlert(
            alert_id=alert_id,
            sender_org=discloser,
            lawful_basis=basis,
            entry_id=their_entry,
            other_org=discloser,
            category=their_category,
            own_entry_id=own_entry,
            own_category=own_category,
        )

    return build


def review_due(uow: UnitOfWork, event: CloudEvent, data: ReviewDue, now: datetime) -> None:
    alert = RegisterReviewDueAlert(
        alert_id="pending",
        sender_org=data.org,
        entry_id=data.entry_id,
        category=data.category,
        risk=data.risk,
        review_due=data.review_due,
        overdue=isinstance(data, ReviewOverdue),
    )
    queue_operational(uow, alert, sender=data.org, recipient=data.org, source_event_id=event.id, now=now)


def weekly_review_missed(uow: UnitOfWork, event: CloudEvent, data: WeeklyReviewMissed, now: datetime) -> None:
    """A week without the DSL's weekly review of the register is flagged to that DSL."""
    alert = WeeklyReviewMissedAlert(
        alert_id="pending",
        sender_org=data.org,
        week_starting=data.week_starting,
        last_reviewed_on=data.last_reviewed_on,
    )
    queue_operational(uow, alert, sender=data.org, recipient=data.org, source_event_id=event.id, now=now)


HANDLERS: dict[str, TimedHandler] = {
    RegisterCrossAreaMatch.event_type: cross_area_match,
    ReviewDue.event_type: review_due,
    ReviewOverdue.event_type: review_due,
    WeeklyReviewMissed.event_type: weekly_review_missed,
}
