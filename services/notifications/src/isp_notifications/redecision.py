"""Re-decision (CONTRACT §6 v1.1, "Events arrive out of order" and "Professional judgement").

A withheld share stays open to a new decision until its deadline (24 hours when it has none).
The causing event is kept (:class:`~isp_notifications.tables.SourceEvent`) and, whenever a fact
about the person or their children arrives, the *decider* of that event (the part of its handler
that makes shares, never the part that records facts) runs again: shares already sent are left
alone (their alert exists), shares still withheld are decided again, and a share newly possible
(a recipient found later) is decided for the first time. A DSL's release runs the same decider
with a :class:`~isp_notifications.disclosure.Judgement` in force for the one share released
(:func:`~isp_notifications.disclosure.releasing`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from isp_common.db import UnitOfWork
from isp_schemas.envelope import CloudEvent
from isp_schemas.registry import model_for
from sqlmodel import col, delete, select

from .handlers.timed import TimedHandler
from .tables import OPEN_STATES, SourceEvent, WithheldShare

Deciders = Mapping[str, TimedHandler]
"""Event type -> the decider that makes its shares (``decider(uow, event, data, now)``)."""


def open_shares_about(uow: UnitOfWork, people: Iterable[str], now: datetime) -> list[WithheldShare]:
    people = sorted(set(people))
    if not people:
        return []
    return list(
        uow.session.exec(
            select(WithheldShare).where(
                col(WithheldShare.nhs_number).in_(people),
                col(WithheldShare.state).in_(OPEN_STATES),
                col(WithheldShare.open_until) > now,
            )
        ).all()
    )


def redecide_about(uow: UnitOfWork, people: Iterable[str], now: datetime, deciders: Deciders) -> int:
    """A new fact about ``people`` arrived: decide again every open withheld share about them.
    Returns how many causing events were decided again."""
    source_ids = sorted({share.source_event_id for share in open_shares_about(uow, people, now)})
    for source_id in source_ids:
        rerun(uow, source_id, now, deciders)
    return len(source_ids)


def rerun(uow: UnitOfWork, source_event_id: str, now: datetime, deciders: Deciders) -> bool:
    """Run the decider of a kept causing event again; False when it is no longer kept."""
    kept = uow.session.get(SourceEvent, source_event_id)
    if kept is None:
        return False
    event = CloudEvent.model_validate(kept.event)
    decider = deciders.get(event.type)
    if decider is None:
        return False
    decider(uow, event, model_for(event.type).model_validate(event.data), now)
    return True


def close_expired(uow: UnitOfWork, now: datetime) -> int:
    """Withheld shares past ``open_until`` are closed for good; causing events no longer needed
    are forgotten. Returns how many shares were closed."""
    expired = uow.session.exec(
        select(WithheldShare).where(col(WithheldShare.state).in_(OPEN_STATES), col(WithheldShare.open_until) <= now)
    ).all()
    for share in expired:
        share.state = "closed"
        uow.session.add(share)
    uow.session.execute(delete(SourceEvent).where(col(SourceEvent.kept_until) <= now))
    return len(expired)
