"""The ``isp`` command: tools for operators and integrators, usable from any directory.

``isp token`` prints a bearer token signed with the suite's key (CONTRACT §2); ``isp directory
add|list`` manages the partnership directory (CONTRACT §9); ``isp events validate|send|rejections``,
``isp alerts tail`` and ``isp subscribe`` are an integrator's (:mod:`isp_common.integrator_cli`).
Where the suite's key, APIs and broker are found: :mod:`isp_common.cli_support`.

Errors are one line (``isp: ...``, exit status 1); ``isp --debug ...`` shows the traceback.

Other packages add their own command groups without isp-common depending on
them: a package declares a Typer app under the ``isp.cli`` entry-point group,
for example in services/audit/pyproject.toml::

    [project.entry-points."isp.cli"]
    audit = "isp_audit.cli:app"      # gives `isp audit ...`

:func:`main` loads those before running; :data:`app` itself holds only the
commands of this package, so importing this module builds nothing else.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextlib import closing
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from isp_schemas.directory import ORGANISATION_KINDS
from typer.core import TyperGroup
from typer.exceptions import TyperException

from isp_common import integrator_cli
from isp_common.auth import ROLES, is_org_id, issue_token
from isp_common.cli_support import CliError, bearer, call, fail, http_client, key_dir_or_found

PLUGIN_GROUP = "isp.cli"


class OneLineErrors(TyperGroup):
    """Every failure below ``isp`` said in one line, unless ``--debug`` asks for the traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):  # usage errors and exits: typer says them
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            message = str(exc) if isinstance(exc, CliError) else _unexpected(exc)
            typer.echo(f"isp: {message}", err=True)
            raise typer.Exit(1) from None


def _unexpected(exc: Exception) -> str:
    first_line = next(iter(str(exc).strip().splitlines()), "")
    return f"{type(exc).__name__}{': ' + first_line if first_line else ''} (isp --debug ... shows the traceback)"


app = typer.Typer(
    name="isp",
    cls=OneLineErrors,
    help="Information-sharing partnership: tools for operators and integrators. The suite's key, APIs and "
    "broker are found from ISP_* variables, else the repository at or above the current directory, else "
    "~/.config/isp/config.toml (key_dir, notifications_url, audit_url, gateway_url, kafka_bootstrap).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _isp(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar="ISP_DEBUG",
            help="Show a failure's traceback and the libraries' own log lines, not one line.",
        ),
    ] = False,
) -> None:
    """Information-sharing partnership: tools for operators and integrators."""
    if not debug and not logging.getLogger().handlers:
        # the libraries' own log lines (aiokafka's "Unable connect to ...") would otherwise come
        # before the one line that says what failed; --debug shows them with the traceback
        logging.getLogger().addHandler(logging.NullHandler())


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
        Path | None,
        typer.Option(
            envvar="ISP_KEY_DIR", show_default=False, help="Directory of the suite's signing key (default: found)."
        ),
    ] = None,
) -> None:
    """Print a bearer token signed with the suite's key (made on first use where the suite keeps it)."""
    typer.echo(issue_token(key_dir_or_found(key_dir), sub, org, role, ttl_seconds=ttl))


# -- isp directory ------------------------------------------------------------------------------

directory_app = typer.Typer(
    help="The partnership directory of the running suite (on the notifications API).", no_args_is_help=True
)
app.add_typer(directory_app, name="directory")

NO_CONTACT = "not recorded"
ADMIN_ORG = "PARTNERSHIP"

UrlOption = Annotated[
    str, typer.Option(envvar="ISP_NOTIFICATIONS_URL", help="The notifications API of the running suite.")
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        envvar="ISP_TOKEN",
        show_default=False,
        help="A bearer token (role admin to change the directory); default: one minted with the embedded key.",
    ),
]
KeyDirOption = Annotated[
    Path | None,
    typer.Option(
        envvar="ISP_KEY_DIR", show_default=False, help="Directory of the suite's signing key (for the default token)."
    ),
]


def _check_kind(kind: str) -> str:
    if kind not in ORGANISATION_KINDS:
        raise typer.BadParameter(f"unknown kind {kind!r}; choose from {', '.join(ORGANISATION_KINDS)}.")
    return kind


def _check_optional_org(org: str | None) -> str | None:
    return None if org is None else _check_org(org)


_http_client = http_client  # the directory commands' client (tests put an in-process app behind it)


def _token(token: str | None, key_dir: Path | None) -> str:
    return bearer(token, key_dir, ADMIN_ORG, ["admin"])


DIRECTORY_HINTS = {
    403: "the token may not do this (changing the directory needs the role admin)",
    422: "the entry is not valid",
}


def _call(client: httpx.Client, method: str, path: str, body: Any = None) -> httpx.Response:
    """One request to the directory; a failure is said plainly (no traceback). A 404 is returned."""
    return call(client, method, path, api="notifications", body=body, hints=DIRECTORY_HINTS, accept=(200, 404))


def _reserve_key_file(path: Path) -> int:
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{path} exists: not overwriting a key file")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")


def _new_signing_key(path: Path) -> dict[str, str]:
    """Make an Ed25519 key pair, write its private JWK to ``path`` (mode 0600, never over an
    existing file) and give the public JWK."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from isp_common.directory import private_jwk, public_jwk

    fd = _reserve_key_file(path)
    key = Ed25519PrivateKey.generate()
    with os.fdopen(fd, "w") as file:
        json.dump(private_jwk(key), file, indent=2)
        file.write("\n")
    return public_jwk(key.public_key())


@directory_app.command("add")
def directory_add(
    org: Annotated[str, typer.Argument(help="The organisation id, like CGL-WSX.", callback=_check_org)],
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(ORGANISATION_KINDS)}.", callback=_check_kind)],
    name: Annotated[str | None, typer.Option(help="Its name (default: kept, or the id).")] = None,
    dsl_contact: Annotated[
        str | None, typer.Option(help="How to reach its designated safeguarding lead (email or phone).")
    ] = None,
    out_of_hours: Annotated[
        str | None, typer.Option(help="The organisation id of its emergency duty team.", callback=_check_optional_org)
    ] = None,
    key_out: Annotated[
        Path | None,
        typer.Option(help="Make an Ed25519 signing key: the public key goes in the directory, the private JWK here."),
    ] = None,
    url: UrlOption = "http://127.0.0.1:8003",
    token: TokenOption = None,
    key_dir: KeyDirOption = None,
) -> None:
    """Add an organisation to the running suite's directory, or change it (what is not given is kept)."""
    with closing(_http_client(url, _token(token, key_dir))) as client:
        found = _call(client, "GET", f"/v1/directory/{org}")
        current: dict[str, Any] = found.json() if found.status_code == 200 else {"name": org, "keys": {"keys": []}}
        entry = {
            "id": org,
            "kind": kind,
            "name": name or current["name"],
            "dsl_contact": dsl_contact or current.get("dsl_contact") or NO_CONTACT,
            "out_of_hours": out_of_hours or current.get("out_of_hours"),
            "keys": current["keys"],
        }
        public = _new_signing_key(key_out) if key_out is not None else None
        if public is not None:
            entry["keys"] = {"keys": [*entry["keys"]["keys"], public]}
        try:
            saved = _call(client, "PUT", f"/v1/directory/{org}", entry).json()
        except BaseException:
            if key_out is not None:
                key_out.unlink(missing_ok=True)  # its public half never reached the directory
            raise
    typer.echo(f"{'changed' if found.status_code == 200 else 'added'} {org} ({saved['kind']})")
    if public is not None:
        typer.echo(f"signing key {public['kid']}: private JWK written to {key_out}")
    if saved["dsl_contact"] == NO_CONTACT:
        typer.echo("warning: no DSL contact recorded (--dsl-contact)", err=True)


@directory_app.command("list")
def directory_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print the entries as JSON.")] = False,
    url: UrlOption = "http://127.0.0.1:8003",
    token: TokenOption = None,
    key_dir: KeyDirOption = None,
) -> None:
    """List the organisations in the running suite's directory."""
    with closing(_http_client(url, _token(token, key_dir))) as client:
        items = _call(client, "GET", "/v1/directory").json()["items"]
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for org in items:
        keys = len(org["keys"]["keys"])
        line = f"{org['id']:<14} {org['kind']:<21} {org['name']}"
        extras = ([f"out of hours: {org['out_of_hours']}"] if org["out_of_hours"] else []) + (
            [f"{keys} key(s)"] if keys else []
        )
        typer.echo(line + (f"  [{'; '.join(extras)}]" if extras else ""))


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


integrator_cli.add_commands(app)


def main() -> None:
    add_plugin_commands(app)
    app()
