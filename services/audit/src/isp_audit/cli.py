"""``isp audit``: verify the trail offline, from a database file or URL."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from isp_common.clock import SystemClock
from isp_common.db import create_schema, make_engine
from sqlmodel import Session

from . import checkpoints, guard, retention
from .domain.retention import PrematureErasure, check_before
from .settings import Settings
from .verify import merge, stored_checkpoints, verify

app = typer.Typer(help="The audit trail: verify its integrity offline.", no_args_is_help=True)

DatabaseOption = Annotated[str, typer.Option(help="sqlite:///path/to/audit.db or postgresql://...")]


def _url(database: str) -> str:
    return database if "://" in database else f"sqlite:///{database}"


def _existing(database: str) -> str:
    """The database's URL; a SQLite file that is not there is said in one line (never made empty)."""
    url = _url(database)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        path = Path(url.removeprefix("sqlite:///"))
        typer.echo(
            f"isp audit: no audit database at {path.resolve()}: run from the repository, or pass --database",
            err=True,
        )
        raise typer.Exit(1)
    return url


@app.command("verify")
def verify_command(
    database: DatabaseOption = "sqlite:///var/audit.db",
    checkpoint_file: Annotated[Path, typer.Option("--checkpoints", help="Checkpoint file (JSON lines).")] = Path(
        "var/audit-checkpoints.jsonl"
    ),
    public_key: Annotated[Path, typer.Option(help="The audit checkpoint public key (PEM) to trust.")] = Path(
        "var/keys/" + checkpoints.PUBLIC_KEY_FILE
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    min_retention_days: Annotated[
        int | None,
        typer.Option(help="The shortest retention an erasure may have applied (default ISP_AUDIT_RETENTION_DAYS)."),
    ] = None,
) -> None:
    """Recompute the hash chain and check it against the signed checkpoints. Exit 1 if it is not intact."""
    engine = make_engine(_existing(database))
    trusted = checkpoints.load_public_key(public_key) if public_key.exists() else None
    started = time.perf_counter()
    floor = min_retention_days if min_retention_days is not None else Settings().retention_days
    found = merge(stored_checkpoints(engine), checkpoints.read_file(checkpoint_file))
    verdict = verify(engine, found, trusted, min_retention_days=floor)
    took = time.perf_counter() - started
    if as_json:
        typer.echo(json.dumps({**verdict.as_dict(), "seconds": round(took, 3)}))
    elif verdict.ok:
        typer.echo(
            f"intact: {verdict.records} records, head {verdict.head}, "
            f"{verdict.checkpoints} checkpoints checked ({took:.2f}s)"
        )
    else:
        typer.echo(f"NOT intact from record {verdict.first_bad_seq}: {verdict.reason}", err=True)
    if trusted is None:
        typer.echo(f"warning: no public key at {public_key}: checkpoints cannot be trusted", err=True)
    raise typer.Exit(0 if verdict.ok else 1)


@app.command("erase")
def erase_command(
    before: Annotated[datetime, typer.Option(help="Erase personal fields of records shared before this time.")],
    database: DatabaseOption = "sqlite:///var/audit.db",
    by: Annotated[str, typer.Option(help="Who authorised it (recorded).")] = "isp-cli",
    retention_days: Annotated[
        int | None,
        typer.Option(help="The retention period applied (default and minimum: ISP_AUDIT_RETENTION_DAYS)."),
    ] = None,
) -> None:
    """Erase personal fields of records shared before a time past the retention period; the erasure
    is recorded and chained. Exit 2 if ``--before`` is within the retention period."""
    configured = Settings().retention_days
    days = configured if retention_days is None else retention_days
    moment = before if before.tzinfo else before.replace(tzinfo=UTC)
    try:
        if days < configured:
            raise PrematureErasure(f"refused: --retention-days {days} is below the configured {configured} days")
        check_before(moment, SystemClock().now(), days)
    except PrematureErasure as exc:
        typer.echo(f"isp audit erase: {exc}", err=True)
        raise typer.Exit(2) from None
    engine = make_engine(_url(database))
    create_schema(engine)
    guard.protect(engine)
    with Session(engine, expire_on_commit=False) as session:
        erasure = retention.erase_before(session, moment, by, SystemClock().now(), days)
        session.commit()
    typer.echo(f"erased {erasure.records if erasure else 0} records")
