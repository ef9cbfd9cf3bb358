"""Building chained rows, and reading them back as the public record (CONTRACT §8)."""

from __future__ import annotations

import json
from typing import Any

from isp_schemas.audit import Decision, disclosure_record_id

from . import chain

PUBLIC_FIELDS = (
    "seq",
    "id",
    "recorded_at",
    "shared_at",
    "decision",
    "discloser",
    "recipient",
    "person",
    "children",
    "purpose",
    "data_categories",
    "lawful_basis",
    "service_user_informed",
    "not_informed_reason",
    "source_event_id",
    "alert_id",
    "alert_type",
    "channel",
    "trace_id",
    "reason",
    "supersedes",
    "provenance",
    "personal_commitment",
    "erased_at",
    "prev_hash",
    "hash",
)
"""A record's fields as the API shows them, in the order the CSV export and the append-only
guard list them (:data:`isp_audit.domain.export.CSV_COLUMNS`,
:data:`isp_audit.domain.retention.KEPT_COLUMNS`)."""


JUDGEMENT = "professional_judgement"
"""The lawful basis whose free-text ``reason`` is stored with the personal fields (``basis_reason``)."""


def record_id(alert_id: str, recipient: str, decision: Decision) -> str:
    """A record's ``id``: UUID v5 of ``disclosure/<alert_id>/<recipient>/<decision>`` (the schema's
    :func:`isp_schemas.audit.disclosure_record_id`, which publishers use to name a record in ``supersedes``)."""
    return disclosure_record_id(alert_id, recipient, decision)


def split_basis(basis: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """The lawful basis as chained in the body, and the free text kept with the personal fields."""
    if basis is None or basis.get("kind") != JUDGEMENT or basis.get("reason") is None:
        return basis, None
    return {k: v for k, v in basis.items() if k != "reason"}, basis["reason"]


def join_basis(basis: dict[str, Any] | None, basis_reason: str | None) -> dict[str, Any] | None:
    """The lawful basis as published: the body's basis with its reason put back (unless erased)."""
    return basis if basis is None or basis_reason is None else {**basis, "reason": basis_reason}


def build_row(seq: int, prev_hash: str, values: dict[str, Any], recorded_at: str, salt: str) -> dict[str, Any]:
    """The column values of record ``seq`` chained after ``prev_hash`` (reference encoder).

    ``values`` holds decoded values: lists and dicts for the JSON fields, times as UTC text.
    """
    lawful_basis, basis_reason = split_basis(values.get("lawful_basis"))
    personal = {name: values.get(name) for name in chain.PERSONAL_FIELDS}
    personal["children"] = list(personal["children"] or [])
    personal = chain.with_optional(personal, {"basis_reason": basis_reason})
    body = {name: values.get(name) for name in chain.BODY_FIELDS}
    body.update(
        seq=seq,
        recorded_at=recorded_at,
        lawful_basis=lawful_basis,
        personal_commitment=chain.personal_commitment(salt, personal),
    )
    optional = {name: values.get(name) for name in chain.OPTIONAL_BODY_FIELDS}
    row = {
        **body,
        **optional,
        "data_categories": chain.canonical_text(body["data_categories"]),
        "lawful_basis": None if body["lawful_basis"] is None else chain.canonical_text(body["lawful_basis"]),
        "person": personal["person"],
        "children": chain.canonical_text(personal["children"]),
        "not_informed_reason": personal["not_informed_reason"],
        "reason": personal["reason"],
        "basis_reason": basis_reason,
        "personal_salt": salt,
        "prev_hash": prev_hash,
        "hash": chain.record_hash(prev_hash, chain.with_optional(body, optional)),
    }
    return row


_STRING_BODY_FIELDS = tuple(
    name
    for name in chain.BODY_FIELDS
    if name not in ("data_categories", "lawful_basis", "seq", "service_user_informed")
)


def chained_row(seq: int, prev_hash: str, values: dict[str, Any], recorded_at: str, salt: str) -> dict[str, Any]:
    """:func:`build_row`'s exact result, faster: each JSON value is encoded once (RFC 8785) and the
    commitment and hash are taken over the canonical bytes assembled from the column values, as
    verification assembles them (:func:`.chain.body_bytes`, :func:`.chain.personal_bytes`), instead of
    encoding the whole body and the personal fields again. Property-tested equal to :func:`build_row`;
    values of other types than the schema's, or that the fast path refuses (a lone surrogate), are
    left to :func:`build_row` itself (its result, or its exception)."""
    get = values.get
    lawful_basis, basis_reason = split_basis(get("lawful_basis"))
    row: dict[str, Any] = {name: get(name) for name in _STRING_BODY_FIELDS}
    row.update(
        seq=seq,
        recorded_at=recorded_at,
        service_user_informed=get("service_user_informed"),
        supersedes=get("supersedes"),
        provenance=get("provenance"),
        person=get("person"),
        not_informed_reason=get("not_informed_reason"),
        reason=get("reason"),
        basis_reason=basis_reason,
    )
    strings = (
        *_STRING_BODY_FIELDS,
        "supersedes",
        "provenance",
        "person",
        "not_informed_reason",
        "reason",
        "basis_reason",
    )
    if (
        type(seq) is not int
        or not all(row[name] is None or type(row[name]) is str for name in strings)
        or not (row["service_user_informed"] is None or type(row["service_user_informed"]) is bool)
    ):
        return build_row(seq, prev_hash, values, recorded_at, salt)
    try:
        children = chain.canonical_text(list(get("children") or []))
        row.update(
            data_categories=chain.canonical_text(get("data_categories")),
            lawful_basis=None if lawful_basis is None else chain.canonical_text(lawful_basis),
            children=children,
            personal_salt=salt,
            prev_hash=prev_hash,
        )
        personal = chain.personal_bytes(
            children, row["not_informed_reason"], row["person"], row["reason"], basis_reason
        )
        row["personal_commitment"] = chain.commitment_of(salt, personal)
        body = chain.body_bytes(
            **{name: row[name] for name in chain.BODY_FIELDS},
            supersedes=row["supersedes"],
            provenance=row["provenance"],
        )
    except Exception:  # the reference gives the result, or raises as it always did
        return build_row(seq, prev_hash, values, recorded_at, salt)
    row["hash"] = chain.link_hash(prev_hash, body)
    return row


def public(row: Any) -> dict[str, Any]:
    """A stored row (ORM object or mapping) as the API shows it."""
    get = row.__getitem__ if isinstance(row, dict) else lambda name: getattr(row, name)
    out = {name: get(name) for name in PUBLIC_FIELDS}
    out["data_categories"] = json.loads(out["data_categories"])
    out["lawful_basis"] = join_basis(
        json.loads(out["lawful_basis"]) if out["lawful_basis"] else None, get("basis_reason")
    )
    out["children"] = json.loads(out["children"]) if out["children"] is not None else None
    if out["service_user_informed"] is not None:
        out["service_user_informed"] = bool(out["service_user_informed"])
    return out
