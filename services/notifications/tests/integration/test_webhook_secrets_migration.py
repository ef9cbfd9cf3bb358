"""Migration f6b4d6f8c006 on SQLite and PostgreSQL: a subscription's secret stored in plain text
before it is sealed by it, with the key the service resolves (ISP_NOTIFICATIONS_WEBHOOK_SECRET_KEY);
the service then signs with the same secret; the downgrade opens it again."""

from __future__ import annotations

import pytest
from alembic import command
from cryptography.fernet import Fernet
from isp_common import migrations
from isp_common.db import make_engine
from isp_notifications.delivery.sealing import SecretBox
from sqlalchemy import text

BEFORE, SEALED = "f3a3c5e7b903", "f6b4d6f8c006"
PLAIN = "whsec_" + "A" * 43 + "="


@pytest.fixture
def url(sqlite_or_postgres_url: str) -> str:
    """A fresh database: a SQLite file, then the test PostgreSQL server (the shared fixture)."""
    return sqlite_or_postgres_url


def test_a_secret_stored_in_plain_text_is_sealed_by_the_migration_and_opened_by_its_downgrade(url, monkeypatch):
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("ISP_NOTIFICATIONS_WEBHOOK_SECRET_KEY", key)
    engine = make_engine(url)
    config = migrations.config("isp_notifications", engine)
    command.upgrade(config, BEFORE)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO notifications_subscription (id, org, url, types, secret, created_at, active, event_count) "
                "VALUES ('sub-1', 'WSCC-CSC', 'https://hooks.example.org/', '[\"*\"]', :secret, "
                "'2026-03-10 12:00:00', true, 0)"
            ),
            {"secret": PLAIN},
        )
    command.upgrade(config, SEALED)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM notifications_subscription")).mappings().one()
    assert PLAIN not in " ".join(str(v) for v in row.values())
    assert SecretBox([key]).open(row["secret_sealed"]) == PLAIN
    assert row["previous_secret_sealed"] is None and row["previous_secret_until"] is None
    command.downgrade(config, BEFORE)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT secret FROM notifications_subscription")).scalar_one() == PLAIN
    command.upgrade(config, "head")


def test_a_database_without_subscriptions_needs_no_key(tmp_path, monkeypatch):
    """An empty database (every new one) is migrated without looking for a key, so none is made."""
    monkeypatch.setenv("ISP_VAR_DIR", str(tmp_path))
    engine = make_engine(f"sqlite:///{tmp_path / 'notifications.db'}")
    command.upgrade(migrations.config("isp_notifications", engine), "head")
    assert not (tmp_path / "keys").exists()
