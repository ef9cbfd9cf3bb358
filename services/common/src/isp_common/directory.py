"""The partnership directory (CONTRACT §9): every organisation that publishes or receives, with
its kind, its designated safeguarding lead's contact, its out-of-hours team and its event-signing
keys.

Each service that needs it (notifications, referrals) keeps the same table,
``directory_organisation``, in its own database, created by its own migration. It starts from
the directory file (``ISP_DIRECTORY_FILE``, :func:`seed_at_start`, run by the runtime after
migrations) and follows changes made over the notifications API (``PUT /v1/directory/{org}``,
published as ``uk.isp.directory.organisation.updated.v1`` on ``isp.directory.v1``). The file only
fills in what is missing: an entry changed over the API is never overwritten by it.

Read the table only through the functions here: :func:`organisation`, :func:`kind_of`,
:func:`kinds_of`, :func:`entries`; write it only through :func:`put` and :func:`seed`.
:func:`public_jwk` and :func:`private_jwk` give an Ed25519 key as the directory (and its owner)
keep it: an OKP JWK whose ``kid`` is its RFC 7638 thumbprint.
"""

from __future__ import annotations

import base64
import logging
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from isp_schemas.directory import Organisation
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import JSON, Column, inspect
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from .auth import key_id
from .times import as_utc

if TYPE_CHECKING:
    from sqlalchemy.sql.dml import Insert

    from .settings import ServiceSettings

log = logging.getLogger(__name__)

TABLE = "directory_organisation"


class DirectoryEntry(SQLModel, table=True):
    """One organisation of the partnership, as this service last heard of it."""

    __tablename__ = TABLE
    id: str = Field(primary_key=True, max_length=32)
    name: str
    kind: str
    dsl_contact: str
    out_of_hours: str | None = None
    keys: dict[str, Any] = Field(default_factory=lambda: {"keys": []}, sa_column=Column(JSON, nullable=False))
    updated_at: datetime


class DirectoryFileError(RuntimeError):
    """The directory file is missing or is not a JSON list of organisations."""


# -- reading ---------------------------------------------------------------------------------


def organisation(session: Session, org_id: str) -> Organisation | None:
    """The directory's entry for ``org_id``, or None if the organisation is not in it."""
    entry = session.get(DirectoryEntry, org_id)
    return None if entry is None else as_organisation(entry)


def kind_of(session: Session, org_id: str) -> str | None:
    """The kind of ``org_id`` (``children_social_care``, ...); None: not in the directory."""
    return kinds_of(session, [org_id]).get(org_id)


KINDS_CACHE_SECONDS = 5.0
"""How long a process trusts the kinds and keys it read (every event and decision asks): a change
made in this process is seen at once, one made by another replica within this many seconds."""


@dataclass(frozen=True)
class _Read:
    at: float
    kinds: dict[str, str]
    keys: dict[str, Mapping[str, Any]]


_cache: weakref.WeakKeyDictionary[Engine, _Read] = weakref.WeakKeyDictionary()


def kinds_of(session: Session, org_ids: Iterable[str]) -> dict[str, str]:
    """The kinds of those of ``org_ids`` the directory knows (unknown ones are left out)."""
    wanted = set(org_ids)
    if not wanted:
        return {}
    kinds = _read(session).kinds
    return {org: kinds[org] for org in sorted(wanted) if org in kinds}


def keys_of(session: Session, org_id: str) -> Mapping[str, Any] | None:
    """The JWKS of ``org_id``'s event-signing keys (CONTRACT §10); None: not in the directory."""
    return _read(session).keys.get(org_id)


def keys_on(engine: Engine, org_id: str) -> Mapping[str, Any] | None:
    """:func:`keys_of` for a consumer checking events: no session is opened while the directory
    read of the last few seconds is fresh (a session per event cost the consumer more than the
    signature check)."""
    cached = _fresh(engine)
    if cached is None:
        with Session(engine) as session:
            cached = _read(session)
    return cached.keys.get(org_id)


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _read(session: Session) -> _Read:
    """Every organisation's kind and keys, read once per database every few seconds."""
    engine = _engine_of(session)
    cached = _fresh(engine)
    if cached is not None:
        return cached
    now = time.monotonic()
    rows = session.exec(select(DirectoryEntry.id, DirectoryEntry.kind, DirectoryEntry.keys)).all()
    read = _Read(now, {org: kind for org, kind, _ in rows}, {org: keys for org, _, keys in rows})
    _cache[engine] = read
    return read


def _fresh(engine: Engine) -> _Read | None:
    """The directory read of the last few seconds on ``engine``, if there is one."""
    cached = _cache.get(engine)
    return cached if cached is not None and time.monotonic() - cached.at < KINDS_CACHE_SECONDS else None


def _forget_kinds(session: Session) -> None:
    """Forget the cached kinds and keys now and again when the session commits (the change is then seen)."""
    engine = _engine_of(session)
    _cache.pop(engine, None)
    sa_event.listen(session, "after_commit", lambda _session: _cache.pop(engine, None), once=True)


ORG_FIELDS = ("from_org", "to_org", "recorded_by", "org", "other_org", "provider_org", "responsible_org")
"""Fields of an event's data that name one organisation."""
ORG_LIST_FIELDS = ("invitees", "recipients")
"""Fields of an event's data that name organisations (``*`` in ``recipients`` is the whole partnership)."""


def named_orgs(source_org: str | None, data: Any) -> set[str]:
    """Every organisation an event names: its ``source`` and the organisation fields of its data."""
    named = {source_org} if source_org else set()
    single, lists = _org_fields(type(data))
    for name in single:
        value = getattr(data, name, None)
        if isinstance(value, str):
            named.add(value)
    for name in lists:
        values = getattr(data, name, None) or ()
        named.update(v for v in values if isinstance(v, str) and v != "*")
    return named


_org_fields_of: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _org_fields(model: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which of the organisation fields a data model has (of a model, its declared fields; of
    anything else, all of them), found once per model: asking a pydantic model for a field it
    lacks raises and catches an AttributeError, a few microseconds each, nine times an event."""
    found = _org_fields_of.get(model)
    if found is None:
        declared = getattr(model, "model_fields", None)
        config = getattr(model, "model_config", None) or {}
        if not isinstance(declared, dict) or config.get("extra") == "allow":
            found = ORG_FIELDS, ORG_LIST_FIELDS
        else:
            found = tuple(n for n in ORG_FIELDS if n in declared), tuple(n for n in ORG_LIST_FIELDS if n in declared)
        _org_fields_of[model] = found
    return found


def unknown_orgs(session: Session, source_org: str | None, data: Any) -> list[str]:
    """The organisations an event names that are not in the directory (CONTRACT §9), sorted."""
    named = named_orgs(source_org, data)
    return sorted(named - set(kinds_of(session, named)))


def entries(session: Session) -> list[Organisation]:
    """Every organisation in the directory, by id."""
    return [as_organisation(e) for e in session.exec(select(DirectoryEntry).order_by(col(DirectoryEntry.id)))]


def as_organisation(entry: DirectoryEntry) -> Organisation:
    return Organisation.model_validate(entry.model_dump(exclude={"updated_at"}))


# -- writing ---------------------------------------------------------------------------------


def put(session: Session, org: Organisation, now: datetime) -> DirectoryEntry:
    """Insert or update ``org``'s entry (the caller commits)."""
    fields = _fields(org)
    entry = session.get(DirectoryEntry, org.id)
    if entry is None:
        entry = DirectoryEntry(**fields, updated_at=as_utc(now))
    else:
        for name, value in fields.items():
            setattr(entry, name, value)
        entry.updated_at = as_utc(now)
    session.add(entry)
    session.flush()
    _forget_kinds(session)
    return entry


def seed(session: Session, orgs: Iterable[Organisation], now: datetime) -> int:
    """Insert those of ``orgs`` the directory lacks, leaving existing entries as they are (an
    entry changed over the API is never overwritten by the file). Safe when several replicas
    seed the same database at once: an id inserted meanwhile by another is skipped. Returns how
    many were added; the caller commits."""
    connection = session.connection()
    dialect = connection.dialect.name
    added = 0
    for org in orgs:
        row = {**_fields(org), "updated_at": as_utc(now)}
        if dialect in ("sqlite", "postgresql"):
            stmt: Insert
            if dialect == "sqlite":
                stmt = sqlite.insert(DirectoryEntry).values(row).on_conflict_do_nothing(index_elements=["id"])
            else:
                # imported here: SQLAlchemy's PostgreSQL dialect package brings four drivers' dialect
                # modules with it, 2 MB of a service on SQLite that never uses them (on PostgreSQL
                # the engine has loaded them already)
                from sqlalchemy.dialects import postgresql

                stmt = postgresql.insert(DirectoryEntry).values(row).on_conflict_do_nothing(index_elements=["id"])
            added += len(connection.execute(stmt.returning(col(DirectoryEntry.id))).all())  # 0: already there
        elif session.get(DirectoryEntry, org.id) is None:  # other databases: check, then insert
            session.add(DirectoryEntry(**row))
            added += 1
    session.flush()
    _forget_kinds(session)
    return added


def _fields(org: Organisation) -> dict[str, Any]:
    return org.model_dump(mode="json", include={"id", "name", "kind", "dsl_contact", "out_of_hours", "keys"})


# -- the directory file ----------------------------------------------------------------------

_FILE = TypeAdapter(list[Organisation])


def load_file(path: Path) -> list[Organisation]:
    """The organisations of a directory file: a JSON list of :class:`Organisation` objects, each
    id at most once. Raises :class:`DirectoryFileError` saying what is wrong."""
    try:
        orgs = _FILE.validate_json(path.read_bytes())
    except OSError as exc:
        raise DirectoryFileError(f"cannot read the directory file {path}: {exc.strerror or exc}") from None
    except ValidationError as exc:
        where = ", ".join(".".join(str(p) for p in e["loc"]) or "(file)" for e in exc.errors()[:5])
        raise DirectoryFileError(f"the directory file {path} is not a list of organisations (at {where})") from None
    seen: set[str] = set()
    for org in orgs:
        if org.id in seen:
            raise DirectoryFileError(f"the directory file {path} lists {org.id} more than once")
        seen.add(org.id)
    return orgs


def has_table(engine: Engine) -> bool:
    """Whether this service's database keeps the directory (its migrations created the table)."""
    return inspect(engine).has_table(TABLE)


def seed_at_start(engine: Engine, settings: ServiceSettings, now: datetime) -> int:
    """The start-up hook (run by the runtime after migrations): seed the directory from
    ``settings.directory_file`` if this service keeps it. A missing file is a warning in the
    embedded default and an error in production. Returns how many entries were added."""
    if not has_table(engine):
        return 0
    path = settings.resolved_directory_file
    if not path.is_file():
        if settings.environment == "production":
            raise DirectoryFileError(f"no directory file at {path} (set ISP_DIRECTORY_FILE)")
        log.warning("no directory file at %s: the directory starts empty (set ISP_DIRECTORY_FILE)", path)
        return 0
    orgs = load_file(path)
    with Session(engine) as session:
        added = seed(session, orgs, now)
        session.commit()
    if added:
        log.info("directory: %d of %d organisations added from %s", added, len(orgs), path)
    return added


# -- event-signing keys (CONTRACT §10) ----------------------------------------------------------


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """``key`` as a directory holds it: an OKP JWK whose ``kid`` is its RFC 7638 thumbprint."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": key_id(key), "use": "sig", "alg": "EdDSA"}


def private_jwk(key: Ed25519PrivateKey) -> dict[str, str]:
    """``key`` as its organisation keeps it (never in the directory): the public JWK plus ``d``."""
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return {**public_jwk(key.public_key()), "d": _b64url(raw)}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


__all__ = [
    "DirectoryEntry",
    "DirectoryFileError",
    "as_organisation",
    "entries",
    "has_table",
    "kind_of",
    "keys_of",
    "kinds_of",
    "load_file",
    "organisation",
    "private_jwk",
    "public_jwk",
    "put",
    "seed",
    "seed_at_start",
]
