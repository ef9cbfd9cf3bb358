"""What every step of a referral shares: who acts, loading the referral for the party that may
act, moving it, recording the history and queuing the event in one unit of work, and running a
command to its commit (:func:`apply`).

``at`` is when the step happened (defaults to ``now``); practitioners often record a visit or
an allocation after the fact, so it may be earlier than ``now``, but never in the future and
never before the referral entered its current state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from isp_common.db import UnitOfWork
from isp_common.times import as_utc
from isp_schemas.referrals import ReferralEvent
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from .. import domain, journal, shares
from ..domain import Progress
from ..tables import Referral

CLOCK_SKEW = timedelta(minutes=5)

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    """Who acts: the user (token ``sub``), their organisation and their token's roles (none for
    the system itself: then it may not make a referral, :func:`~isp_referrals.commands.refer`)."""

    sub: str | None
    org: str
    roles: frozenset[str] = frozenset()


def progress_of(referral: Referral) -> Progress:
    return Progress(
        state=referral.state,
        joint_visit_booked=referral.joint_visit_scheduled_for is not None,
        joint_visit_done=referral.joint_visit_on is not None,
        workbook_opened=referral.workbook_opened_on is not None,
    )


def apply(uow: UnitOfWork, command: Callable[Concatenate[UnitOfWork, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``command`` in ``uow`` and commit it.

    Two transactions racing on one referral cannot both commit: the referral's version (an
    optimistic lock) or a unique key stops the second, which is refused as
    :class:`~isp_referrals.domain.ReferralChanged` (409) so the caller reads it again.
    """
    try:
        result = command(uow, *args, **kwargs)
        uow.commit()
    except (StaleDataError, IntegrityError):
        uow.rollback()
        raise domain.ReferralChanged() from None
    return result


def load(uow: UnitOfWork, referral_id: str, command: str, actor: Actor) -> Referral:
    """The referral, if the actor's organisation is the party that may make ``command``.

    The receiving organisation knows of a referral only once a disclosure decision has shared it
    with it: until then it is answered as an unknown id, whatever the command."""
    referral = uow.session.get(Referral, referral_id)
    if referral is None or (actor.org == referral.to_org and shares.receiver_scope_of(uow.session, referral) is None):
        raise domain.ReferralNotFound(referral_id)
    party = domain.party_of(command)
    if actor.org != (referral.from_org if party == "sender" else referral.to_org):
        who = "referring" if party == "sender" else "receiving"
        raise domain.NotYourReferral(f"only the {who} organisation may {command.replace('_', ' ')} this referral")
    return referral


def _step(
    uow: UnitOfWork,
    referral: Referral,
    command: str,
    actor: Actor,
    now: datetime,
    at: datetime | None,
    event_type: type[ReferralEvent],
    details: dict[str, Any],
    **event_fields: Any,
) -> datetime:
    """Move the referral, then record and publish the step. Returns when it happened."""
    new_state = domain.transition(progress_of(referral), command)
    when = _when(referral, now, at)
    from_state = referral.state
    referral.state = new_state
    if new_state != from_state:
        referral.last_changed_at = journal.to_utc(when)
    referral.updated_at = journal.to_utc(now)
    uow.session.add(referral)
    data = event_type(**journal.fact(referral, when, actor.sub), **event_fields)
    journal.publish_step(
        uow, referral, data, command, org=actor.org, at=when, by=actor.sub, from_state=from_state, details=details
    )
    return when


def _when(referral: Referral, now: datetime, at: datetime | None) -> datetime:
    if at is None:
        return now
    if at.tzinfo is None:
        raise domain.InvalidCommand("at needs an offset (RFC 3339)")
    if at > now + CLOCK_SKEW:
        raise domain.InvalidCommand("at is in the future")
    since = as_utc(referral.last_changed_at)
    if since is not None and at < since:
        raise domain.InvalidCommand(f"at is before the referral became {referral.state} ({since.isoformat()})")
    return at
