"""Sharing one alert with one organisation: decide, then queue the alert and its audit record
in the same transaction (no alert can leave without its record), or audit the withholding
and tell the sending organisation's designated safeguarding lead.

Audit policy (decided here, documented in the service README):

* every policy decision about a share (``shared`` or ``withheld``) is recorded, channel
  ``kafka`` (the alert's first channel; webhooks carry the same alert id);
* a recipient's acknowledgement of an audited alert is recorded as ``received``, channel
  ``api``, so the trail holds both ends of each share;
* operational alerts (to an organisation's own DSL, or that carry no person) are not
  disclosures and are not recorded. Referral status news does carry a person across
  organisations, so it goes through the policy like any other share.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from isp_common import metrics, provenance, telemetry
from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_schemas import topics
from isp_schemas.alerts import AlertBase, DisclosureReleasedAlert, DisclosureWithheldAlert, JudgementReleaseAlert
from isp_schemas.audit import DisclosureRecorded, disclosure_record_id
from isp_schemas.envelope import CloudEvent
from sqlmodel import col, select

from . import facts
from .domain import policy
from .domain.shares import BuildData, Share, alert_id_for, audit_event_id, delivery_id_for, withheld_alert_id
from .tables import AlertRecord, Delivery, InformingStatement, SourceEvent, Subscription, WithheldShare

log = logging.getLogger(__name__)
NOT_YET_TOLD = "not yet told"


@dataclass(frozen=True)
class Audited:
    """One alert as its audit records name it: the share it is, between whom, about whom."""

    alert_id: str
    alert_type: str
    discloser: str
    recipient: str
    nhs_number: str | None
    purpose: str
    source_event_id: str | None

    @classmethod
    def of_share(cls, share: Share) -> Audited:
        return cls(
            share.alert_id,
            share.alert_type,
            share.sender,
            share.recipient,
            share.nhs_number,
            share.purpose,
            share.source_event_id,
        )

    @classmethod
    def of_alert(cls, alert: AlertRecord) -> Audited:
        return cls(
            alert.id,
            alert.type,
            alert.sender,
            alert.recipient,
            alert.nhs_number,
            alert.purpose or policy.SAFEGUARDING,
            alert.source_event_id,
        )


def prefetch(uow: UnitOfWork, shares: Sequence[Share], event_ids: Sequence[str]) -> None:
    """Read ahead whether these shares were decided before (their alert, a withholding, the notice
    to the sender of one: :func:`tell_sender_withheld`) and these events are kept, in a few
    queries: :func:`share_alert` then asks again only of those found."""
    ids = [share.alert_id for share in shares]
    uow.session.load(AlertRecord, ids + [withheld_alert_id(alert_id) for alert_id in ids])
    uow.session.load(WithheldShare, ids)
    uow.session.load(SourceEvent, event_ids)


def request_for(uow: UnitOfWork, share: Share, now: datetime) -> tuple[policy.Request, list[dict[str, Any]]]:
    """The policy's question about ``share`` decided ``now``, with the children the facts link."""
    children = facts.linked_children(uow.session, share.nhs_number) + list(share.children)
    parents = [share.nhs_number] if share.nhs_number else []
    at = min(share.occurred_at or now, now)  # a causing event from the future is judged now
    request = policy.Request(
        recipient=share.recipient,
        purpose=share.purpose,
        required=share.required,
        optional=share.optional,
        at=at,
        decided_at=now,
        person=share.nhs_number,
        children=[policy.ChildRef.of(c, parents) for c in children],
        conference_kind=share.conference_kind,
    )
    return request, children


def decide(uow: UnitOfWork, share: Share, now: datetime) -> policy.Decision:
    request, children = request_for(uow, share, now)
    known = facts.facts_about(
        uow.session,
        share.nhs_number,
        children,
        recipient=share.recipient,
        at=request.at,
        register_match=share.register_match,
    )
    return policy.decide(request, known)


@dataclass(frozen=True)
class Judgement:
    """A designated safeguarding lead's release of a withheld share on professional judgement."""

    by: str
    reason: str
    service_user_informed: bool
    not_informed_reason: str | None
    partnership_ig_org: str


_judgements: ContextVar[Mapping[str, Judgement] | None] = ContextVar("isp_judgements", default=None)


@contextmanager
def releasing(alert_id: str, judgement: Judgement) -> Iterator[None]:
    """Within the block, the share ``alert_id`` is released on ``judgement`` when it is decided."""
    token = _judgements.set({alert_id: judgement})
    try:
        yield
    finally:
        _judgements.reset(token)


def share_alert(
    uow: UnitOfWork, share: Share, build: BuildData, now: datetime, *, judgement: Judgement | None = None
) -> policy.Decision:
    """Decide and queue, with the audit record, in the caller's unit of work.

    A share decided before is decided again only while it is withheld and open (a new fact
    arrived, or its DSL releases it): if a basis now holds it is sent, audited ``shared`` with
    ``supersedes`` naming the withheld record, and the sender's DSL is told. A share still
    withheld is not audited again.
    """
    withheld = uow.session.get_known(WithheldShare, share.alert_id)
    sent_as = share
    existing = uow.session.get_known(AlertRecord, share.alert_id)
    if existing is not None:
        if existing.status != "withheld" or withheld is None or withheld.state != "open":
            return policy.Decision(True, reason="already queued")
        # taken back by a withdrawal before it reached the broker: decided again, and sent (if a
        # basis now holds) as its successor, since the audit trail already holds its "shared" record
        sent_as = share.successor()
        if uow.session.get(AlertRecord, sent_as.alert_id) is not None:
            return policy.Decision(True, reason="already queued")
    elif withheld is not None and withheld.state != "open":
        return policy.Decision(False, reason=withheld.reason)
    judgement = judgement or (_judgements.get() or {}).get(share.alert_id)
    if judgement is not None:
        if withheld is None:
            return policy.Decision(False, reason="only a withheld share can be released")
        request, _children = request_for(uow, sent_as, now)
        decision = policy.release(request, judgement.by, judgement.reason)
    else:
        decision = decide(uow, sent_as, now)
    if decision.shared:
        supersedes = disclosure_record_id(share.alert_id, share.recipient, "withheld") if withheld else None
        _queue_shared(uow, sent_as, decision, build, now, supersedes=supersedes, judgement=judgement)
        if withheld is not None:
            _released(uow, withheld, share, decision, now, judgement)
    elif withheld is None:
        _withhold_share(uow, share, decision, now)
    else:
        return decision  # still withheld: decided again, nothing new to record
    outcome = ("released" if withheld else "shared") if decision.shared else "withheld"
    metrics.count_on_commit(
        uow, "isp_decisions", basis=str((decision.basis or {}).get("kind", "none")), outcome=outcome
    )
    # debug, not info: the audit trail holds every decision, and a log line each was 4 % of a
    # flat-out decision's CPU
    log.debug(
        "disclosure %s: alert %s type %s from %s to %s",
        outcome,
        share.alert_id,
        share.alert_type,
        share.sender,
        share.recipient,
    )
    return decision


def _queue_shared(
    uow: UnitOfWork,
    share: Share,
    decision: policy.Decision,
    build: BuildData,
    now: datetime,
    *,
    supersedes: str | None = None,
    judgement: Judgement | None = None,
) -> None:
    """The alert with only the categories its basis covers, and the ``shared`` record, together."""
    assert decision.basis is not None  # a share always has its lawful basis
    data = build(share.alert_id, decision.basis, decision.categories)
    children = share.children_sent(decision.categories)
    informed: tuple[bool | None, str | None] = (None, None)
    if judgement is not None:
        informed = (judgement.service_user_informed, judgement.not_informed_reason)
    elif decision.statutory:
        informed = informing(uow, share.sender, share.nhs_number)
    queue_alert(
        uow,
        share.alert_id,
        share.alert_type,
        share.sender,
        share.recipient,
        data,
        share.deadline,
        now,
        lawful_basis=decision.basis,
        purpose=share.purpose,
        data_categories=list(decision.categories),
        children=list(children),
        nhs_number=share.nhs_number,
        audited=True,
        source_event_id=share.source_event_id,
        service_user_informed=informed[0],
        not_informed_reason=informed[1],
    )
    if decision.basis.get("kind") == "consent" and share.source_event is not None:
        # a withdrawal may yet take it back before it reaches the broker: keep what caused it, so
        # it can be decided again on another basis while its time lasts
        keep_source_event(uow, share.source_event, share.open_until(now))
    publish_record(
        uow,
        Audited.of_share(share),
        "shared",
        children=children,
        categories=list(decision.categories),
        basis=decision.basis,
        informed=informed,
        channel="kafka",
        at=now,
        supersedes=supersedes,
    )


def _withhold_share(uow: UnitOfWork, share: Share, decision: policy.Decision, now: datetime) -> None:
    """Audit the withholding, keep the share open to a new decision, and tell the sender's DSL."""
    reason = decision.reason or "no lawful basis"
    categories = [*share.required, *share.optional]
    open_until = share.open_until(now)
    uow.session.add(
        WithheldShare(
            alert_id=share.alert_id,
            alert_type=share.alert_type,
            sender=share.sender,
            recipient=share.recipient,
            nhs_number=share.nhs_number,
            source_event_id=share.source_event_id,
            purpose=share.purpose,
            categories=categories,
            reason=reason,
            withheld_at=now,
            deadline=share.deadline.astimezone(UTC) if share.deadline else None,
            open_until=max(open_until, now),
        )
    )
    if share.source_event is not None:
        keep_source_event(uow, share.source_event, open_until)
    withhold(
        uow,
        Audited.of_share(share),
        share.person,
        categories,
        reason,
        now,
        deadline=share.deadline,
        refused_on=decision.consent_refused_on,
    )


def keep_source_event(uow: UnitOfWork, event: CloudEvent, until: datetime) -> None:
    """Keep the causing event while a share it led to is open, so it can be decided again."""
    row = uow.session.get_known(SourceEvent, event.id)
    if row is None:  # a plain row, written with the batch's others at the commit
        event_json = event.model_dump(mode="json", exclude_none=True)
        uow.session.insert_later(
            SourceEvent, {"id": event.id, "type": event.type, "event": event_json, "kept_until": until}
        )
        return
    row.kept_until = max(as_utc(row.kept_until) or until, until)
    uow.session.add(row)


def _released(
    uow: UnitOfWork,
    withheld: WithheldShare,
    share: Share,
    decision: policy.Decision,
    now: datetime,
    judgement: Judgement | None,
) -> None:
    """A withheld share went after all: close it, stand down its notice, tell the sender's DSL
    (and, on professional judgement, the partnership's IG organisation)."""
    assert decision.basis is not None
    withheld.state, withheld.released_at, withheld.released_basis = "released", now, decision.basis
    uow.session.add(withheld)
    notice = uow.session.get(AlertRecord, withheld_alert_id(share.alert_id))
    if notice is not None:
        notice.escalated = True  # nothing left to escalate: the alert it stood for has gone
        uow.session.add(notice)
    released = DisclosureReleasedAlert(
        alert_id="pending",
        sender_org=share.sender,
        person=share.person,
        lawful_basis=decision.basis,
        withheld_alert_id=share.alert_id,
        intended_recipient=share.recipient,
        withheld_type=share.alert_type,
    )
    queue_operational(
        uow, released, sender=share.sender, recipient=share.sender, source_event_id=share.alert_id, now=now
    )
    if judgement is not None:
        told = JudgementReleaseAlert(
            alert_id="pending",
            sender_org=share.sender,
            withheld_alert_id=share.alert_id,
            discloser=share.sender,
            intended_recipient=share.recipient,
            by=judgement.by,
            reason=judgement.reason,
            withheld_type=share.alert_type,
        )
        queue_operational(
            uow,
            told,
            sender=share.sender,
            recipient=judgement.partnership_ig_org,
            source_event_id=share.alert_id,
            now=now,
        )


def withhold(
    uow: UnitOfWork,
    about: Audited,
    person: dict[str, Any] | None,
    categories: list[str],
    reason: str | None,
    now: datetime,
    *,
    deadline: datetime | None = None,
    refused_on: date | None = None,
) -> None:
    """Audit a withheld share and tell the sending organisation's DSL (with the alert's deadline
    and any refusal of consent)."""
    reason = reason or "no lawful basis"
    publish_record(
        uow, about, "withheld", children=[], categories=categories, basis=None, channel="kafka", at=now, reason=reason
    )
    tell_sender_withheld(uow, about, person, reason, now, deadline=deadline, refused_on=refused_on)


def tell_sender_withheld(
    uow: UnitOfWork,
    about: Audited,
    person: dict[str, Any] | None,
    reason: str,
    now: datetime,
    *,
    deadline: datetime | None = None,
    refused_on: date | None = None,
) -> None:
    """The ``disclosure_withheld`` notice to the sender's DSL, carrying the withheld alert's
    deadline (it escalates like the alert it stands for) and any refusal of consent."""
    withheld_id = withheld_alert_id(about.alert_id)
    if uow.session.get_known(AlertRecord, withheld_id) is not None:
        return
    data = DisclosureWithheldAlert(
        alert_id=withheld_id,
        person=person,
        sender_org=about.discloser,
        withheld_type=about.alert_type,
        intended_recipient=about.recipient,
        reason=reason,
        source_event_id=about.source_event_id,
        withheld_alert_id=about.alert_id,
        deadline=deadline,
        consent_refused_on=refused_on,
    )
    queue_alert(uow, withheld_id, data.event_type, about.discloser, about.discloser, data, deadline, now)


def informing(uow: UnitOfWork, sender: str, nhs_number: str | None) -> tuple[bool, str | None]:
    """Whether the sender has told the service user of statutory shares (default: not yet)."""
    statement = uow.session.get(InformingStatement, (sender, nhs_number)) if nhs_number else None
    if statement is None:
        return False, NOT_YET_TOLD
    return statement.informed, None if statement.informed else statement.reason or NOT_YET_TOLD


def queue_alert(
    uow: UnitOfWork,
    alert_id: str,
    alert_type: str,
    sender: str,
    recipient: str,
    data: AlertBase,
    deadline: datetime | None,
    now: datetime,
    **fields: Any,
) -> None:
    """Put the alert on the recipient's topic (through the outbox), record it (an AlertRecord
    with ``fields`` besides, written with the batch's other rows at the commit) and queue its
    webhooks."""
    nhs_number = data.person.nhs_number if data.person else None
    # absent, not null: a field left out was withheld (or does not apply); a register match has no person
    body = data.model_dump(mode="json", exclude_none=True)
    event = CloudEvent.create(type=alert_type, source_org=sender, data=body, subject=nhs_number, id=alert_id)
    event_json = event.model_dump(mode="json", exclude_none=True)
    uow.session.insert_later(
        AlertRecord,
        {
            "id": alert_id,
            "type": alert_type,
            "recipient": recipient,
            "sender": sender,
            "nhs_number": nhs_number,
            "event": event_json,
            "deadline": deadline.astimezone(UTC) if deadline else None,
            "created_at": now,
            **fields,
        },
    )
    uow.publish(event, topics.alerts(recipient), key=topics.message_key(event))
    queue_webhooks(uow, alert_id, alert_type, recipient, event_json, now)


def _active_subscriptions(uow: UnitOfWork, org: str) -> list[Subscription]:
    """The organisation's active subscriptions, read once per transaction while none changes (a
    batch of alerts to one recipient asks for them once)."""
    reads = uow.session.memo((Subscription,))
    if org not in reads:
        reads[org] = uow.session.exec(
            select(Subscription).where(Subscription.org == org, col(Subscription.active).is_(True))
        ).all()
    return list(reads[org])


def queue_webhooks(
    uow: UnitOfWork, alert_id: str, alert_type: str, recipient: str, event: dict[str, Any], now: datetime
) -> None:
    """One delivery per subscription of the recipient that takes this type, numbered in its running count."""
    for sub in _active_subscriptions(uow, recipient):
        if sub.types and "*" not in sub.types and alert_type not in sub.types:
            continue
        sub.event_count += 1
        body = dict(event)
        body["subscription"] = sub.id
        body["eventnumber"] = sub.event_count
        uow.session.add(sub)
        uow.session.add(
            Delivery(
                id=delivery_id_for(alert_id, sub.id),
                alert_id=alert_id,
                subscription_id=sub.id,
                org=sub.org,
                event_number=sub.event_count,
                body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                traceparent=telemetry.current_traceparent(),
                next_attempt_at=now,
            )
        )


def queue_operational(
    uow: UnitOfWork,
    data: AlertBase,
    *,
    sender: str,
    recipient: str,
    source_event_id: str,
    now: datetime,
    key: str = "",
    deadline: datetime | None = None,
) -> None:
    """An operational alert (no lawful basis: to a party about its own work, or to its own DSL)."""
    alert_type = data.event_type
    alert_id = alert_id_for(source_event_id, alert_type, recipient, key)
    if uow.session.get(AlertRecord, alert_id) is not None:
        return
    data = data.model_copy(update={"alert_id": alert_id})
    queue_alert(uow, alert_id, alert_type, sender, recipient, data, deadline, now)


def publish_record(
    uow: UnitOfWork,
    about: Audited,
    decision: str,
    *,
    children: list[dict[str, Any]],
    categories: list[str],
    basis: dict[str, Any] | None,
    channel: str,
    at: datetime,
    informed: tuple[bool | None, str | None] = (None, None),
    reason: str | None = None,
    supersedes: str | None = None,
) -> None:
    """Queue the audit record of ``decision`` about the alert (``shared``, ``withheld``, ``received``)."""
    record = DisclosureRecorded(
        alert_id=about.alert_id,
        alert_type=about.alert_type,
        decision=decision,
        discloser=about.discloser,
        recipient=about.recipient,
        person=about.nhs_number,
        children=children,
        purpose=about.purpose,
        data_categories=categories,
        lawful_basis=basis,
        service_user_informed=informed[0],
        not_informed_reason=informed[1],
        source_event_id=about.source_event_id,
        channel=channel,
        trace_id=telemetry.current_trace_id(),
        shared_at=at,
        reason=reason,
        supersedes=supersedes,
        provenance=provenance.current(),  # how the event being handled proved its origin (§10)
    )
    event = CloudEvent.create(
        type=DisclosureRecorded.event_type,
        source_org=about.discloser,
        data=record,
        subject=about.nhs_number,
        id=audit_event_id(about.alert_id, decision),
    )
    uow.publish(event, topics.AUDIT, key=about.nhs_number)


def record_receipt(uow: UnitOfWork, alert: AlertRecord, now: datetime) -> None:
    """The recipient acknowledged an audited alert: record the receiving end of the share."""
    publish_record(
        uow,
        Audited.of_alert(alert),
        "received",
        children=alert.children,
        categories=alert.data_categories,
        basis=alert.lawful_basis,
        channel="api",
        at=now,
    )
