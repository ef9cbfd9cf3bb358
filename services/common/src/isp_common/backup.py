"""``isp backup`` and ``isp restore``: the SQLite default's databases in one archive.

A backup copies each service's database under the var directory with SQLite's online backup API
(:meth:`sqlite3.Connection.backup`), so the services may keep running: each copy is one
consistent snapshot of its database (the four are taken one after the other, not at one instant;
the outbox and inbox make the services agree again once they run). The archive (tar.gz, mode
0600: it holds personal data) carries::

    manifest.json            when, from where, each database's alembic revision, size and sha256
    databases/<svc>.db       one self-contained file per service (journal mode DELETE)
    files/audit-checkpoints.jsonl   the signed checkpoints the audit chain is verified against
    keys/*.pub.pem           the public keys (the audit checkpoint key verifies the chain)
    keys/*.pem               the private keys too, only with --with-private-keys

A restore refuses while any service answers ``/readyz`` (unless ``--force``), checks every
file against the manifest, verifies the restored audit chain (with ``isp_audit``, imported only
then: isp-common does not depend on it) before anything is replaced, keeps the files it
replaces under ``<var>/pre-restore-<time>/``, and refuses a database newer than the code.
PostgreSQL is backed up with its own tools: see docs/operations.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from .launcher import SERVICES

FORMAT = 1
MANIFEST = "manifest.json"
CHECKPOINT_FILE = "audit-checkpoints.jsonl"
AUDIT_PUBLIC_KEY = "audit-checkpoint-key.pub.pem"
PUBLIC_KEY_SUFFIX = ".pub.pem"


class BackupError(RuntimeError):
    """A backup or restore that cannot go ahead; the message says why (and never holds data)."""


@dataclass(frozen=True)
class Verification:
    ok: bool
    message: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _revisions(db: Path) -> list[str]:
    """The alembic revision(s) a database is at (none if it was never migrated)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        try:
            return sorted(row[0] for row in conn.execute("SELECT version_num FROM alembic_version"))
        except sqlite3.OperationalError:
            return []


def _migration_scripts(service: str) -> Any:
    """The installed service's alembic script directory (None where the service is not installed)."""
    from . import migrations

    package = f"isp_{service}"
    if not migrations.has_migrations(package):
        return None
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrations.config(package))


def copy_database(source: Path, target: Path) -> None:
    """An online, consistent copy of a SQLite database into one self-contained file."""
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # no -wal file to carry along


def _key_files(key_dir: Path, private: bool) -> list[Path]:
    if not key_dir.is_dir():
        return []
    return sorted(p for p in key_dir.glob("*.pem") if private or p.name.endswith(PUBLIC_KEY_SUFFIX))


def _postgres_services(services: Iterable[str]) -> list[str]:
    return [
        s
        for s in services
        if os.environ.get(f"ISP_{s.upper()}_DATABASE_URL", "").startswith(("postgres", "postgresql"))
    ]


def backup(
    var_dir: Path, out: Path, *, private_keys: bool = False, services: Iterable[str] = SERVICES
) -> dict[str, Any]:
    """Write the archive ``out`` from the databases under ``var_dir``; give its manifest."""
    services = list(services)
    if on_postgres := _postgres_services(services):
        raise BackupError(f"{', '.join(on_postgres)} use PostgreSQL: back up with pg_dump (docs/operations.md)")
    found = [s for s in services if (var_dir / f"{s}.db").is_file()]
    if not found:
        raise BackupError(f"no service database under {var_dir} (expected {', '.join(f'{s}.db' for s in services)})")
    manifest: dict[str, Any] = {"format": FORMAT, "created_at": _now(), "var_dir": str(var_dir.resolve())}
    with tempfile.TemporaryDirectory(prefix="isp-backup-") as staging:
        root = Path(staging)
        (root / "databases").mkdir()
        databases = {}
        for service in found:
            copy = root / "databases" / f"{service}.db"
            copy_database(var_dir / f"{service}.db", copy)
            databases[service] = {
                "file": f"databases/{service}.db",
                "copied_at": _now(),
                "alembic_revisions": _revisions(copy),
                "bytes": copy.stat().st_size,
                "sha256": _sha256(copy),
            }
        manifest["databases"] = databases
        extras = (
            [(var_dir / CHECKPOINT_FILE, f"files/{CHECKPOINT_FILE}")] if (var_dir / CHECKPOINT_FILE).is_file() else []
        )
        extras += [(key, f"keys/{key.name}") for key in _key_files(var_dir / "keys", private_keys)]
        manifest["files"] = {name: {"sha256": _sha256(path)} for path, name in extras}
        _write_archive(out, root, manifest, extras)
    return manifest


def _write_archive(out: Path, root: Path, manifest: dict[str, Any], extras: list[tuple[Path, str]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        body = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode = len(body), 0o600
        tar.addfile(info, io.BytesIO(body))
        for entry in manifest["databases"].values():
            tar.add(root / entry["file"], arcname=entry["file"])
        for path, name in extras:
            tar.add(path, arcname=name)
    os.replace(partial, out)


# -- restore --------------------------------------------------------------------------------------


def running_services(timeout: float = 1.0) -> list[str]:
    """The services of this machine that answer ``/readyz`` on their configured ports."""
    running = []
    with httpx.Client(timeout=timeout) as client:
        for service, default in SERVICES.items():
            port = os.environ.get(f"ISP_{service.upper()}_PORT", str(default))
            with contextlib.suppress(httpx.HTTPError):
                client.get(f"http://127.0.0.1:{port}/readyz")
                running.append(service)
    return running


def _read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
    except KeyError:
        raise BackupError(f"not an isp backup: no {MANIFEST}") from None
    manifest: dict[str, Any] = json.loads(member.read()) if member else {}
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')!r} is not {FORMAT}")
    return manifest


def _plain_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Every member of a backup, each a regular file or a directory named by a relative path that
    stays inside the directory it is unpacked into; anything else (a link, a device, an absolute
    name, a ``..``) refuses the whole archive, whatever the Python (tarfile's ``data`` filter, which
    also refuses them, came with 3.11.4; distributions' 3.11 builds may predate it)."""
    members = tar.getmembers()
    for member in members:
        parts = Path(member.name).parts
        if not (member.isreg() or member.isdir()):
            raise BackupError(f"{member.name} is not a plain file or directory: not an isp backup")
        if not parts or Path(member.name).is_absolute() or ".." in parts:
            raise BackupError(f"{member.name} names a place outside the backup: not an isp backup")
    return members


def _extract(archive: Path, staging: Path) -> dict[str, Any]:
    """Unpack ``archive`` into ``staging`` and check every file against the manifest."""
    with tarfile.open(archive, "r:gz") as tar:
        manifest = _read_manifest(tar)
        members = _plain_members(tar)
        if hasattr(tarfile, "data_filter"):  # PEP 706 (Python 3.11.4 on): its checks too
            tar.extractall(staging, members, filter="data")
        else:
            tar.extractall(staging, members)
    expected = {e["file"]: e["sha256"] for e in manifest["databases"].values()}
    expected.update({name: e["sha256"] for name, e in manifest.get("files", {}).items()})
    for name, digest in expected.items():
        path = staging / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{name} is missing or differs from the manifest: the archive is damaged")
    for entry in manifest["databases"].values():
        with contextlib.closing(sqlite3.connect(staging / entry["file"])) as conn:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{entry['file']} fails SQLite's integrity check")
    return manifest


def _check_revisions(manifest: dict[str, Any]) -> None:
    """Refuse a database migrated past what the installed code knows (it cannot be downgraded)."""
    for service, entry in manifest["databases"].items():
        scripts = _migration_scripts(service)
        for revision in entry["alembic_revisions"] if scripts is not None else []:
            try:
                scripts.get_revision(revision)
            except Exception as exc:  # noqa: BLE001 - alembic raises several kinds for an unknown revision
                raise BackupError(
                    f"{service}.db is at revision {revision}, unknown to the installed code: upgrade the code first"
                ) from exc


def verify_audit_chain(database: Path, checkpoint_file: Path, public_key: Path) -> Verification:
    """Verify an audit database's hash chain against its signed checkpoints (needs isp_audit)."""
    try:
        checkpoints = importlib.import_module("isp_audit.checkpoints")
        audit_verify = importlib.import_module("isp_audit.verify")
    except ModuleNotFoundError:
        return Verification(False, "isp_audit is not installed: the audit chain cannot be verified here")
    from .db import make_engine

    engine = make_engine(f"sqlite:///{database}")
    try:
        trusted = checkpoints.load_public_key(public_key) if public_key.is_file() else None
        stored = audit_verify.merge(audit_verify.stored_checkpoints(engine), checkpoints.read_file(checkpoint_file))
        verdict = audit_verify.verify(engine, stored, trusted)
    finally:
        engine.dispose()
    if verdict.ok:
        return Verification(True, f"audit chain intact: {verdict.records} records, {verdict.checkpoints} checkpoints")
    return Verification(False, f"audit chain NOT intact from record {verdict.first_bad_seq}: {verdict.reason}")


def restore(
    archive: Path,
    var_dir: Path,
    *,
    force: bool = False,
    running: Callable[[], list[str]] = running_services,
) -> list[str]:
    """Put the archive's databases in ``var_dir``; give what was done, line by line.

    Nothing is replaced unless every check passes; what is replaced is kept aside, not deleted.
    """
    if not force and (up := running()):
        raise BackupError(f"{', '.join(up)} running: stop the suite first (or --force)")
    var_dir.mkdir(parents=True, exist_ok=True)
    done = []
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=var_dir) as staging_name:
        staging = Path(staging_name)
        manifest = _extract(archive, staging)
        _check_revisions(manifest)
        if "audit" in manifest["databases"]:
            key = staging / "keys" / AUDIT_PUBLIC_KEY
            verdict = verify_audit_chain(
                staging / manifest["databases"]["audit"]["file"],
                staging / "files" / CHECKPOINT_FILE,
                key if key.is_file() else var_dir / "keys" / AUDIT_PUBLIC_KEY,
            )
            if not verdict.ok:
                raise BackupError(f"{verdict.message}; nothing restored")
            done.append(verdict.message)
        done += _swap_in(manifest, staging, var_dir)
    return done


def _swap_in(manifest: dict[str, Any], staging: Path, var_dir: Path) -> list[str]:
    aside = var_dir / f"pre-restore-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    done = []

    def keep_aside(path: Path) -> None:
        if path.exists():
            aside.mkdir(exist_ok=True)
            shutil.move(path, aside / path.name)

    for service, entry in manifest["databases"].items():
        target = var_dir / f"{service}.db"
        for old in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
            keep_aside(old)
        os.replace(staging / entry["file"], target)
        done.append(f"restored {service}.db (revision {', '.join(entry['alembic_revisions']) or 'none'})")
    if (staging / "files" / CHECKPOINT_FILE).is_file():
        keep_aside(var_dir / CHECKPOINT_FILE)
        os.replace(staging / "files" / CHECKPOINT_FILE, var_dir / CHECKPOINT_FILE)
        done.append(f"restored {CHECKPOINT_FILE}")
    for key in sorted((staging / "keys").glob("*.pem")) if (staging / "keys").is_dir() else []:
        target = var_dir / "keys" / key.name
        if target.exists():
            if target.read_bytes() != key.read_bytes():
                done.append(f"kept the existing keys/{key.name} (the backup's differs)")
            continue
        target.parent.mkdir(mode=0o700, exist_ok=True)
        os.replace(key, target)
        done.append(f"restored keys/{key.name}")
    if aside.exists():
        done.append(f"the files replaced are in {aside}")
    return done


# -- the commands ---------------------------------------------------------------------------------

VarDirOption = Annotated[Path, typer.Option(envvar="ISP_VAR_DIR", help="The suite's var directory.")]

backup_app = typer.Typer(help="Back up the SQLite databases of every service (online).", add_completion=False)
restore_app = typer.Typer(
    help="Restore a backup made by `isp backup`.",
    add_completion=False,
    context_settings={"allow_interspersed_args": True},  # `isp restore FILE --force`, options after the file
)


@backup_app.callback(invoke_without_command=True)
def backup_command(
    out: Annotated[Path, typer.Option("--out", help="The archive to write (tar.gz).")],
    var_dir: VarDirOption = Path("var"),
    with_private_keys: Annotated[
        bool, typer.Option(help="Also copy the private signing keys (keep the archive as safe as var/keys).")
    ] = False,
) -> None:
    """Copy every service's database under the var directory into one archive, while they run."""
    try:
        manifest = backup(var_dir, out, private_keys=with_private_keys)
    except (BackupError, sqlite3.Error) as exc:
        typer.echo(f"isp backup: {exc}", err=True)
        raise typer.Exit(1) from None
    for service, entry in manifest["databases"].items():
        typer.echo(f"{service}.db: {entry['bytes']} bytes, revision {', '.join(entry['alembic_revisions']) or 'none'}")
    typer.echo(f"written {out} ({len(manifest['databases'])} databases, {len(manifest['files'])} other files)")


@restore_app.callback(invoke_without_command=True)
def restore_command(
    archive: Annotated[Path, typer.Argument(help="A backup made by `isp backup`.", exists=True, dir_okay=False)],
    var_dir: VarDirOption = Path("var"),
    force: Annotated[bool, typer.Option(help="Restore even while services answer /readyz.")] = False,
) -> None:
    """Restore the databases of a backup into the var directory, after verifying the audit chain."""
    try:
        done = restore(archive, var_dir, force=force)
    except (BackupError, sqlite3.Error, tarfile.TarError) as exc:
        typer.echo(f"isp restore: {exc}", err=True)
        raise typer.Exit(1) from None
    for line in done:
        typer.echo(line)
