"""What the receiving organisation may see of a referral: only what the disclosure decision shared
with it (CONTRACT section 6: "No read path (API, page, export) shows another organisation anything
the decision did not share").

The notifications service decides whether the referral may go to the receiver and audits the
decision on ``isp.audit.v1``; this service keeps the latest decision per referral and recipient
(:mod:`isp_referrals.shares`). The referral's sender sees it in full. The receiver sees nothing
until a ``shared`` decision is recorded for it, and then only the shared categories:

- ``referral``: ids, direction, organisations, threshold, summary, priority, state, its own due
  dates and work on the referral, and the history of its state changes;
- ``risk``: the sender's red/amber/green rating and the children;
- ``attendance``: appointments (and their history lines) recorded by another organisation.

An organisation always sees what it recorded itself (its own appointments, its own steps).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REFERRAL_RECEIVED = "uk.isp.alert.referral_received.v1"
"""The alert type of the decision that shares a referral with its receiver."""
READ_AUDIT_TYPE = "uk.isp.api.referral_read.v1"
"""The ``alert_type`` of the audit record of a receiver's read of a referral over the API."""

ATTENDANCE_ACTIONS = frozenset(
    {
        "appointment_booked",
        "appointment_attended",
        "appointment_missed",
        "appointment_outcome_missing",
        "attendance_unrecorded",
    }
)
"""History lines that are attendance data."""
RISK_DETAILS = frozenset({"rag"})
"""History details that are risk data (the sender's rating on the request line)."""


@dataclass(frozen=True)
class ReceiverScope:
    """The categories a decision shared with the receiving organisation."""

    categories: frozenset[str]

    @property
    def risk(self) -> bool:
        return "risk" in self.categories

    @property
    def attendance(self) -> bool:
        return "attendance" in self.categories

    def shows_entry(self, action: str, org: str, viewer: str) -> bool:
        """Whether a history line is shown: attendance lines only when shared or the viewer's own."""
        return action not in ATTENDANCE_ACTIONS or self.attendance or org == viewer

    def entry_details(self, action: str, details: Mapping[str, Any]) -> dict[str, Any]:
        """A history line's details without what was not shared (the rating, unless ``risk``)."""
        if action != "request" or self.risk:
            return dict(details)
        return {k: v for k, v in details.items() if k not in RISK_DETAILS}

    def shows_appointment(self, provider_org: str, viewer: str) -> bool:
        return self.attendance or provider_org == viewer

    def shown(self, other_appointments: bool) -> list[str]:
        """The categories a read shows (for its audit record): ``referral`` always, ``risk`` when
        shared, ``attendance`` when another organisation's appointments were shown."""
        shown = ["referral"]
        if self.risk:
            shown.append("risk")
        if self.attendance and other_appointments:
            shown.append("attendance")
        return shown


def receiver_scope(decision: str | None, categories: Iterable[str]) -> ReceiverScope | None:
    """What the receiver may see under its latest decision; None: nothing (the referral is not
    shown at all, not even its existence)."""
    wanted = frozenset(categories)
    if decision != "shared" or "referral" not in wanted:
        return None
    return ReceiverScope(wanted)
