"""A share: one alert about a person, intended for one organisation, and the ids that make
each alert, its withholding notice and its webhook deliveries idempotent (the same causing
event always gives the same ids, so a redelivered event queues nothing twice)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from isp_schemas.alerts import AlertBase
from isp_schemas.envelope import CloudEvent, name_based_id

from .policy import SAFEGUARDING


@dataclass(frozen=True)
class Share:
    """An intended share of information about a person from ``sender`` to ``recipient``."""

    alert_type: str
    sender: str
    recipient: str
    nhs_number: str | None
    person: dict[str, Any] | None
    source_event_id: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    children: list[dict[str, Any]] = field(default_factory=list)
    children_category: str | None = None
    """The category the children's details fall under (None: the alert carries no children)."""
    purpose: str = SAFEGUARDING
    deadline: datetime | None = None
    register_match: bool = False
    conference_kind: str | None = None
    """Set when the share is the invitation to a conference of this kind."""
    occurred_at: datetime | None = None
    """When the causing event happened (grounds are judged then); None: when decided."""
    source_event: CloudEvent | None = field(default=None, compare=False, repr=False)
    """The causing event, kept while the share is withheld and open to a new decision."""
    key: str = ""
    """Extra part of the alert id when one event makes several alerts to one recipient."""

    @cached_property
    def alert_id(self) -> str:
        # made once per share: a decision reads it about eight times
        return alert_id_for(self.source_event_id, self.alert_type, self.recipient, self.key)

    def open_until(self, now: datetime) -> datetime:
        """Until when the share, withheld or taken back, stays open to a new decision: its
        deadline, or :data:`OPEN_FOR` when it has none."""
        return max(self.deadline.astimezone(UTC) if self.deadline else now + OPEN_FOR, now)

    def successor(self) -> Share:
        """The same share sent again under an id of its own (after a withdrawal took it back)."""
        return replace(self, key=f"{self.key}/after-withdrawal" if self.key else "after-withdrawal")

    def children_sent(self, categories: tuple[str, ...]) -> list[dict[str, Any]]:
        """The children's details go only when the basis covers the category they fall under."""
        return list(self.children) if self.children_category in categories else []


OPEN_FOR = timedelta(hours=24)
"""How long a share with no deadline of its own stays open to a new decision."""

BuildData = Callable[[str, dict[str, Any], tuple[str, ...]], AlertBase]
"""``build(alert_id, lawful_basis, categories)`` -> the alert's data, with only covered categories."""


def alert_id_for(source_event_id: str, alert_type: str, recipient: str, key: str = "") -> str:
    name = f"{source_event_id}/{alert_type}/{recipient}" + (f"/{key}" if key else "")
    return name_based_id(name)


def withheld_alert_id(alert_id: str) -> str:
    """The id of the ``disclosure_withheld`` alert telling the sender that ``alert_id`` was withheld."""
    return name_based_id(f"{alert_id}/withheld")


def audit_event_id(alert_id: str, decision: str) -> str:
    """The id of the audit record of ``decision`` about ``alert_id`` (the audit trail dedupes on it)."""
    return name_based_id(f"audit/{alert_id}/{decision}")


def delivery_id_for(alert_id: str, subscription_id: str) -> str:
    """The ``webhook-id`` of one alert to one subscription: the same on every try."""
    return "msg_" + name_based_id(f"{alert_id}/{subscription_id}").replace("-", "")  # the UUID's hex
