"""``treatment_disengaged``: a parent dropped out of treatment; tell each children's social care
organisation working with that parent's children (DOMAIN rule 4), known from open referrals,
open section 47 enquiries and active plans naming the parent or one of their children. Each
recipient gets only the children it is known to work with, and only when ``risk`` is covered as
well as ``treatment_status``.

The drop-out keeps looking for recipients for 24 hours: a fact naming another organisation
working with the children in that time (a referral or plan that arrives late) sends it there too.
When none is known at first, the provider's DSL is told at once (``recipient_unknown``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from isp_common.db import UnitOfWork
from isp_schemas.alerts import RecipientUnknownAlert, TreatmentDisengagedAlert
from isp_schemas.envelope import CloudEvent
from isp_schemas.treatment import EpisodeDisengaged

from .. import facts
from ..disclosure import keep_source_event, queue_operational, share_alert
from ..domain.shares import Share, alert_id_for
from ..tables import SEEKING, WithheldShare
from .timed import TimedHandler

RECIPIENT_SOUGHT_FOR = timedelta(hours=24)
NO_RECIPIENT = "no children's social care organisation is known to work with the person's children"


def episode_disengaged(uow: UnitOfWork, event: CloudEvent, data: EpisodeDisengaged, now: datetime) -> None:
    """Share the drop-out with each organisation working with the children when it happened; keep
    looking for 24 hours, so an organisation whose facts arrive late is told too."""
    provider = event.source_org
    orgs = facts.social_care_working_with(uow.session, data.person.nhs_number, min(event.time, now), now)
    orgs.pop(provider, None)
    if uow.session.get(WithheldShare, alert_id_for(event.id, TreatmentDisengagedAlert.event_type, "")) is None:
        _seek_recipients(uow, event, data, now, tell=not orgs)
    for org, children in sorted(orgs.items()):
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
            occurred_at=event.time,
            source_event=event,
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


def _seek_recipients(uow: UnitOfWork, event: CloudEvent, data: EpisodeDisengaged, now: datetime, *, tell: bool) -> None:
    """Keep the drop-out open for a day (state ``seeking``: a fact about the family decides it
    again), and, when no recipient is known yet, tell the provider's DSL now."""
    alert_id = alert_id_for(event.id, TreatmentDisengagedAlert.event_type, "")
    until = now + RECIPIENT_SOUGHT_FOR
    uow.session.add(
        WithheldShare(
            alert_id=alert_id,
            alert_type=TreatmentDisengagedAlert.event_type,
            sender=event.source_org,
            recipient="",
            nhs_number=data.person.nhs_number,
            source_event_id=event.id,
            purpose="safeguarding",
            categories=["treatment_status", "risk"],
            reason=NO_RECIPIENT,
            withheld_at=now,
            open_until=until,
            state=SEEKING,
        )
    )
    keep_source_event(uow, event, until)
    if not tell:
        return
    notice = RecipientUnknownAlert(
        alert_id="pending",
        sender_org=event.source_org,
        person=data.person,
        withheld_type=TreatmentDisengagedAlert.event_type,
        reason=NO_RECIPIENT,
        source_event_id=event.id,
        withheld_alert_id=alert_id,
        deadline=until,
    )
    queue_operational(
        uow, notice, sender=event.source_org, recipient=event.source_org, source_event_id=event.id, now=now
    )


HANDLERS: dict[str, TimedHandler] = {EpisodeDisengaged.event_type: episode_disengaged}
DECIDERS: dict[str, TimedHandler] = HANDLERS
