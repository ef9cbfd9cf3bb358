"""Ed25519 key pairs kept as PEM files (the JWT signing key, the audit checkpoint key).

Made on first use. Several services start at once and may race to make the same key, so a
file is written to a temporary name and hard-linked into place: whichever process wins,
every process reads the same finished key, never a half-written one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def ensure_ed25519_key(key_dir: Path | str, private_name: str, public_name: str) -> Ed25519PrivateKey:
    """The private key ``key_dir/private_name`` (mode 0600; made if missing), with its public half beside it."""
    key_dir = Path(key_dir)
    private_path = key_dir / private_name
    if not private_path.exists():
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        create_once(private_path, pem)
    key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{private_path} is not an Ed25519 private key")
    public_path = key_dir / public_name
    if not public_path.exists():
        create_once(public_path, public_pem(key.public_key()))
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def create_once(path: Path, content: bytes) -> None:
    """Write ``path`` (mode 0600) unless another process got there first."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
