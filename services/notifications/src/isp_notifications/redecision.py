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

from isp_common.db import UnitOfWork, chunks
from isp_common.times import as_utc
from isp_schemas.envelope import CloudEvent
from isp_schemas.registry import model_for
from sqlmodel import col, delete, select

from .handlers.timed import TimedHandler
from .tables import OPEN_STATES, SourceEvent, WithheldShare

Deciders = Mapping[str, TimedHandler]
"""Event type -> the decider that makes its shares (``decider(uow, event, data, now)``)."""


def open_shares_about(uow: UnitOfWork, people: Iterable[str], now: datetime) -> list[WithheldShare]:
    """The withheld shares about ``people`` still open to a new decision at ``now``: from what
    :func:`prefetch` read ahead for the batch when it covers them all and still holds (no withheld
    share added or changed since), else asked of the database."""
    people = sorted(set(people))
    if not people:
        return []
    held = uow.session.memo(_WITHHELD)
    if all(person in held for person in people):
        return [
            share
            for person in people
            for share in held[person]
            if share.state in OPEN_STATES and as_utc(share.open_until) > now
        ]
    return list(
        uow.session.exec(
            select(WithheldShare).where(
                col(WithheldShare.nhs_number).in_(people),
                col(WithheldShare.state).in_(OPEN_STATES),
                col(WithheldShare.open_until) > now,
            )
        ).all()
    )


_WITHHELD: tuple[type, ...] = (WithheldShare,)


def prefetch(uow: UnitOfWork, people: Iterable[str]) -> None:
    """For a batch of events about to be applied, in a few queries: the withheld shares about
    ``people`` in an open state (whatever their deadline: :func:`open_shares_about` compares it
    with each event's own time). A fact that arrives then finds the shares it may change without
    a query of its own; most people have none."""
    session = uow.session
    held = session.memo(_WITHHELD)
    wanted = sorted(set(people) - held.keys())
    for chunk in chunks(wanted):
        found: dict[str, list[WithheldShare]] = {person: [] for person in chunk}
        statement = select(WithheldShare).where(
            col(WithheldShare.nhs_number).in_(chunk), col(WithheldShare.state).in_(OPEN_STATES)
        )
        for share in session.exec(statement):
            found[str(share.nhs_number)].append(share)
        session.keep(share for shares in found.values() for share in shares)
        held.update(found)


def redecide_about(
    uow: UnitOfWork, people: Iterable[str], now: datetime, deciders: Deciders, *, decided: str | None = None
) -> int:
    """A new fact about ``people`` arrived: decide again every open withheld share about them,
    but those of the causing event ``decided``, whose decider has just run on every fact there is.
    Returns how many causing events were decided again."""
    shares = open_shares_about(uow, people, now)
    source_ids = sorted({share.source_event_id for share in shares if share.source_event_id != decided})
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
