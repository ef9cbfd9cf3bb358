"""Who within an organisation an alert is for: some alerts are for its designated safeguarding
lead (DSL) alone, and only users with role ``dsl`` read them, over the API or a webhook.

DSL-only, and why (CONTRACT §4, §6; DOMAIN.md "Who uses it"):

* ``register_cross_area``: CONTRACT §4 sends it "to both organisations' designated safeguarding
  leads"; §6 shares a register match "between the two designated safeguarding leads" on a
  statutory ground that covers them alone.
* ``disclosure_withheld``: "for its designated safeguarding lead's judgement" (§4); it names
  who was not told what about whom, and only the DSL may release the share (§6, role ``dsl``).
* ``recipient_unknown``: a share the law allowed that found no recipient, open to the same
  DSL's release (its ``withheld_alert_id``), so it is the withheld alert's sibling.
* ``disclosure_released``: tells the sender's DSL that a share it was told had been withheld
  went after all, on a late basis or on a DSL's judgement (§6).
* ``delivery_escalation``: "escalated to the sender's designated safeguarding lead" (§5).
* ``register_review_due`` and ``weekly_review_missed``: reminders about the safeguarding
  register, which the DSL keeps and reviews weekly (DOMAIN.md; the register API is role
  ``dsl`` only), "to the organisation's own DSL".

Not DSL-only: the alerts of the work itself (referrals, attendance, treatment, conferences,
reports and overdue steps), which practitioners act on; ``judgement_release`` and
``reconciliation_mismatch``, which go to the partnership IG organisation and carry ids and
the releasing DSL's own words, for its information governance staff.

Subscribing: roles ``provider``, ``social_care`` and ``dsl`` (CONTRACT §5; not ``admin`` or
``ig_officer``, who do not act on alerts); a DSL-only type, named or through ``*``, needs role
``dsl``: anyone else's ``*`` means every other type. Each organisation has at most
``max_subscriptions_per_org`` active subscriptions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from isp_common.auth import Caller
from isp_common.errors import Conflict, Forbidden

DSL = "dsl"
SUBSCRIBERS = ("provider", "social_care", DSL)
"""The roles that may subscribe a webhook."""

DSL_ONLY = frozenset(
    f"uk.isp.alert.{name}.v1"
    for name in (
        "register_cross_area",
        "disclosure_withheld",
        "recipient_unknown",
        "disclosure_released",
        "delivery_escalation",
        "register_review_due",
        "weekly_review_missed",
    )
)
"""The alert types only a designated safeguarding lead reads."""

ALL = "*"


def hidden_from(caller: Caller) -> frozenset[str]:
    """The alert types ``caller`` may not see (none for a DSL)."""
    return frozenset() if caller.has_role(DSL) else DSL_ONLY


def may_read(caller: Caller, alert_type: str) -> bool:
    return alert_type not in hidden_from(caller)


def subscribed_types(caller: Caller, requested: Iterable[str], known: Collection[str]) -> list[str]:
    """What a subscription by ``caller`` asking for ``requested`` receives: a DSL's types as asked;
    anyone else's ``*`` spelled out as every type but the DSL's; a DSL-only type by name refused."""
    requested = list(dict.fromkeys(requested))
    if caller.has_role(DSL):
        return requested
    named = sorted(set(requested) & DSL_ONLY)
    if named:
        raise DslOnlyTypes(named)
    if ALL in requested:
        return sorted(set(known) - DSL_ONLY)
    return requested


def receives(types: Collection[str], alert_type: str) -> bool:
    """Whether a subscription to ``types`` receives an alert of ``alert_type``."""
    return ALL in types or alert_type in types


class DslOnlyTypes(Forbidden):
    """A subscription named alert types only a DSL may receive, by a user without role ``dsl``."""

    def __init__(self, types: Iterable[str]) -> None:
        super().__init__(f"Only a designated safeguarding lead (role dsl) may subscribe to: {', '.join(types)}.")


class SubscriptionCap(Conflict):
    """The organisation already has as many active subscriptions as it may."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        super().__init__(
            f"Your organisation already has {cap} active subscriptions, the most it may have "
            f"(max_subscriptions_per_org = {cap}); delete one first.",
            cap=cap,
        )
