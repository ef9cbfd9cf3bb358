"""Signed checkpoints: the head of the chain (size, hash, time) signed with Ed25519.

A checkpoint leaves the service three ways: a row in ``audit_checkpoint``, a line in the
checkpoint file (``<var>/audit-checkpoints.jsonl``) and an event on
``isp.audit.checkpoints.v1``. Whoever keeps a copy of an earlier checkpoint can later show
that the table was rewritten, even by someone able to recompute every hash, because they
cannot sign a matching checkpoint without the key.

The signed statement is the RFC 8785 JSON of ``{"head", "log", "size", "time"}``, plus
``{"erasure_head", "erasures"}`` (the erasure chain's hash and length, see
:mod:`isp_audit.domain.retention`) once there has been an erasure: a checkpoint signed before
erasures were chained, or while there were none, has exactly the statement it always had.
The signing key (``audit-checkpoint-key.pem``) is separate from the JWT key; verification
trusts only the public key file given to it, never a key a checkpoint names.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from isp_common.keys import ensure_ed25519_key

from .domain import chain

LOG_NAME = "isp-audit"
PRIVATE_KEY_FILE = "audit-checkpoint-key.pem"
PUBLIC_KEY_FILE = "audit-checkpoint-key.pub.pem"
CHECKPOINT_FILE = "audit-checkpoints.jsonl"


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    head: str
    time: str
    key_id: str
    signature: str
    erasures: int | None = None
    erasure_head: str | None = None

    def statement(self) -> bytes:
        return statement(self.size, self.head, self.time, self.erasures, self.erasure_head)

    def to_json_line(self) -> str:
        fields = {name: value for name, value in asdict(self).items() if value is not None}
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def statement(size: int, head: str, time: str, erasures: int | None = None, erasure_head: str | None = None) -> bytes:
    signed: dict[str, object] = {"head": head, "log": LOG_NAME, "size": size, "time": time}
    if erasures is not None or erasure_head is not None:
        signed |= {"erasure_head": erasure_head, "erasures": erasures}
    return chain.canonical(signed)


def ensure_signing_key(key_dir: Path) -> Ed25519PrivateKey:
    """The checkpoint key under ``key_dir`` (made, mode 0600, on first use) and its public half."""
    return ensure_ed25519_key(key_dir, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE)


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(
    key: Ed25519PrivateKey, size: int, head: str, time: str, erasures: tuple[int, str] | None = None
) -> SignedCheckpoint:
    """Sign the head; ``erasures`` is the erasure chain's (count, hash), left out while it is empty."""
    count, erasure_head = erasures if erasures and erasures[0] > 0 else (None, None)
    signature = key.sign(statement(size, head, time, count, erasure_head))
    encoded = base64.b64encode(signature).decode()
    return SignedCheckpoint(size, head, time, key_id(key.public_key()), encoded, count, erasure_head)


def signature_valid(checkpoint: SignedCheckpoint, trusted: Ed25519PublicKey) -> bool:
    if checkpoint.key_id != key_id(trusted):
        return False
    try:
        trusted.verify(base64.b64decode(checkpoint.signature), checkpoint.statement())
    except (InvalidSignature, ValueError):
        return False
    return True


def append_to_file(path: Path, checkpoint: SignedCheckpoint) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(checkpoint.to_json_line() + "\n")


def read_file(path: Path) -> list[SignedCheckpoint]:
    """Checkpoints in a file; a line that is not one is kept as a checkpoint that cannot verify."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            count, erasure_head = d.get("erasures"), d.get("erasure_head")
            found.append(
                SignedCheckpoint(
                    int(d["size"]),
                    str(d["head"]),
                    str(d["time"]),
                    str(d["key_id"]),
                    str(d["signature"]),
                    None if count is None else int(count),
                    None if erasure_head is None else str(erasure_head),
                )
            )
        except (ValueError, KeyError, TypeError):
            found.append(SignedCheckpoint(0, "", "", "", ""))
    return found
