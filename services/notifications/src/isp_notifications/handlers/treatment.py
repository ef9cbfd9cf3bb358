"""``treatment_disengaged``: a parent dropped out of treatment; tell each social-care
organisation working with that parent's children (DOMAIN rule 4), known from open referrals,
open section 47 enquiries and active plans. Each recipient gets only the children it is
known to work with, and only when ``risk`` is covered as well as ``treatment_status``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from isp_common.db import UnitOfWork
from isp_common.workingdays import london_date
from isp_schemas.alerts import TreatmentDisengagedAlert
from isp_schemas.envelope import CloudEvent
from isp_schemas.treatment import EpisodeDisengaged

from .. import facts
from ..disclosure import share_alert
from ..domain.shares import Share
from .timed import TimedHandler


def episode_disengaged(uow: UnitOfWork, event: CloudEvent, data: EpisodeDisengaged, now: datetime) -> None:
    provider = event.source_org
    orgs = facts.social_care_working_with(uow.session, data.person.nhs_number, london_date(now))
    for org, children in sorted(orgs.items()):
        if org == provider:
            continue
        share = Share(
            alert_type=TreatmentDisengagedAlert.event_type,
            sender=provider,
            recipient=org,
            nhs_number=data.person.nhs_number,
            person=data.person.model_dump(mode="json", exclude_none=True),
            source_event_id=event.id,
            required=("treatment_status",),
            optional=("risk",),
            children=children,
            children_category="risk",
        )

        def build(
            alert_id: str,
            basis: dict[str, Any],
            categories: tuple[str, ...],
            children: list[dict[str, Any]] = children,
        ) -> TreatmentDisengagedAlert:
            return TreatmentDisengagedAlert(
                alert_id=alert_id,
                sender_org=provider,
                person=data.person,
                lawful_basis=basis,
                episode_id=data.episode_id,
                last_contact_on=data.last_contact_on,
                children=children if "risk" in categories else None,
            )

        share_alert(uow, share, build, now)


HANDLERS: dict[str, TimedHandler] = {EpisodeDisengaged.event_type: episode_disengaged}
