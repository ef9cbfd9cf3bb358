"""Bearer-token identity and access for every API (CONTRACT §2).

A token is a JWT with claims ``sub``, ``org`` (organisation id), ``roles`` and
``exp``. Keys come from one of two places, chosen by the service's settings:

- embedded default: an Ed25519 key pair (EdDSA) under ``ISP_KEY_DIR`` (default
  ``var/keys``), generated on first use; ``isp token`` signs with it;
- production: the key set of an OIDC issuer at ``ISP_JWT_JWKS_URL``.

How the verifier reaches a route: the composition root builds one
:class:`TokenVerifier` and calls :func:`install_token_verifier`, which puts it on
``app.state.token_verifier``. Routes then ask for :data:`CurrentCaller`, or for
``Depends(require_roles("dsl"))``; nothing is read from module globals, so tests
build an app with their own verifier. The dependencies are plain ``def``s on
purpose: FastAPI runs them in a worker thread, so a JWKS fetch never blocks the
event loop.

No or bad token: 401 with ``WWW-Authenticate: Bearer``. Wrong role or another
organisation's data: 403. Both are problem+json (see :mod:`isp_common.problems`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from isp_common.keys import ensure_ed25519_key
from isp_common.problems import Problem
from isp_common.settings import ServiceSettings

Role = Literal["provider", "social_care", "dsl", "ig_officer", "partnership_ig", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
ORG_ID = re.compile(r"[A-Z0-9][A-Z0-9-]{1,31}")  # CONTRACT §3; use with fullmatch
DEFAULT_KEY_DIR = Path("var/keys")
PRIVATE_KEY_FILE = "jwt-signing-key.pem"
PUBLIC_KEY_FILE = "jwt-signing-key.pub.pem"
JWKS_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the token says."""

    sub: str
    org: str
    roles: frozenset[str]

    def has_role(self, *roles: str) -> bool:
        """True when the caller holds any one of ``roles``."""
        return not self.roles.isdisjoint(roles)


def is_org_id(value: object) -> bool:
    return isinstance(value, str) and ORG_ID.fullmatch(value) is not None


def unknown_roles(roles: Iterable[str]) -> list[str]:
    return sorted(set(roles) - set(ROLES))


# --- keys -------------------------------------------------------------------


def ensure_signing_key(key_dir: Path | str = DEFAULT_KEY_DIR) -> Ed25519PrivateKey:
    """The embedded signing key under ``key_dir``, generated (mode 0600) if there is none.

    The four services start together under ``make run``; the key file is created
    by hard-linking a finished temporary file, so whichever process wins, every
    process ends up reading the same key and never a half-written one.
    """
    return ensure_ed25519_key(key_dir, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE)


def key_id(key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint of ``key``, used as the token's ``kid``."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def issue_token(
    key_dir: Path | str,
    sub: str,
    org: str,
    roles: Iterable[str],
    ttl_seconds: int = 8 * 3600,
    *,
    audience: str | None = None,
    issuer: str | None = None,
    now: datetime | None = None,
) -> str:
    """A token signed with the embedded key. Raises ValueError on a bad org or role."""
    roles = list(dict.fromkeys(roles))
    if not is_org_id(org):
        raise ValueError(f"{org!r} is not an organisation id (like CGL-WSX)")
    if not roles:
        raise ValueError("a token needs at least one role")
    if unknown := unknown_roles(roles):
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}")
    if not sub:
        raise ValueError("sub must not be empty")
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": sub,
        "org": org,
        "roles": roles,
        "iat": issued,
        "exp": issued + timedelta(seconds=ttl_seconds),
    }
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    key = ensure_signing_key(key_dir)
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": key_id(key.public_key())})


# --- verification -------------------------------------------------------------


def _unauthorised(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


_TOKEN_ERRORS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "The token has expired."),
    (jwt.ImmatureSignatureError, "The token is not valid yet."),
    (jwt.InvalidSignatureError, "The token's signature does not verify."),
    (jwt.InvalidAudienceError, "The token is for another audience."),
    (jwt.InvalidIssuerError, "The token is from another issuer."),
    (jwt.InvalidAlgorithmError, "The token is signed with an algorithm not accepted here."),
    (jwt.DecodeError, "The token is not a well-formed JWT."),
)


class TokenVerifier:
    """Checks a bearer token and says who the caller is: a local public key or a JWKS URL."""

    def __init__(
        self,
        public_key: Ed25519PublicKey | None = None,
        *,
        jwks_url: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        leeway_seconds: int = 30,
        algorithms: Iterable[str] | None = None,
    ) -> None:
        if (public_key is None) == (jwks_url is None):
            raise ValueError("give exactly one of public_key and jwks_url")
        self._key = public_key
        self._jwks = jwt.PyJWKClient(jwks_url, lifespan=300) if jwks_url else None
        self._algorithms = list(algorithms or (("EdDSA",) if public_key else JWKS_ALGORITHMS))
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway_seconds

    @classmethod
    def from_key_dir(cls, key_dir: Path | str = DEFAULT_KEY_DIR, **options: Any) -> TokenVerifier:
        return cls(ensure_signing_key(key_dir).public_key(), **options)

    @classmethod
    def from_settings(cls, settings: ServiceSettings | None = None) -> TokenVerifier:
        """A JWKS URL, when set, wins over the embedded key under the settings' key dir."""
        settings = settings or ServiceSettings()
        options: dict[str, Any] = {
            "audience": settings.jwt_audience,
            "issuer": settings.jwt_issuer,
            "leeway_seconds": settings.jwt_leeway_seconds,
        }
        if settings.jwt_jwks_url:
            return cls(jwks_url=settings.jwt_jwks_url, **options)
        return cls.from_key_dir(settings.resolved_key_dir, **options)

    def verify(self, token: str) -> Caller:
        """The caller named by ``token``; Problem(401) if it is missing, expired or invalid."""
        if not token:
            raise _unauthorised("This needs an Authorization: Bearer token.")
        try:
            claims = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise _unauthorised(f"The token has no {exc.claim} claim.") from None
        except jwt.PyJWTError as exc:
            raise _unauthorised(_describe(exc)) from None
        return caller_from_claims(claims)

    def _signing_key(self, token: str) -> Any:
        if self._jwks is None:
            return self._key
        try:
            return self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            detail = "The identity provider's keys cannot be fetched."
            raise Problem(503, "Service Unavailable", detail) from None
        except jwt.PyJWKClientError:
            raise _unauthorised("The token's key is not one the identity provider publishes.") from None


def _describe(exc: jwt.PyJWTError) -> str:
    for error_type, detail in _TOKEN_ERRORS:
        if isinstance(exc, error_type):
            return detail
    return "The token is not valid."


def caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    """Check the ISP claims (org id, known roles) of an already verified token."""
    org, roles = claims.get("org"), claims.get("roles")
    if not is_org_id(org):
        raise _unauthorised("The token's org claim is not an organisation id.")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise _unauthorised("The token's roles claim is not a list of role names.")
    if unknown := unknown_roles(roles):
        raise _unauthorised(f"The token names unknown role(s): {', '.join(unknown)}.")
    return Caller(sub=str(claims["sub"]), org=str(org), roles=frozenset(roles))


# --- FastAPI dependencies -------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="A JWT: `isp token` prints one locally.")


def install_token_verifier(app: FastAPI, verifier: TokenVerifier) -> None:
    app.state.token_verifier = verifier


def token_verifier_of(app: Any) -> TokenVerifier:
    verifier = getattr(app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("no token verifier: call install_token_verifier(app, ...) at startup")
    return verifier


def caller_dependency(verifier: TokenVerifier | None = None) -> Callable[..., Caller]:
    """A dependency giving the authenticated :class:`Caller`.

    With no ``verifier`` (the normal case) it uses ``app.state.token_verifier``.
    """

    def authenticated_caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        if credentials is None:
            raise Problem(
                401,
                "Unauthorized",
                "This needs an Authorization: Bearer token.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return (verifier or token_verifier_of(request.app)).verify(credentials.credentials)

    return authenticated_caller


authenticated_caller = caller_dependency()
CurrentCaller = Annotated[Caller, Depends(authenticated_caller)]


def require_roles(*roles: Role) -> Callable[..., Caller]:
    """A dependency giving the caller if they hold any of ``roles``, else Problem(403)."""
    if not roles or unknown_roles(roles):
        raise ValueError(f"require_roles needs known roles, got {roles!r}")

    def caller_with_role(caller: CurrentCaller) -> Caller:
        if not caller.has_role(*roles):
            raise Problem(403, "Forbidden", f"This needs the role {' or '.join(roles)}.")
        return caller

    return caller_with_role


def caller_from_cookie(request: Request, cookie: str, *roles: Role) -> Caller | None:
    """The caller a page's sign-in cookie names, if the token is valid and holds one of ``roles``;
    None otherwise (the page then asks the user to sign in)."""
    token = request.cookies.get(cookie)
    if not token:
        return None
    try:
        caller = token_verifier_of(request.app).verify(token)
    except Problem:
        return None
    return caller if caller.has_role(*roles) else None


def ensure_own_org(caller: Caller, org: str) -> None:
    """Problem(403) unless ``org`` is the caller's own organisation."""
    if caller.org != org:
        raise Problem(403, "Forbidden", "This is not your organisation's data.")
