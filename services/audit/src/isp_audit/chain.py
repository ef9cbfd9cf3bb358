"""The hash chain over disclosure records (pure)."""

from __future__ import annotations

import hashlib
from typing import Any

GENESIS = "0" * 64


def canonical(obj: Any) -> bytes:
    """Canonical JSON (RFC 8785 for the values we store: str, int, bool, null, lists, dicts)."""
    import rfc8785

    return rfc8785.dumps(obj)


def record_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(body)).hexdigest()
