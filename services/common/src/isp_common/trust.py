"""What a service trusts (CONTRACT §10), built once per runtime: organisations' keys from its copy
of the partnership directory, the partnership services' and the gateway's public keys from the
event-keys directory, and whether unsigned events may pass (the embedded default only).

Keys change while the suite runs (``isp directory add --key-out``, a service started later makes
its key), so both sources are read again: an organisation's keys as the directory's own cache
says (:func:`isp_common.directory.keys_of`: a few seconds, at once after a change here), the
services' key directory when a signature names a kid it does not know yet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from . import directory
from .eventkeys import public_keys_in
from .provenance import Trust, public_keys

GATEWAY = "gateway"
RESCAN_AT_MOST_EVERY = 1.0


class KeyRing(Mapping[str, Mapping[str, Any]]):
    """The public JWKS of each signer in an event-keys directory, read again (at most once a second)
    when asked about a kid none of them has."""

    def __init__(
        self, path: Path, *, without: frozenset[str] = frozenset(), rescan_every: float = RESCAN_AT_MOST_EVERY
    ) -> None:
        self.path = path
        self.without = without
        self.rescan_every = rescan_every
        self._keys: dict[str, Mapping[str, Any]] = {}
        self._signer_of: dict[str, str] = {}  # kid -> signer name, derived at each scan
        self._scanned_at = float("-inf")
        self._lock = threading.Lock()
        self.rescan()

    def rescan(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._scanned_at < self.rescan_every:
                return
            found = public_keys_in(self.path)
            self._keys = {name: jwks for name, jwks in found.items() if name not in self.without}
            self._signer_of = {kid: name for name, jwks in self._keys.items() for kid in public_keys(jwks)}
            self._scanned_at = now

    def signer_of(self, kid: str) -> str | None:
        """The signer whose key ``kid`` is (the directory read again once if none is known)."""
        if kid not in self._signer_of:
            self.rescan()
        return self._signer_of.get(kid)

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        return self._keys[name]

    def __iter__(self) -> Any:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class SignerJwks(Mapping[str, Any]):
    """One signer's JWKS in a :class:`KeyRing`, looked for again while it is not there yet (the
    gateway may start after the services that trust it)."""

    def __init__(self, ring: KeyRing, name: str) -> None:
        self.ring = ring
        self.name = name

    def __getitem__(self, key: str) -> Any:
        if key != "keys":
            raise KeyError(key)
        if self.name not in self.ring:
            self.ring.rescan()
        return self.ring.get(self.name, {"keys": []})["keys"]

    def __iter__(self) -> Any:
        return iter(["keys"])

    def __len__(self) -> int:
        return 1


def organisation_keys(engine: Engine) -> Callable[[str], Mapping[str, Any] | None]:
    """An organisation's JWKS from the directory table on ``engine`` (None when it is not listed,
    or when this service keeps no directory), through the directory's own cache."""
    if not directory.has_table(engine):
        return lambda _org: None

    return partial(directory.keys_on, engine)


class RingTrust(Trust):
    """A :class:`Trust` whose service keys are a :class:`KeyRing` (read again on an unknown kid)."""

    def service_of(self, kid: str) -> str | None:
        ring = self.service_keys
        return ring.signer_of(kid) if isinstance(ring, KeyRing) else super().service_of(kid)


def trust_for(
    engine: Engine, event_keys_dir: Path, *, allow_unsigned: bool, rescan_every: float = RESCAN_AT_MOST_EVERY
) -> Trust:
    return RingTrust(
        org_keys=organisation_keys(engine),
        service_keys=KeyRing(event_keys_dir, without=frozenset({GATEWAY}), rescan_every=rescan_every),
        gateway_keys=SignerJwks(KeyRing(event_keys_dir, rescan_every=rescan_every), GATEWAY),
        allow_unsigned=allow_unsigned,
    )
