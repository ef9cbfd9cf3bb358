"""The HTTP models of the IG API (CONTRACT §8)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class DisclosureRecordPublic(BaseModel):
    """One decision to share or withhold, or one acknowledgement of receipt, as stored in the chain."""

    id: str = Field(description="Stable id: derived from alert id, recipient and decision.")
    seq: int = Field(description="Position in the hash chain (1 is the first record).")
    recorded_at: str = Field(description="When the audit service recorded it (UTC, microseconds, Z).")
    shared_at: str = Field(description="When the share was decided (UTC, microseconds, Z).")
    decision: Literal["shared", "withheld", "received"]
    discloser: str = Field(description="The organisation that shared or withheld.")
    recipient: str = Field(description="The organisation shared with (or that would have been).")
    person: str | None = Field(description="NHS number; null once erased after the retention period.")
    children: list[dict[str, Any]] | None = Field(description="Children named in the share; null once erased.")
    purpose: str
    data_categories: list[str]
    lawful_basis: dict[str, Any] | None = Field(
        description=(
            "Consent id, statutory ground, or professional judgement (by, reason; the reason is erased with the "
            "personal fields); null when withheld."
        )
    )
    service_user_informed: bool | None
    not_informed_reason: str | None
    source_event_id: str | None
    alert_id: str
    alert_type: str | None
    channel: str
    trace_id: str | None
    reason: str | None = Field(description="Why it was withheld.")
    supersedes: str | None = Field(
        default=None, description="The id of the withheld record this share replaces (v1.1; shared records only)."
    )
    provenance: str | None = Field(
        default=None,
        description="How the event that led to the decision proved its origin: signed, gateway, service or "
        "unsigned (CONTRACT §10; absent on earlier records and on decisions made by a timer or an API call).",
    )
    personal_commitment: str = Field(description="SHA-256 over a salt and the personal fields (chained).")
    erased_at: str | None = Field(description="When the personal fields were erased, if they were.")
    prev_hash: str
    hash: str


class DisclosurePage(BaseModel):
    items: list[DisclosureRecordPublic] = Field(description="Newest first (shared_at, then seq).")
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page; null on the last.")


class FhirAuditEvent(BaseModel):
    """A FHIR R4 ``AuditEvent`` (IHE BALP privacy disclosure); the other elements as FHIR defines them."""

    model_config = ConfigDict(extra="allow")

    resourceType: Literal["AuditEvent"]
    id: str


class VerdictPublic(BaseModel):
    ok: bool = Field(description="Every record recomputes and every checkpoint matches.")
    records: int = Field(description="Records verified (the chain's length when intact).")
    head: str = Field(description="The hash of the last record verified.")
    first_bad_seq: int | None = Field(description="The first record that cannot be trusted.")
    reason: str | None
    checkpoints_checked: int


class MismatchPublic(BaseModel):
    check: Literal["shared_alert_has_no_record", "record_has_no_alert", "shared_and_withheld", "supersedes_unknown"]
    reference: str = Field(description="The alert id.")
    recipient: str
    detail: str


class ReconciliationReport(BaseModel):
    ok: bool
    alerts_checked: int
    records_checked: int
    mismatch_count: int = Field(description="All mismatches found (at most 1000 are listed).")
    mismatches: list[MismatchPublic]
