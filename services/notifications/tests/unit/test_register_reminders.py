"""Register reminders to the owning organisation's own DSL: operational, no person, no audit of a share."""

from __future__ import annotations

from datetime import date

from isp_common.db import UnitOfWork
from isp_notifications.alerts import register
from isp_schemas.register import WeeklyReviewMissed

DSL_ORG = "CGL-WSX"


def test_a_week_without_the_weekly_review_is_flagged_to_the_organisations_own_dsl_once(store):
    missed = WeeklyReviewMissed(org=DSL_ORG, week_starting=date(2026, 11, 16), last_reviewed_on=date(2026, 11, 9))
    event = store.handle(register.weekly_review_missed, missed, DSL_ORG)
    with UnitOfWork(store.engine) as uow:  # the same event again: no second alert
        register.weekly_review_missed(uow, event, missed)
        uow.commit()
    [alert] = store.alerts_to(DSL_ORG, "uk.isp.alert.weekly_review_missed.v1")
    assert alert["data"]["week_starting"] == "2026-11-16"
    assert alert["data"]["last_reviewed_on"] == "2026-11-09"
    assert alert["data"].get("lawful_basis") is None and alert["data"].get("person") is None
    assert store.audit() == []  # nothing about a person left the organisation
