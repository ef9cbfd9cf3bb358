"""The ``isp`` command.

``isp token`` prints a bearer token signed with the embedded key (CONTRACT §2).

Other packages add their own command groups without isp-common depending on
them: a package declares a Typer app under the ``isp.cli`` entry-point group,
for example in services/audit/pyproject.toml::

    [project.entry-points."isp.cli"]
    audit = "isp_audit.cli:app"      # gives `isp audit ...`

:func:`main` loads those before running; :data:`app` itself holds only the
commands defined here, so importing this module builds nothing else.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer

from isp_common.auth import DEFAULT_KEY_DIR, ROLES, is_org_id, issue_token

PLUGIN_GROUP = "isp.cli"

app = typer.Typer(
    name="isp",
    help="Information-sharing partnership: tools for operators and integrators.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _isp() -> None:
    """Information-sharing partnership: tools for operators and integrators."""


def _check_org(org: str) -> str:
    if not is_org_id(org):
        raise typer.BadParameter(f"{org!r} is not an organisation id: 2-32 capitals, digits or '-', like CGL-WSX.")
    return org


def _check_roles(roles: list[str]) -> list[str]:
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise typer.BadParameter(f"unknown role {', '.join(map(repr, unknown))}; choose from {', '.join(ROLES)}.")
    return roles


@app.command()
def token(
    org: Annotated[str, typer.Option(help="The caller's organisation id.", callback=_check_org)],
    role: Annotated[
        list[str],
        typer.Option(help=f"A role ({', '.join(ROLES)}); repeat for more.", callback=_check_roles),
    ],
    sub: Annotated[str, typer.Option(help="Who the token is for.")] = "isp-cli",
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.", min=1)] = 8 * 3600,
    key_dir: Annotated[
        Path,
        typer.Option(envvar="ISP_KEY_DIR", help="Directory of the embedded signing key."),
    ] = DEFAULT_KEY_DIR,
) -> None:
    """Print a bearer token signed with the embedded key (made on first use)."""
    typer.echo(issue_token(key_dir, sub, org, role, ttl_seconds=ttl))


def add_plugin_commands(target: typer.Typer) -> None:
    """Add every command group registered under the ``isp.cli`` entry-point group.

    A plugin that fails to load is reported on stderr and left out, so a broken
    service package cannot take ``isp token`` down with it.
    """
    for entry_point in entry_points(group=PLUGIN_GROUP):
        try:
            plugin = entry_point.load()
        except Exception as exc:  # noqa: BLE001 - any import failure; reported, not fatal
            print(f"isp: cannot load '{entry_point.name}' commands: {exc}", file=sys.stderr)
            continue
        target.add_typer(plugin, name=entry_point.name)


def main() -> None:
    add_plugin_commands(app)
    app()
