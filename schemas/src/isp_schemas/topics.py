"""Kafka topics: names, who publishes and consumes them, partitions and message keys.

Key rule (CONTRACT section 4): the message key is the event's ``subject`` (the person's NHS
number; a register ``person_key`` on ``isp.register.v1``), or the ``conference_id`` for
conference events, so one person's (or one conference's) events stay in order. Directory
events are keyed by the organisation id. An event with none of these is keyed by its own id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .people import ORG_ID_PATTERN

if TYPE_CHECKING:
    from .envelope import CloudEvent

TREATMENT = "isp.treatment.v1"
SOCIALCARE = "isp.socialcare.v1"
REFERRALS = "isp.referrals.v1"
CONSENT = "isp.consent.v1"
REGISTER = "isp.register.v1"
AUDIT = "isp.audit.v1"
AUDIT_CHECKPOINTS = "isp.audit.checkpoints.v1"
DIRECTORY = "isp.directory.v1"
DEADLETTER = "isp.deadletter.v1"

ALERTS_TEMPLATE = "isp.alerts.{org}.v1"
"""The per-recipient alerts topic, with ``{org}`` the recipient organisation's id."""
ALERTS_PATTERN = r"^isp\.alerts\." + ORG_ID_PATTERN.removeprefix("^").removesuffix("$") + r"\.v1$"
"""A regular expression matching every alerts topic (use it for pattern subscriptions)."""
_ALERTS = re.compile(ALERTS_PATTERN)
_ORG = re.compile(ORG_ID_PATTERN)

DEFAULT_PARTITIONS = 6
"""Partitions per topic unless deployment says otherwise (ordering is per key, not per topic)."""

CONFERENCE_KEYED_TYPES = frozenset(
    {
        "uk.isp.socialcare.conference.scheduled.v1",
        "uk.isp.socialcare.conference.cancelled.v1",
        "uk.isp.alert.conference_invitation.v1",
        "uk.isp.alert.conference_cancelled.v1",
        "uk.isp.alert.report_overdue.v1",
    }
)
"""Event types keyed by ``data.conference_id`` rather than the subject."""

ORGANISATION_KEYED_TYPES = frozenset({"uk.isp.directory.organisation.updated.v1"})
"""Event types keyed by the organisation id, ``data.id``."""


def alerts(org: str) -> str:
    """The alerts topic of organisation ``org``; raises ValueError for an invalid org id."""
    if not isinstance(org, str) or not _ORG.match(org):
        raise ValueError(f"not an organisation id: {org!r}")
    return ALERTS_TEMPLATE.format(org=org)


def alerts_org(topic: str) -> str | None:
    """The recipient organisation of an alerts topic, or None if ``topic`` is not one."""
    if not _ALERTS.match(topic):
        return None
    return topic.removeprefix("isp.alerts.").removesuffix(".v1")


def is_alerts_topic(topic: str) -> bool:
    return alerts_org(topic) is not None


def message_key(event: CloudEvent) -> str:
    """The Kafka message key for ``event`` (see the module docstring)."""
    if event.type in CONFERENCE_KEYED_TYPES and event.data.get("conference_id"):
        return str(event.data["conference_id"])
    if event.type in ORGANISATION_KEYED_TYPES and event.data.get("id"):
        return str(event.data["id"])
    return event.subject or event.id


@dataclass(frozen=True)
class TopicSpec:
    name: str
    publishers: str
    consumers: str
    key: str
    description: str
    partitions: int = DEFAULT_PARTITIONS


TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (
        TopicSpec(
            TREATMENT,
            publishers="treatment provider systems",
            consumers="referrals (appointments, activation), notifications (DNA, disengagement)",
            key="subject (NHS number)",
            description="Appointments booked/attended/missed; treatment episodes.",
        ),
        TopicSpec(
            SOCIALCARE,
            publishers="children's social care systems",
            consumers="notifications (statutory grounds, conference invitations), referrals",
            key="subject (NHS number); conference_id for conference events",
            description="Section 47 enquiries, CP/CIN plans, conferences.",
        ),
        TopicSpec(
            REFERRALS,
            publishers="social care and provider systems (requested); referrals service (rest)",
            consumers="referrals, notifications",
            key="subject (NHS number)",
            description="Referrals both ways and their later life.",
        ),
        TopicSpec(
            CONSENT,
            publishers="social care and provider systems",
            consumers="every service that decides a disclosure",
            key="subject (NHS number)",
            description="Consent given and withdrawn.",
        ),
        TopicSpec(
            REGISTER,
            publishers="register service",
            consumers="notifications (review reminders), register (cross-area matching)",
            key="subject (person_key: HMAC of the NHS number, never the number)",
            description="Safeguarding register entries and their reviews (internal).",
        ),
        TopicSpec(
            AUDIT,
            publishers="every service that shares or withholds (through its outbox)",
            consumers="audit service",
            key="subject (NHS number), else the event id",
            description="One DisclosureRecorded per decision to share or withhold.",
        ),
        TopicSpec(
            AUDIT_CHECKPOINTS,
            publishers="audit service",
            consumers="anyone keeping a copy of the audit trail's signed heads (internal)",
            key="the log name (isp-audit)",
            description="Signed checkpoints of the audit hash chain (size, head hash, time).",
            partitions=1,
        ),
        TopicSpec(
            DIRECTORY,
            publishers="notifications (the directory API and isp directory add)",
            consumers="referrals, register (cross-area contacts)",
            key="the organisation id",
            description="Partnership directory entries as they change (internal): kind, DSL contact, keys.",
        ),
        TopicSpec(
            DEADLETTER,
            publishers="every consumer",
            consumers="operators",
            key="the original message's key",
            description="Messages that could not be parsed or validated, byte for byte.",
        ),
        TopicSpec(
            ALERTS_TEMPLATE,
            publishers="the partnership services (whichever decides the share)",
            consumers="the recipient organisation; notifications (webhook delivery)",
            key="subject (NHS number); conference_id for conference alerts; else the alert id",
            description="Alerts to one organisation; access is granted per organisation.",
        ),
    )
}

STATIC_TOPICS: list[str] = [
    TREATMENT,
    SOCIALCARE,
    REFERRALS,
    CONSENT,
    REGISTER,
    AUDIT,
    AUDIT_CHECKPOINTS,
    DIRECTORY,
    DEADLETTER,
]
"""Every topic with a fixed name (alerts topics are created per organisation)."""


def partitions_for(name: str, default: int = DEFAULT_PARTITIONS) -> int:
    """The partitions topic ``name`` is created with: the catalogue's own number where it gives one
    other than :data:`DEFAULT_PARTITIONS` (the audit checkpoints: 1, one ordered log), else
    ``default``, a deployment's number for the rest (``ISP_TOPIC_PARTITIONS``). As
    ``deploy/kafka/init.sh`` creates them for Apache Kafka."""
    spec = TOPICS.get(name)
    if spec is not None and spec.partitions != DEFAULT_PARTITIONS:
        return spec.partitions
    return default
