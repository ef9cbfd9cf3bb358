"""Webhook signing secrets at rest: encrypted (Fernet: AES-128-CBC with HMAC-SHA256) with a key
from the settings (``ISP_NOTIFICATIONS_WEBHOOK_SECRET_KEY``), so a copy of the database, a
backup or a read-only SQL injection does not let anyone forge a partner's webhooks.

Several keys may be given: the first encrypts, every one decrypts, so the key is rotated by
putting a new one first (and dropping the old one once no row needs it). Production refuses to
start without a key (:meth:`isp_notifications.settings.Settings.production_problems`); the
embedded default makes one on first use in ``<keys>/webhook-secrets.key``, readable by its
owner only. The same resolution serves the service and the migration that encrypted the
secrets stored before there was a key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

if TYPE_CHECKING:
    from ..settings import Settings

KEY_FILE = "webhook-secrets.key"
PLAIN_PREFIX = "whsec_"
"""How a secret in plain text begins (Standard Webhooks); a sealed one never does."""


class SecretUnreadable(Exception):
    """A sealed secret none of the configured keys opens (a key was dropped too soon)."""


def split_keys(keys: str) -> list[str]:
    return [k for k in re.split(r"[\s,]+", keys.strip()) if k]


def key_problem(keys: str) -> str | None:
    """Why ``keys`` cannot encrypt webhook secrets (None when it can); never repeats a key."""
    parts = split_keys(keys)
    if not parts:
        return "must be set in production (webhook signing secrets are encrypted at rest with it)"
    for part in parts:
        try:
            Fernet(part)
        except ValueError:
            return "must be Fernet keys (32 url-safe base64-encoded bytes each; make one with Fernet.generate_key())"
    return None


class SecretBox:
    """Seals and opens webhook signing secrets."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable("a webhook secret is sealed with a key that is not configured") from None


def secret_box(keys: str, environment: str, key_dir: Path) -> SecretBox:
    """The box for the configured ``keys``, or, in the embedded default only, for the key kept in ``key_dir``."""
    parts = split_keys(keys)
    if parts:
        return SecretBox(parts)
    if environment == "production":
        raise RuntimeError("ISP_NOTIFICATIONS_WEBHOOK_SECRET_KEY must be set in production")
    return SecretBox([embedded_key(key_dir / KEY_FILE)])


def box_for(settings: Settings) -> SecretBox:
    return secret_box(settings.webhook_secret_key.get_secret_value(), settings.environment, settings.resolved_key_dir)


def embedded_key(path: Path) -> str:
    """The key in ``path``, made (owner-only) if there is none yet; a racing process's key wins."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
    return path.read_text().strip()
