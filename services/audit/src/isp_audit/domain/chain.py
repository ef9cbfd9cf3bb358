"""The hash chain over disclosure records (pure: no I/O).

Construction (CONTRACT §8 asks the audit service to document it):

* ``personal_commitment = SHA-256(salt || JCS(personal))`` where ``salt`` is 32 random bytes
  kept with the record, ``JCS`` is RFC 8785 canonical JSON and ``personal`` is
  ``{"children", "not_informed_reason", "person", "reason"}``: the fields that identify
  people or carry free text.
* ``hash = SHA-256(prev_hash || JCS(body))`` where ``prev_hash`` is the previous record's
  hash as 64 lower-case hex characters (``"0" * 64`` before record 1) and ``body`` is every
  other field of the record (:data:`BODY_FIELDS`, which include ``seq`` and the commitment).
  Those fields are always in the body, as ``null`` when empty.

Fields added since contract v1.0 are in the JSON only when set (:data:`OPTIONAL_BODY_FIELDS`,
:data:`OPTIONAL_PERSONAL_FIELDS`): a record without them hashes to exactly the bytes it did
before they existed, so chains written earlier verify unchanged, and a record that has one
cannot lose it (or gain one) without failing. They are:

* ``supersedes`` (body): the ``id`` of the withheld record a later share replaces.
* ``provenance`` (body): how the event that led to the decision proved where it came from
  (CONTRACT §10: signed, gateway, service or unsigned).
* ``basis_reason`` (personal): the free-text ``reason`` of a ``professional_judgement`` lawful
  basis. It is kept with the personal fields, so erasure removes it, and the body's
  ``lawful_basis`` holds the basis without it (``{"by", "kind"}``); the API puts it back.

Erasure after the retention period deletes the personal fields *and the salt*: the chain
still verifies (it covers the commitment, not the fields), and without the salt the commitment
cannot be reversed by trying every NHS number.

Times are stored and hashed as fixed-width UTC text (``2025-11-03T10:00:00.000000Z``) and the
JSON-valued fields as their canonical text, so the bytes hashed do not depend on the database
driver: a chain written on SQLite verifies unchanged after moving to PostgreSQL.

Verification speed: rebuilding a dict and running a general RFC 8785 encoder costs tens of
microseconds a record. :func:`body_bytes` assembles the same canonical bytes from the stored
column values directly; it is exactly RFC 8785 for the values we store (strings without
characters that need escaping, integers, booleans, null, and JSON columns already stored in
canonical form); any string that needs escaping falls back to the reference encoder. A JSON
column embedded verbatim cannot smuggle bytes across field boundaries without changing the
hashed bytes, because in legitimate canonical output every ``,"<field>":`` separator occurs
once; a non-canonical column simply fails to verify. A property test checks the fast path
against ``rfc8785`` on generated records.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime
from typing import Any

import rfc8785

GENESIS = "0" * 64
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

BODY_FIELDS = (
    "alert_id",
    "alert_type",
    "channel",
    "data_categories",
    "decision",
    "discloser",
    "id",
    "lawful_basis",
    "personal_commitment",
    "purpose",
    "recipient",
    "recorded_at",
    "seq",
    "service_user_informed",
    "shared_at",
    "source_event_id",
    "trace_id",
)
"""The chained body, in canonical (sorted) key order."""
PERSONAL_FIELDS = ("children", "not_informed_reason", "person", "reason")
"""Erasable fields, under the salted commitment."""
OPTIONAL_BODY_FIELDS = ("supersedes", "provenance")
"""Chained in the body only when set (v1.1)."""
OPTIONAL_PERSONAL_FIELDS = ("basis_reason",)
"""Under the commitment only when set (v1.1); erased with the personal fields."""


def with_optional(fields: dict[str, Any], optional: dict[str, Any]) -> dict[str, Any]:
    """``fields`` plus the ``optional`` ones that are set (the JSON hashed for a record)."""
    return {**fields, **{name: value for name, value in optional.items() if value is not None}}


# characters RFC 8785 (ECMAScript JSON.stringify) escapes: the quote, the backslash, controls
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def canonical(obj: Any) -> bytes:
    """RFC 8785 canonical JSON: the reference encoder."""
    return rfc8785.dumps(obj)


def canonical_text(obj: Any) -> str:
    return canonical(obj).decode("utf-8")


def utc_text(dt: datetime) -> str:
    """The stored and hashed form of a time: fixed-width UTC, microseconds, ``Z``."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: times are aware")
    return dt.astimezone(UTC).strftime(TIME_FORMAT)


def parse_utc_text(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def new_salt() -> str:
    return secrets.token_hex(32)


def personal_commitment(salt_hex: str, personal: dict[str, Any]) -> str:
    """SHA-256(salt || JCS(personal)) where ``personal`` holds the decoded personal values."""
    return hashlib.sha256(bytes.fromhex(salt_hex) + canonical(personal)).hexdigest()


def record_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """SHA-256(prev_hash || JCS(body)) with ``body`` the decoded body values (reference)."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(body)).hexdigest()


# -- the fast path used by verification -------------------------------------------------

_BODY_TEMPLATE = (
    '{"alert_id":%s,"alert_type":%s,"channel":%s,"data_categories":%s,"decision":%s,'
    '"discloser":%s,"id":%s,"lawful_basis":%s,"personal_commitment":%s%s,"purpose":%s,'
    '"recipient":%s,"recorded_at":%s,"seq":%d,"service_user_informed":%s,"shared_at":%s,'
    '"source_event_id":%s%s,"trace_id":%s}'
)
_PERSONAL_TEMPLATE = '{%s"children":%s,"not_informed_reason":%s,"person":%s,"reason":%s}'
_BOOL: dict[bool | int | None, str] = {
    True: "true",
    False: "false",
    None: "null",
}  # SQLite's 1 and 0 are True and False


def _q(value: str | None) -> str:
    """A JSON string (or null) for a value known to need no escaping."""
    return "null" if value is None else '"' + value + '"'


def _escaped(value: str | None) -> str:
    if value is None:
        return "null"
    if _LONE_SURROGATE.search(value):
        raise ValueError("lone surrogate in a stored string")
    return rfc8785.dumps(value).decode("utf-8")


def body_bytes(
    alert_id: str,
    alert_type: str | None,
    channel: str,
    data_categories: str,
    decision: str,
    discloser: str,
    id: str,
    lawful_basis: str | None,
    personal_commitment: str,
    purpose: str,
    recipient: str,
    recorded_at: str,
    seq: int,
    service_user_informed: bool | int | None,
    shared_at: str,
    source_event_id: str | None,
    trace_id: str | None,
    *,
    supersedes: str | None = None,
    provenance: str | None = None,
) -> bytes:
    """The canonical JSON of a record's chained body, from its stored column values."""
    strings = (
        supersedes,
        provenance,
        alert_id,
        alert_type,
        channel,
        decision,
        discloser,
        id,
        personal_commitment,
        purpose,
        recipient,
        recorded_at,
        shared_at,
        source_event_id,
        trace_id,
    )
    q = _escaped if _NEEDS_ESCAPE.search("".join(s for s in strings if s is not None)) else _q
    text = _BODY_TEMPLATE % (
        q(alert_id),
        q(alert_type),
        q(channel),
        data_categories,
        q(decision),
        q(discloser),
        q(id),
        lawful_basis if lawful_basis is not None else "null",
        q(personal_commitment),
        "" if provenance is None else ',"provenance":' + q(provenance),
        q(purpose),
        q(recipient),
        q(recorded_at),
        seq,
        _BOOL[service_user_informed],
        q(shared_at),
        q(source_event_id),
        "" if supersedes is None else ',"supersedes":' + q(supersedes),
        q(trace_id),
    )
    return text.encode("utf-8")


def personal_bytes(
    children: str,
    not_informed_reason: str | None,
    person: str | None,
    reason: str | None,
    basis_reason: str | None = None,
) -> bytes:
    """The canonical JSON of a record's personal fields, from stored values (children as JSON text)."""
    joined = "".join(s for s in (not_informed_reason, person, reason, basis_reason) if s is not None)
    q = _escaped if _NEEDS_ESCAPE.search(joined) else _q
    lead = "" if basis_reason is None else '"basis_reason":' + q(basis_reason) + ","
    return (_PERSONAL_TEMPLATE % (lead, children, q(not_informed_reason), q(person), q(reason))).encode("utf-8")


def link_hash(prev_hash: str, body: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()


def commitment_of(salt_hex: str, personal: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(salt_hex) + personal).hexdigest()
