"""Reconciliation's rules: every alert shared with another organisation has exactly one
``shared`` record, and every ``shared`` or ``received`` record points to an alert that was
delivered.

Which alerts must reconcile: those carrying a ``lawful_basis`` to an organisation other than
the sender (referral_received, did_not_attend, treatment_disengaged, conference_invitation,
register_cross_area). Operational alerts (lawful_basis null: disclosure_withheld,
referral_status, escalations, reminders, this service's own mismatch alerts) share nothing
with another organisation and have no record. A ``withheld`` record names an alert that was
never sent, so it needs none. A share and a withholding of the same alert to the same recipient
is a mismatch unless the share names that withheld record in ``supersedes`` (a re-decision,
v1.1); a ``supersedes`` must name a withheld record to the same recipient. Alerts and records
younger than the grace period are left for the next run (the record and the alert travel on
different topics).

The comparison runs in the database (:mod:`isp_audit.reconciliation`); what it compares, and
what partnership IG is told, is said here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from isp_schemas.envelope import name_based_id

from . import chain

LIST_LIMIT = 1000
"""At most this many mismatches are listed in a report (all are counted)."""
ALERT_LIMIT = 50
"""At most this many mismatches are alerted in one night."""

SHARED_ALERT_HAS_NO_RECORD = "shared_alert_has_no_record"
RECORD_HAS_NO_ALERT = "record_has_no_alert"
SHARED_AND_WITHHELD = "shared_and_withheld"
SUPERSEDES_UNKNOWN = "supersedes_unknown"
CHECKS = {
    SHARED_ALERT_HAS_NO_RECORD: "alert delivered with a lawful basis but no shared record",
    RECORD_HAS_NO_ALERT: "record points to an alert never delivered",
    SHARED_AND_WITHHELD: "the same share is recorded as both shared and withheld",
    SUPERSEDES_UNKNOWN: "share supersedes no withheld record to the same recipient",
}
"""Each check, in the order run, and what a mismatch of it means."""
DECISIONS_EXPECTING_AN_ALERT = ("shared", "received")


@dataclass(frozen=True)
class Mismatch:
    check: str
    reference: str
    recipient: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return self.__dict__.copy()


@dataclass
class Report:
    alerts: int
    records: int
    mismatches: list[Mismatch]
    total_mismatches: int

    @property
    def ok(self) -> bool:
        return self.total_mismatches == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "alerts_checked": self.alerts,
            "records_checked": self.records,
            "mismatch_count": self.total_mismatches,
            "mismatches": [m.as_dict() for m in self.mismatches],
        }


def cutoff(now: datetime, grace_seconds: float) -> str:
    """Alerts seen and records recorded before this (UTC text) are expected to have their partner."""
    return chain.utc_text(now - timedelta(seconds=grace_seconds))


def mismatch_alert_id(run_on: str, mismatch: Mismatch) -> str:
    """The id of the alert about ``mismatch`` on night ``run_on``: a rerun the same night repeats none."""
    return name_based_id(f"reconciliation/{run_on}/{mismatch.check}/{mismatch.reference}/{mismatch.recipient}")


def alert_detail(mismatch: Mismatch, total_mismatches: int) -> str:
    """What the alert about ``mismatch`` says (ids and organisations only, never personal data)."""
    more = total_mismatches - ALERT_LIMIT
    return f"{mismatch.detail} (recipient {mismatch.recipient})" + (f"; {more} more" if more > 0 else "")
