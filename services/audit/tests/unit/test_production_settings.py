"""Production refuses an audit checkpoint key that shares a directory with other keys, or that
other users can read."""

from __future__ import annotations

from isp_audit.settings import Settings

PRODUCTION = {
    "environment": "production",
    "partnership_key": "s" * 40,
    "jwt_jwks_url": "https://login.example.org/jwks",
    "jwt_issuer": "https://login.example.org",
    "jwt_audience": "isp",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_username": "svc",
    "kafka_sasl_password": "k" * 40,
    "database_url": "postgresql://isp_audit:pw@db/isp_audit",
    "migration_database_url": "postgresql://isp_audit_owner:pw@db/isp_audit",
}


def test_the_audit_checkpoint_key_is_kept_apart_and_private(tmp_path):
    base = PRODUCTION | {"var_dir": tmp_path}
    shared = Settings(**base)
    assert any("ISP_AUDIT_CHECKPOINT_KEY_DIR" in p for p in shared.production_problems())
    own = tmp_path / "checkpoint-key"
    own.mkdir(mode=0o700)
    assert Settings(**base, checkpoint_key_dir=own).production_problems() == []
    own.chmod(0o755)
    assert any("chmod go-rwx" in p for p in Settings(**base, checkpoint_key_dir=own).production_problems())
