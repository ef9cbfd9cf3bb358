"""What a search of the trail may ask, and who may see what.

``ig_officer`` sees records where its organisation is discloser, or recipient of a share (not
one withheld from it); ``partnership_ig`` sees all.
Dates are whole Europe/London days; times carry an offset. Pages are keyset cursors on
(``shared_at``, ``seq``), newest first.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, get_args

from isp_common.workingdays import LONDON
from isp_schemas.alerts import ConsentBasis, ProfessionalJudgementBasis, StatutoryBasis, StatutoryGround

from . import chain
from .errors import BadCursor, InvalidFilter, NoIgRole

BASIS_KINDS: tuple[str, ...] = tuple(
    kind
    for model in (ConsentBasis, StatutoryBasis, ProfessionalJudgementBasis)
    for kind in get_args(model.model_fields["kind"].annotation)
)
"""The kinds of lawful basis: consent, statutory, professional_judgement."""
STATUTORY_GROUNDS: tuple[str, ...] = get_args(StatutoryGround)
BASES = (*BASIS_KINDS, *STATUTORY_GROUNDS)
"""What ``basis=`` accepts: a kind of basis, or a statutory ground."""
DECISIONS = ("shared", "withheld", "received")


@dataclass(frozen=True)
class Filters:
    person: str | None = None
    org: str | None = None
    since: str | None = None  # UTC text, inclusive
    until: str | None = None  # UTC text, exclusive
    decision: str | None = None
    basis: str | None = None
    purpose: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def bound(value: str | None, *, end: bool) -> str | None:
    """``since``/``until`` as UTC text: a date is a whole Europe/London day (``until`` inclusive)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("a time needs an offset, e.g. 2025-11-03T10:00:00+00:00") from None
        return chain.utc_text(moment)
    start = datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=LONDON)
    return chain.utc_text(start.astimezone(UTC))


def filters_from_query(
    *,
    person: str | None = None,
    org: str | None = None,
    since: str | None = None,
    until: str | None = None,
    decision: str | None = None,
    basis: str | None = None,
) -> Filters:
    """The filters of an API search, refused with :class:`InvalidFilter` where they make no sense."""
    if basis is not None and basis not in BASES:
        raise InvalidFilter(f"basis must be one of {', '.join(BASES)}.")
    try:
        since_text, until_text = bound(since, end=False), bound(until, end=True)
    except ValueError as exc:
        raise InvalidFilter(f"since/until: {exc}") from None
    return Filters(person=person, org=org, since=since_text, until=until_text, decision=decision, basis=basis)


def encode_cursor(shared_at: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{shared_at}|{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        shared_at, seq = text.split("|")
        chain.parse_utc_text(shared_at)
        return shared_at, int(seq)
    except (ValueError, UnicodeDecodeError):
        raise BadCursor("the cursor is not one this service gave") from None


def scope_of(org: str, roles: Collection[str]) -> str | None:
    """The organisation a caller is limited to (None: the whole partnership)."""
    if "partnership_ig" in roles:
        return None
    if "ig_officer" in roles:
        return org
    raise NoIgRole("This needs the role ig_officer or partnership_ig.")


def visible_to(record: Mapping[str, Any], scope_org: str | None) -> bool:
    """The discloser's IG officer sees its records; the recipient's sees only what was shared with
    or received by it, never a share withheld from it (CONTRACT §6)."""
    if scope_org is None or record["discloser"] == scope_org:
        return True
    return bool(record["recipient"] == scope_org and record["decision"] != "withheld")
