"""Event-signing key files (CONTRACT §10): one Ed25519 key per signer, kept as a private JWK.

Each partnership service and the events gateway signs what it publishes with its own key, kept
apart from every other key (the JWT key, the audit checkpoint key): ``<keys>/events/<name>.jwk``
(mode 0600), its public half beside it as ``<name>.public.jwk``. Consumers trust the public keys of
that directory (:func:`public_keys_in`); in production the directory holds only public keys,
mounted read-only, and each service's private key comes from its own secret.

In the embedded default a missing key is made on first use; in production a missing key, or one
that other users can read, stops the service from starting.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .directory import private_jwk, public_jwk
from .keys import create_once
from .provenance import Signer

PUBLIC_SUFFIX = ".public.jwk"


class KeyFileError(RuntimeError):
    """A key file that is missing or unsafe where it must not be."""


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name.removesuffix(".jwk") + PUBLIC_SUFFIX)


def ensure_signer(path: Path, *, create: bool) -> Signer:
    """The signer whose private JWK is ``path``: made (with its public half) when missing and
    ``create``; refused when missing otherwise, or when group or others may read it."""
    if not path.exists():
        if not create:
            raise KeyFileError(f"event-signing key {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        create_once(path, json.dumps(private_jwk(Ed25519PrivateKey.generate())).encode())
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"event-signing key {path} may be read by other users (chmod 600 it)")
    jwk: dict[str, Any] = json.loads(path.read_text())
    signer = Signer.from_jwk(jwk)
    public = public_path(path)
    if not public.exists():
        create_once(public, json.dumps({k: v for k, v in jwk.items() if k != "d"}).encode())
    return signer


def public_keys_in(directory: Path) -> dict[str, dict[str, Any]]:
    """Each signer's public JWKS by name (``referrals``, ``gateway`` …) from ``directory``."""
    found: dict[str, dict[str, Any]] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob(f"*{PUBLIC_SUFFIX}")):
        jwk = json.loads(path.read_text())
        found[path.name.removesuffix(PUBLIC_SUFFIX)] = {"keys": [jwk]}
    return found


__all__ = ["KeyFileError", "PUBLIC_SUFFIX", "ensure_signer", "public_jwk", "public_keys_in", "public_path"]
