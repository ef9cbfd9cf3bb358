"""Event provenance (CONTRACT §10): who may say what on the bus.

Every event on a partner topic carries ``isp-signature``: a compact JWS with a detached payload
(RFC 7515 Appendix F), ``alg`` EdDSA, signed over the Kafka message value bytes, its ``kid`` naming
a key of the organisation in the event's ``source``. The organisation fields of ``data``
(``from_org``, ``recorded_by``, ``org``) must name that organisation too, so a signed event can
speak only for its own organisation.

Three kinds of signer are accepted, each for what it may say:

- **the organisation** itself (its key in the directory): ``signed``; organisation fields bound;
- **the events gateway** on a partner's behalf (the gateway's key, header ``isp-signed-for`` naming
  the ``source`` organisation, which the gateway authenticated): ``gateway``; fields bound;
- **a partnership service** (its key among the service keys): ``service``. Services state facts about
  other organisations (a referral's ``from_org`` on an acceptance the receiver made), so fields are
  not bound; instead a service may publish only the event types it owns (:data:`SERVICE_TYPES`
  lists, for example, which services may publish disclosure records to the audit service).

With no signature: refused in production; in the embedded default accepted as ``unsigned`` only
when the source organisation has no key in the directory (an organisation that has a key must use
it), with its organisation fields bound unless its type is one a service publishes (as a service's
signed event would be). Every refusal is a :class:`ProvenanceError` whose message names what failed, never content.

Signing and verifying are pure functions of bytes and keys; callers find the keys (the directory
for organisations, settings or the key directory for services) and decide what to do with a
refusal (dead-letter it).

PyJWT makes and reads the JWS; the Ed25519 arithmetic on the hot path is libsodium's (PyNaCl), about
1.6 times as fast as OpenSSL's here and outside the GIL. A signer's protected header is PyJWT's own,
made once per key; a signature whose header PyJWT has already accepted (byte for byte) has only its
Ed25519 signature checked, over the same signing input PyJWT would check (RFC 7797: the header
segment, ``.``, the message bytes); any other is read by PyJWT in full first.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from isp_schemas import topics
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

SIGNATURE_HEADER = "isp-signature"
SIGNED_FOR_HEADER = "isp-signed-for"
PROVENANCE_HEADER = "isp-provenance"
ALGORITHM = "EdDSA"

PARTNER_TOPICS = frozenset({topics.TREATMENT, topics.SOCIALCARE, topics.REFERRALS, topics.CONSENT})
"""Topics partners publish to: every event on them is checked."""

ORGANISATION_FIELDS = ("from_org", "recorded_by", "org")
"""Fields of ``data`` that say which organisation speaks; bound to ``source`` for partners."""

Provenance = Literal["signed", "gateway", "service", "unsigned"]

_JWS = jwt.PyJWS()
_current: ContextVar[str | None] = ContextVar("isp_provenance", default=None)


def current() -> str | None:
    """The provenance of the event being handled now (None outside a consumer's handling: a timer,
    an API call): the consumer sets it, and the audit record of a decision made now carries it."""
    return _current.get()


@contextmanager
def handling(provenance: str | None) -> Iterator[None]:
    """Within the block, :func:`current` is ``provenance``."""
    token = _current.set(provenance)
    try:
        yield
    finally:
        _current.reset(token)


class ProvenanceError(Exception):
    """An event whose origin is not proven: dead-letter it with this message as the reason."""


@dataclass(frozen=True)
class Signer:
    """A private signing key and the ``kid`` the directory (or the service keys) knows it by."""

    key: Ed25519PrivateKey
    kid: str

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> Signer:
        """A signer from a private OKP JWK, as ``isp directory add --key-out`` writes it."""
        key = jwt.PyJWK(dict(jwk), algorithm=ALGORITHM).key
        if not isinstance(key, Ed25519PrivateKey):
            raise ProvenanceError("the key is not an Ed25519 private key (a JWK with 'd')")
        kid = jwk.get("kid")
        if not kid:
            raise ProvenanceError("the key has no 'kid'")
        return cls(key=key, kid=str(kid))

    def sign(self, value: bytes) -> str:
        """The ``isp-signature`` of a message value: compact JWS, detached payload (RFC 7797), exactly
        as PyJWT makes it; its header made once, the signature by libsodium."""
        protected = self._protected
        signature = self._sodium.sign(protected + b"." + value).signature
        return f"{protected.decode('ascii')}..{_b64url(signature)}"

    @functools.cached_property
    def _protected(self) -> bytes:
        """The JWS protected header segment PyJWT makes for this key (the same for every message)."""
        made = _JWS.encode(b"", self.key, algorithm=ALGORITHM, headers={"kid": self.kid}, is_payload_detached=True)
        return made.split(".", 1)[0].encode("ascii")

    @functools.cached_property
    def _sodium(self) -> SigningKey:
        return SigningKey(self.key.private_bytes_raw())


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_keys(jwks: Mapping[str, Any] | None) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 public keys of a JWKS by ``kid`` (other kinds of key are ignored)."""
    found: dict[str, Ed25519PublicKey] = {}
    for jwk in (jwks or {}).get("keys", []):
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not jwk.get("kid"):
            continue
        key = _ed25519_key(str(jwk.get("x", "")))
        if key is not None:
            found[str(jwk["kid"])] = key
    return found


@functools.lru_cache(maxsize=4096)
def _ed25519_key(x: str) -> Ed25519PublicKey | None:
    """The public key of a JWK's ``x`` (parsed once per key, not once per event)."""
    try:
        key = jwt.PyJWK({"kty": "OKP", "crv": "Ed25519", "x": x}, algorithm=ALGORITHM).key
    except jwt.PyJWTError:
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def signature_kid(signature: str) -> str:
    """The ``kid`` a signature names (unverified), or a ProvenanceError if it is not a detached JWS."""
    parts = signature.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise ProvenanceError("isp-signature is not a compact JWS with a detached payload")
    return _header_kid(parts[0])


@functools.lru_cache(maxsize=1024)
def _header_kid(segment: str) -> str:
    """The ``kid`` of a protected header segment (read once per distinct header: one per key)."""
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProvenanceError("isp-signature has an unreadable header") from exc
    if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
        raise ProvenanceError(f"isp-signature must use alg {ALGORITHM}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ProvenanceError("isp-signature names no kid")
    return kid


def verify_signature(value: bytes, signature: str, key: Ed25519PublicKey) -> None:
    """Raise ProvenanceError unless ``signature`` signs exactly ``value`` with ``key``."""
    header, _, rest = signature.partition(".")
    if header in _ACCEPTED_HEADERS and _SIGNATURE_SEGMENT.fullmatch(rest):
        # PyJWT accepted this very header before; what is left to check is the Ed25519 signature over
        # the signing input PyJWT would build from it
        try:
            _verify_key(key.public_bytes_raw()).verify(
                header.encode("ascii") + b"." + value, base64.urlsafe_b64decode(rest[1:] + "==")
            )
        except BadSignatureError as exc:
            raise ProvenanceError("isp-signature does not verify over the message") from exc
        return
    try:
        _JWS.decode_complete(signature, key, algorithms=[ALGORITHM], detached_payload=value)
    except jwt.InvalidTokenError as exc:
        raise ProvenanceError("isp-signature does not verify over the message") from exc
    if len(_ACCEPTED_HEADERS) < _ACCEPTED_HEADERS_KEPT:
        _ACCEPTED_HEADERS.add(header)


_ACCEPTED_HEADERS: set[str] = set()
"""Protected header segments PyJWT has accepted on a signature that verified (one per signing key)."""
_ACCEPTED_HEADERS_KEPT = 1024
_SIGNATURE_SEGMENT = re.compile(r"\.[A-Za-z0-9_-]{86}")
"""What follows a detached JWS's header and its first ``.``: the second ``.`` (nothing between them,
the payload being detached) and an Ed25519 signature in unpadded base64url (64 bytes, 86 characters);
anything else (padding, other lengths, other characters) is read by PyJWT in full."""


@functools.lru_cache(maxsize=4096)
def _verify_key(raw: bytes) -> VerifyKey:
    return VerifyKey(raw)


def mismatched_fields(data: Mapping[str, Any], source_org: str) -> list[str]:
    """The organisation fields of ``data`` that name an organisation other than ``source_org``."""
    return [name for name in ORGANISATION_FIELDS if name in data and data[name] != source_org]


@dataclass(frozen=True)
class Trust:
    """What a consumer trusts: where to find each organisation's keys, the partnership services'
    keys (by service name), the gateway's key, and whether unsigned events may pass."""

    org_keys: Callable[[str], Mapping[str, Any] | None]
    """An organisation's JWKS from the directory (None when it is not in the directory)."""
    service_keys: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each partnership service's public JWKS, by service name (referrals, notifications, …)."""
    gateway_keys: Mapping[str, Any] | None = None
    allow_unsigned: bool = False
    """The embedded default: an organisation with no key may publish unsigned."""

    def service_of(self, kid: str) -> str | None:
        for service, jwks in self.service_keys.items():
            if kid in public_keys(jwks):
                return service
        return None


def _header(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("ascii", "replace")
    return None


def check(
    value: bytes,
    headers: Iterable[tuple[str, bytes]],
    source_org: str,
    event_type: str,
    data: Mapping[str, Any],
    trust: Trust,
) -> Provenance:
    """How ``value`` (an event from ``source_org`` of ``event_type``) proves where it came from;
    ProvenanceError if it does not."""
    header_list = list(headers)
    signature = _header(header_list, SIGNATURE_HEADER)
    if signature is None:
        if trust.allow_unsigned and not public_keys(trust.org_keys(source_org)):
            # unsigned (embedded only): it may be a service's event, as signed ones would be, which states
            # other organisations; otherwise it speaks only for its source
            if not published_by_a_service(event_type) and (mismatched := mismatched_fields(data, source_org)):
                raise ProvenanceError(f"{', '.join(mismatched)} must name the source organisation")
            return "unsigned"
        raise ProvenanceError("isp-signature is missing")
    kid = signature_kid(signature)
    service = trust.service_of(kid)
    if service is not None:
        verify_signature(value, signature, public_keys(trust.service_keys[service])[kid])
        allowed = SERVICE_TYPES.get(service)
        if allowed is not None and not allowed(event_type):
            raise ProvenanceError(f"the {service} service does not publish {event_type}")
        return "service"
    signed_for = _header(header_list, SIGNED_FOR_HEADER)
    if signed_for is not None:
        gateway = public_keys(trust.gateway_keys)
        if kid not in gateway:
            raise ProvenanceError("isp-signed-for is set but the kid is not the gateway's")
        if signed_for != source_org:
            raise ProvenanceError("isp-signed-for does not name the source organisation")
        verify_signature(value, signature, gateway[kid])
        provenance: Provenance = "gateway"
    else:
        own = public_keys(trust.org_keys(source_org))
        if kid not in own:
            raise ProvenanceError("the kid is not a key of the source organisation in the directory")
        verify_signature(value, signature, own[kid])
        provenance = "signed"
    if mismatched := mismatched_fields(data, source_org):
        raise ProvenanceError(f"{', '.join(mismatched)} must name the source organisation")
    return provenance


def published_by_a_service(event_type: str) -> bool:
    return any(allowed(event_type) for allowed in SERVICE_TYPES.values())


def _prefixed(*prefixes: str) -> Callable[[str], bool]:
    return lambda event_type: event_type.startswith(prefixes)


SERVICE_TYPES: dict[str, Callable[[str], bool]] = {
    "referrals": _prefixed("uk.isp.referral.", "uk.isp.audit.disclosure."),
    "notifications": _prefixed("uk.isp.alert.", "uk.isp.audit.disclosure.", "uk.isp.directory."),
    "register": _prefixed("uk.isp.register."),
    "audit": _prefixed("uk.isp.audit.checkpoint."),
}
"""What each partnership service may publish (the audit service takes disclosure records only from
the services that disclose: referrals and notifications)."""


__all__ = [
    "ALGORITHM",
    "ORGANISATION_FIELDS",
    "PARTNER_TOPICS",
    "PROVENANCE_HEADER",
    "SERVICE_TYPES",
    "SIGNATURE_HEADER",
    "SIGNED_FOR_HEADER",
    "Provenance",
    "ProvenanceError",
    "Signer",
    "Trust",
    "check",
    "current",
    "handling",
    "mismatched_fields",
    "public_keys",
    "signature_kid",
    "verify_signature",
]
