"""``isp backup`` / ``isp restore``: a suite's databases, copied while open, restored elsewhere with
the audit chain verified; a tampered chain, a damaged archive or a running suite refuse the restore."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import tarfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import typer
from isp_audit import checkpoints
from isp_audit.handlers import append_disclosure
from isp_audit.verify import verify
from isp_common import backup, migrations
from isp_common.cli import add_plugin_commands
from isp_common.db import UnitOfWork
from isp_common.launcher import SERVICES, free_port
from isp_common.testing import migrated_engine, unique
from isp_schemas.audit import DisclosureRecorded
from isp_schemas.examples import EXAMPLES
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

RECORDS = 5
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def nothing_running() -> list[str]:
    return []


def _audit_records(engine: Engine, n: int) -> None:
    with UnitOfWork(engine) as uow:
        for i in range(n):
            data = {**EXAMPLES[DisclosureRecorded.event_type], "alert_id": unique("alert-")}
            append_disclosure(uow, DisclosureRecorded.model_validate(data), now=START + timedelta(minutes=i))
        uow.commit()


@pytest.fixture
def var_dir(tmp_path: Path) -> Iterator[Path]:
    """A suite's var directory: the four migrated databases (left open, as a running suite holds
    them), an audit chain of five records, its signed checkpoint, and the keys."""
    var = tmp_path / "var"
    engines = {name: migrated_engine(f"isp_{name}", f"sqlite:///{var / name}.db") for name in SERVICES}
    _audit_records(engines["audit"], RECORDS)
    key = checkpoints.ensure_signing_key(var / "keys")
    head = verify(engines["audit"], [], None).head
    checkpoints.append_to_file(var / backup.CHECKPOINT_FILE, checkpoints.sign(key, RECORDS, head, START.isoformat()))
    yield var
    for engine in engines.values():
        engine.dispose()


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def test_a_backup_restored_into_a_new_directory_passes_the_audit_verification(var_dir, tmp_path):
    archive = tmp_path / "backups" / "suite.tar.gz"
    manifest = backup.backup(var_dir, archive)
    assert archive.stat().st_mode & 0o777 == 0o600  # it holds personal data
    assert set(manifest["databases"]) == set(SERVICES)
    for name, entry in manifest["databases"].items():
        assert entry["alembic_revisions"], name
        assert entry["alembic_revisions"] == sorted(migrations.heads(f"isp_{name}"))
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert "keys/audit-checkpoint-key.pub.pem" in names and "keys/audit-checkpoint-key.pem" not in names

    target = tmp_path / "restored"
    done = backup.restore(archive, target, running=nothing_running)
    assert done[0] == f"audit chain intact: {RECORDS} records, 1 checkpoints"
    assert _rows(target / "audit.db", "SELECT count(*) FROM audit_disclosure") == [(RECORDS,)]
    assert (target / backup.CHECKPOINT_FILE).read_text() == (var_dir / backup.CHECKPOINT_FILE).read_text()
    assert not list(target.glob(".restore-*"))  # the staging directory is gone


def test_a_tampered_audit_chain_is_refused_and_nothing_is_restored(var_dir, tmp_path):
    with contextlib.closing(sqlite3.connect(var_dir / "audit.db")) as conn:
        conn.execute("DROP TRIGGER IF EXISTS audit_disclosure_no_delete")
        conn.execute("DROP TRIGGER IF EXISTS audit_disclosure_erase_only")
        conn.execute("UPDATE audit_disclosure SET recipient = 'EVIL-ORG' WHERE seq = 3")
        conn.commit()
    archive = tmp_path / "suite.tar.gz"
    backup.backup(var_dir, archive)
    target = tmp_path / "restored"
    with pytest.raises(backup.BackupError, match="audit chain NOT intact from record 3.*nothing restored"):
        backup.restore(archive, target, running=nothing_running)
    assert not list(target.iterdir())


def test_a_damaged_archive_is_refused(var_dir, tmp_path):
    archive = tmp_path / "suite.tar.gz"
    backup.backup(var_dir, archive)
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(damaged, "w:gz") as tar:
        for member in source.getmembers():
            body = source.extractfile(member)
            assert body is not None
            data = body.read()
            if member.name == "databases/register.db":
                data = data[:-1] + bytes([data[-1] ^ 1])
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    with pytest.raises(backup.BackupError, match="databases/register.db .* differs from the manifest"):
        backup.restore(damaged, tmp_path / "restored", running=nothing_running)


def _with_extra_member(archive: Path, out: Path, extra: tarfile.TarInfo, body: bytes = b"") -> Path:
    """``archive`` again with ``extra`` added after its own members."""
    with tarfile.open(archive) as source, tarfile.open(out, "w:gz") as tar:
        for member in source.getmembers():
            tar.addfile(member, source.extractfile(member))
        extra.size = len(body) if extra.isreg() else 0
        tar.addfile(extra, io.BytesIO(body) if extra.isreg() else None)
    return out


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (_link("databases/escape", "/etc/passwd"), "is not a plain file or directory"),
        (_link("databases/hard", "/etc/passwd", tarfile.LNKTYPE), "is not a plain file or directory"),
        (tarfile.TarInfo("../outside.txt"), "names a place outside the backup"),
        (tarfile.TarInfo("/tmp/absolute.txt"), "names a place outside the backup"),
        (tarfile.TarInfo("databases/../../up.txt"), "names a place outside the backup"),
    ],
    ids=["symlink", "hard link", "parent", "absolute", "climbing"],
)
def test_an_archive_with_anything_but_plain_files_inside_it_is_refused_and_nothing_written(
    var_dir, tmp_path, extra, why
):
    """Whatever the Python: tarfile's own ``data`` filter came with 3.11.4, and the member check
    does not depend on it."""
    archive = tmp_path / "suite.tar.gz"
    backup.backup(var_dir, archive)
    crafted = _with_extra_member(archive, tmp_path / "crafted.tar.gz", extra, b"x")
    target = tmp_path / "restored"
    with pytest.raises(backup.BackupError, match=why):
        backup.restore(crafted, target, running=nothing_running)
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "up.txt").exists()
    assert not (target / "databases").exists()


def test_restoring_over_a_suite_keeps_the_files_it_replaces(var_dir, tmp_path):
    archive = tmp_path / "suite.tar.gz"
    backup.backup(var_dir, archive)
    _audit_records(migrated_engine("isp_audit", f"sqlite:///{var_dir / 'audit.db'}"), 2)  # written after the backup
    done = backup.restore(archive, var_dir, running=nothing_running)
    [aside] = var_dir.glob("pre-restore-*")
    assert done[-1] == f"the files replaced are in {aside}"
    assert _rows(var_dir / "audit.db", "SELECT count(*) FROM audit_disclosure") == [(RECORDS,)]
    assert _rows(aside / "audit.db", "SELECT count(*) FROM audit_disclosure") == [(RECORDS + 2,)]


def test_a_database_newer_than_the_code_is_refused(var_dir, tmp_path):
    with contextlib.closing(sqlite3.connect(var_dir / "register.db")) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
        conn.commit()
    archive = tmp_path / "suite.tar.gz"
    backup.backup(var_dir, archive)
    with pytest.raises(backup.BackupError, match="register.db is at revision f00dfeedbeef, unknown"):
        backup.restore(archive, tmp_path / "restored", running=nothing_running)


def test_postgresql_services_are_pointed_to_their_own_tools(var_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ISP_AUDIT_DATABASE_URL", "postgresql://isp@db/isp_audit")
    with pytest.raises(backup.BackupError, match="audit use PostgreSQL: back up with pg_dump"):
        backup.backup(var_dir, tmp_path / "suite.tar.gz")


@pytest.fixture
def ready_audit_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Something answering /readyz on the audit port; nothing on the other services' ports."""

    class Ready(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name in SERVICES:
        monkeypatch.setenv(
            f"ISP_{name.upper()}_PORT", str(server.server_address[1] if name == "audit" else free_port())
        )
    yield
    server.shutdown()
    server.server_close()


def test_the_commands_back_up_and_refuse_to_restore_under_a_running_suite_unless_forced(
    var_dir, tmp_path, ready_audit_service
):
    isp = typer.Typer()
    add_plugin_commands(isp)
    runner = CliRunner()
    archive = tmp_path / "suite.tar.gz"
    made = runner.invoke(isp, ["backup", "--out", str(archive), "--var-dir", str(var_dir)])
    assert made.exit_code == 0, made.output
    assert f"written {archive} ({len(SERVICES)} databases, 2 other files)" in made.output  # the gateway's too
    target = tmp_path / "restored"
    refused = runner.invoke(isp, ["restore", str(archive), "--var-dir", str(target)])
    assert refused.exit_code == 1
    assert "isp restore: audit running: stop the suite first (or --force)" in refused.output
    assert not target.exists()
    forced = runner.invoke(isp, ["restore", str(archive), "--var-dir", str(target), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "audit chain intact: 5 records, 1 checkpoints" in forced.output
    assert json.loads((target / backup.CHECKPOINT_FILE).read_text().splitlines()[0])["size"] == RECORDS
