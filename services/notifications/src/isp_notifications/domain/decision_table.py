"""The decision table (``docs/decisions.md``), rendered from the policy itself, and the data
categories each alert type asks for.

:data:`ALERT_CATEGORIES` is the one statement of what each alert shares: the *required*
categories (its core: without a basis for them nothing is sent) and the *optional* ones (sent
only when the same basis covers them), as the handlers put them on each
:class:`~isp_notifications.domain.shares.Share`. :func:`render` reads the statutory grounds
from :data:`~isp_notifications.domain.policy.GROUNDS`, so the table cannot say what the code
does not do. Regenerate the document with::

    .venv/bin/python -m isp_notifications.domain.decision_table > docs/decisions.md

(``tests/unit/test_decision_table.py`` fails when it drifts.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from isp_schemas.alerts import (
    AttendanceUnrecordedAlert,
    ConferenceInvitationAlert,
    DidNotAttendAlert,
    ReferralReceivedAlert,
    ReferralStatusAlert,
    RegisterCrossAreaAlert,
    TreatmentDisengagedAlert,
)

from . import policy


@dataclass(frozen=True)
class AlertCategories:
    """What one alert type shares, and with whom."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    goes_to: str
    optional_adds: str = ""
    """What the optional categories add to the alert, when covered."""


ALERT_CATEGORIES: dict[str, AlertCategories] = {
    ReferralReceivedAlert.event_type: AlertCategories(
        ("referral",),
        ("risk",),
        "the organisation the referral is made to",
        "the RAG rating and the children",
    ),
    DidNotAttendAlert.event_type: AlertCategories(
        ("attendance",), (), "the children's social care organisation that made the referral"
    ),
    AttendanceUnrecordedAlert.event_type: AlertCategories(
        ("attendance",), (), "the children's social care organisation that made the referral"
    ),
    ReferralStatusAlert.event_type: AlertCategories(
        ("referral",),
        (),
        "the referrer (accepted, declined, allocated, closed) or the receiver (cancelled, amended)",
    ),
    TreatmentDisengagedAlert.event_type: AlertCategories(
        ("treatment_status",),
        ("risk",),
        "each children's social care organisation working with the person's children",
        "the children that organisation works with",
    ),
    ConferenceInvitationAlert.event_type: AlertCategories(
        ("conference",), (), "each invitee, once per parent named (or once, about the children, when none is)"
    ),
    RegisterCrossAreaAlert.event_type: AlertCategories(
        ("register",), (), "the designated safeguarding lead of each of the two organisations"
    ),
}
"""Alert type -> the categories its shares ask for (see :class:`AlertCategories`)."""


@dataclass(frozen=True)
class BasisRow:
    """One row of the table: a lawful basis, when it holds, for whom, what it covers, and why."""

    basis: str
    holds_when: str
    recipients: str
    categories: str
    source: str


def _names(categories: Iterable[str]) -> str:
    return ", ".join(f"`{c}`" for c in sorted(categories)) or "none"


def basis_rows() -> list[BasisRow]:
    """The statutory grounds in the policy's order, then consent and professional judgement."""
    rows = [
        BasisRow(
            f"statutory: `{rule.ground}`",
            rule.holds_when,
            rule.recipients,
            _names(rule.categories),
            rule.source,
        )
        for rule in policy.GROUNDS
    ]
    rows.append(
        BasisRow(
            "consent",
            "no statutory ground covers every required category, and the person has an active consent (given on "
            "or before the day of the decision, not past its expiry on the day of the event, not withdrawn at or "
            "before the decision) naming the recipient, the purpose and every required category",
            f"the organisations the consent names (`{policy.WHOLE_PARTNERSHIP}`: the whole partnership)",
            "the categories the consent names (required ones all, optional ones where named)",
            "UK GDPR consent; CONTRACT §6 rule 2",
        )
    )
    rows.append(
        BasisRow(
            "professional judgement",
            "the sending organisation's designated safeguarding lead releases a withheld share "
            "(`POST /v1/withheld/{alert_id}/release`); the partnership's information governance is told",
            "the share's intended recipient only",
            "every category the share names, required and optional",
            "CONTRACT §6, Professional judgement",
        )
    )
    return rows


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_escape(cell) for cell in row) + " |" for row in rows]
    return lines


def _grounds_for(required: Iterable[str]) -> str:
    """The statutory grounds whose categories cover every required category of an alert."""
    needed = set(required)
    return ", ".join(f"`{rule.ground}`" for rule in policy.GROUNDS if needed <= rule.categories) or "none"


def render() -> str:
    """``docs/decisions.md``."""
    lines = [
        "# Disclosure decisions",
        "",
        "> Generated from the policy code: do not edit. Regenerate it from the repository root with",
        "> `.venv/bin/python -m isp_notifications.domain.decision_table > docs/decisions.md`;",
        "> `services/notifications/tests/unit/test_decision_table.py` fails when it drifts.",
        "",
        "The statutory grounds come from `isp_notifications.domain.policy.GROUNDS`, the categories of",
        "each alert from `isp_notifications.domain.decision_table.ALERT_CATEGORIES`. CONTRACT §6 is the",
        "rule; this is what the code decides.",
        "",
        "Before anything about a person goes to another organisation, the first basis that holds is used:",
        f"a statutory ground (purpose `{policy.SAFEGUARDING}` only; it counts if it held at some moment from the",
        "causing event to the decision, however the events telling of it were ordered), then consent.",
        "Otherwise the share is withheld, the withholding is audited, the sending organisation's designated",
        "safeguarding lead is told at once (`disclosure_withheld`, with the alert's deadline and any refusal",
        "of consent), and the share stays open to a new decision (decided again whenever a fact about the",
        "person or their children arrives) until its deadline, or for a day when it has none. Only the",
        "categories the basis covers are sent: a share whose required categories the basis does not cover",
        "is not sent at all.",
        "",
        "## Lawful bases",
        "",
        *_table(
            ("Basis", "Holds when", "Recipients", "Data categories", "Source"),
            ((r.basis, r.holds_when, r.recipients, r.categories, r.source) for r in basis_rows()),
        ),
        "",
        "## What each alert shares",
        "",
        "Required categories are the alert's core: without a basis for all of them nothing is sent. Optional",
        "ones go only when the same basis covers them too.",
        "",
        *_table(
            ("Alert", "Goes to", "Required", "Optional (adds)", "Statutory grounds that cover it"),
            (
                (
                    f"`{alert_type.removeprefix('uk.isp.alert.').removesuffix('.v1')}`",
                    share.goes_to,
                    _names(share.required),
                    _names(share.optional) + (f" ({share.optional_adds})" if share.optional_adds else ""),
                    _grounds_for(share.required),
                )
                for alert_type, share in ALERT_CATEGORIES.items()
            ),
        ),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
