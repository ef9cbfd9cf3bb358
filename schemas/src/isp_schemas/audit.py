"""Disclosure decisions on ``isp.audit.v1`` (CONTRACT sections 4, 6 and 8).

The event carries what the sharing service knows; ``id``, ``seq``, ``prev_hash``, ``hash`` and
``recorded_at`` are added by the audit service. The audit service dedupes on
(``alert_id``, ``recipient``, ``decision``) and derives the record ``id`` from the same three
(:func:`disclosure_record_id`), so a publisher can name a record it has not read back.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator
from pydantic_core import PydanticCustomError

from . import topics
from .alerts import LawfulBasis
from .consent import DataCategory
from .envelope import EventData, name_based_id
from .people import Child, EntityId, NhsNumber, OrgId

Decision = Literal["shared", "withheld", "received"]
Channel = Literal["kafka", "webhook", "api"]


def disclosure_record_id(alert_id: str, recipient: str, decision: Decision) -> str:
    """The audit record ``id`` of the decision ``decision`` on ``alert_id`` for ``recipient``.

    UUID version 5 (RFC 9562) in the URL namespace of ``disclosure/<alert_id>/<recipient>/<decision>``:
    the same share recorded twice has one id. A re-decided share names the withheld record it
    replaces with ``supersedes=disclosure_record_id(alert_id, recipient, "withheld")``.
    """
    return name_based_id(f"disclosure/{alert_id}/{recipient}/{decision}")


class DisclosureRecorded(EventData):
    """One decision to share or withhold (or a recipient's acknowledgement: ``received``).

    ``shared`` needs a ``lawful_basis``; ``withheld`` has none and needs a ``reason``. Only a
    ``shared`` record may carry ``supersedes`` (v1.1).
    """

    event_type: ClassVar[str] = "uk.isp.audit.disclosure.v1"
    topic: ClassVar[str] = topics.AUDIT

    alert_id: EntityId = Field(description="The alert shared or withheld (the dedupe key).")
    decision: Decision = Field(description="shared, withheld or received.")
    discloser: OrgId = Field(description="The organisation whose information it is.")
    recipient: OrgId = Field(description="The organisation it went (or would have gone) to.")
    person: NhsNumber | None = Field(default=None, description="The person's NHS number; none for a register match.")
    children: list[Child] = Field(default_factory=list, description="Children whose data went.")
    purpose: str = Field(min_length=1, description="Why, e.g. safeguarding.")
    data_categories: list[DataCategory] = Field(description="The categories of data sent.")
    lawful_basis: LawfulBasis | None = Field(default=None, description="The basis relied on; none when withheld.")
    service_user_informed: bool | None = Field(
        default=None, description="Whether the service user was told (statutory shares)."
    )
    not_informed_reason: str | None = Field(default=None, description="Why the service user was not told.")
    source_event_id: str | None = Field(default=None, description="The event that led to it.")
    channel: Channel = Field(description="kafka, webhook or api.")
    trace_id: str | None = Field(default=None, description="W3C trace id of the operation.")
    shared_at: AwareDatetime = Field(description="When it was shared (or withheld, or received).")
    alert_type: str | None = Field(default=None, description="The alert's event type.")
    reason: str | None = Field(default=None, description="Why it was withheld.")
    supersedes: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description=(
            "The audit record id of the withheld decision this share replaces (v1.1; shared only). The audit "
            "service's record id is not the CloudEvent id: it is disclosure_record_id(alert_id, recipient, "
            "'withheld'), UUID v5 in the URL namespace of 'disclosure/<alert_id>/<recipient>/withheld'."
        ),
    )

    provenance: Literal["signed", "gateway", "service", "unsigned"] | None = Field(
        default=None,
        description=(
            "How the event whose handling made this decision proved where it came from (CONTRACT §10): signed by "
            "its organisation, by the events gateway on its behalf, by a partnership service, or unsigned (the "
            "embedded default only, from an organisation with no key). Absent on records made before v1.1's "
            "signed events and on decisions made by a timer or an API call."
        ),
    )

    @model_validator(mode="after")
    def _decision_rules(self) -> DisclosureRecorded:
        if self.decision == "shared" and self.lawful_basis is None:
            raise PydanticCustomError("disclosure_basis", "a shared disclosure needs a lawful_basis")
        if self.decision == "withheld" and not self.reason:
            raise PydanticCustomError("disclosure_reason", "a withheld disclosure needs a reason")
        if self.supersedes is not None and self.decision != "shared":
            raise PydanticCustomError("disclosure_supersedes", "only a shared disclosure may carry supersedes")
        return self


class CheckpointSigned(EventData):
    """A signed head of the audit hash chain (internal topic ``isp.audit.checkpoints.v1``).

    ``signature`` is Ed25519 over the RFC 8785 JSON of ``{"head", "log", "size", "time"}``, and, once
    any erasure has been made, also ``{"erasure_head", "erasures"}`` (the head of the chain of erasures).
    Keep a copy: a later rewrite of the audit table, or of its erasures, cannot match a checkpoint you hold.
    """

    event_type: ClassVar[str] = "uk.isp.audit.checkpoint.v1"
    topic: ClassVar[str] = topics.AUDIT_CHECKPOINTS

    log: str = Field(description="The log signed: isp-audit.")
    size: int = Field(ge=1, description="Records in the chain at signing (the head's seq).")
    head: str = Field(pattern="^[0-9a-f]{64}$", description="The hash of record `size`.")
    time: str = Field(description="When it was signed (UTC, RFC 3339).")
    key_id: str = Field(description="First 16 hex digits of SHA-256 of the raw public key.")
    signature: str = Field(description="Base64 Ed25519 signature of the statement.")
    public_key: str | None = Field(
        default=None, description="Base64 SubjectPublicKeyInfo of the key (for convenience; pin it)."
    )
    erasures: int | None = Field(
        default=None, ge=1, description="Erasures made so far (chained); absent until the first erasure."
    )
    erasure_head: str | None = Field(
        default=None, pattern="^[0-9a-f]{64}$", description="The hash of the latest erasure; signed with the rest."
    )


EVENTS: tuple[type[EventData], ...] = (DisclosureRecorded, CheckpointSigned)
