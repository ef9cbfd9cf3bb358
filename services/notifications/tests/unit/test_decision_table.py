"""``docs/decisions.md`` is the policy code's own table (issue 10, "Done when"): it equals the
rendering, names every statutory ground, and the categories it gives each alert are the ones
the handlers ask for."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import pytest
from isp_common.db import UnitOfWork
from isp_common.workingdays import WorkingCalendar
from isp_notifications import facts
from isp_notifications.domain import policy
from isp_notifications.domain.decision_table import ALERT_CATEGORIES, render
from isp_notifications.domain.shares import Share
from isp_notifications.handlers import referrals, register, socialcare, treatment
from isp_schemas import alerts
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from isp_schemas.registry import model_for

from ..kit import CSC, PROVIDER

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

DOCUMENT = next(p / "docs/decisions.md" for p in Path(__file__).resolve().parents if (p / "docs").is_dir())


def test_docs_decisions_is_the_rendering_of_the_policy() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == render(), (
        "docs/decisions.md is stale: .venv/bin/python -m isp_notifications.domain.decision_table > docs/decisions.md"
    )


def test_every_statutory_ground_of_the_contract_is_in_the_policy_and_the_table() -> None:
    grounds = get_args(alerts.StatutoryGround)
    assert sorted(rule.ground for rule in policy.GROUNDS) == sorted(grounds)
    table = render()
    for ground in grounds:
        assert f"| statutory: `{ground}` |" in table


def test_each_shared_alert_requires_the_category_its_schema_names() -> None:
    for alert_type, categories in ALERT_CATEGORIES.items():
        schema = alerts_by_type()[alert_type]
        assert schema.data_category in (None, *categories.required), alert_type


def alerts_by_type() -> dict[str, type[alerts.AlertBase]]:
    found: dict[str, type[alerts.AlertBase]] = {}
    pending: list[type[alerts.AlertBase]] = [alerts.AlertBase]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "event_type" in vars(cls):
            found[cls.event_type] = cls
    return found


def invite(uow: UnitOfWork, event: CloudEvent, data: Any, now: datetime) -> None:
    socialcare.invite(uow, event, data, now, WorkingCalendar())


DECIDERS: list[tuple[Any, str, str]] = [
    (referrals.share_referral, "uk.isp.referral.requested.v1", CSC),
    (referrals.assessment_missed, "uk.isp.referral.assessment_missed.v1", PROVIDER),
    (referrals.attendance_unrecorded, "uk.isp.referral.attendance_unrecorded.v1", PROVIDER),
    (referrals.referral_declined, "uk.isp.referral.declined.v1", PROVIDER),
    (treatment.episode_disengaged, "uk.isp.treatment.episode.disengaged.v1", PROVIDER),
    (invite, "uk.isp.socialcare.conference.scheduled.v1", CSC),
    (register.cross_area_match, "uk.isp.register.cross_area_match.v1", CSC),
]
"""The decider of one causing event of each alert type that shares (the schemas' example of it)."""


def test_the_handlers_ask_for_the_categories_the_table_gives_each_alert(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Share] = []

    def record(_uow: UnitOfWork, share: Share, _build: Any, _now: datetime, **_kw: Any) -> policy.Decision:
        made.append(share)
        return policy.Decision(True)

    for module in (referrals, register, socialcare, treatment):
        monkeypatch.setattr(module, "share_alert", record)
    monkeypatch.setattr(facts, "social_care_working_with", lambda *_args: {CSC: []})
    for decider, event_type, source in DECIDERS:
        data = model_for(event_type).model_validate(EXAMPLES[event_type])
        decider(uow, CloudEvent.create(type=event_type, source_org=source, data=data, time=NOW), data, NOW)
    asked = {share.alert_type: (share.required, share.optional) for share in made}
    assert asked == {alert_type: (c.required, c.optional) for alert_type, c in ALERT_CATEGORIES.items()}
