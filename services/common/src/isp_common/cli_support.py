"""What every ``isp`` command shares: finding the suite's settings, one-line failures, tokens and
the HTTP calls to the running suite.

The suite's settings are looked for in this order, and the first place that has them wins:

1. the environment: ``ISP_KEY_DIR`` (or ``ISP_VAR_DIR``, whose ``keys/`` it is),
   ``ISP_NOTIFICATIONS_URL``, ``ISP_AUDIT_URL``, ``ISP_KAFKA_BOOTSTRAP``;
2. the repository: walking up from the current directory to the first directory holding the suite
   (``services/common/pyproject.toml``), whose ``var/keys`` ``make run`` uses;
3. the user's config file: ``$ISP_CONFIG``, else ``$XDG_CONFIG_HOME/isp/config.toml`` (default
   ``~/.config/isp/config.toml``), a TOML table with any of ``key_dir``, ``notifications_url``,
   ``audit_url``, ``kafka_bootstrap``.

URLs and the broker fall back to the embedded suite's (127.0.0.1). A signing key is never made
anywhere but where the suite looks for it: with none of the three, a command that needs one says
where it looked, in one line, and stops.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx

from .auth import PRIVATE_KEY_FILE, issue_token

DEFAULT_URLS = {
    "referrals": "http://127.0.0.1:8001",
    "register": "http://127.0.0.1:8002",
    "notifications": "http://127.0.0.1:8003",
    "audit": "http://127.0.0.1:8004",
    "gateway": "http://127.0.0.1:8005",
}
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
REPOSITORY_MARKER = Path("services/common/pyproject.toml")


class CliError(Exception):
    """A failure said in one line (``isp: <message>``), exit status 1."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


def config_file(environ: Mapping[str, str]) -> Path:
    if environ.get("ISP_CONFIG"):
        return Path(environ["ISP_CONFIG"]).expanduser()
    base = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "isp" / "config.toml"


def repository_of(start: Path) -> Path | None:
    """The first directory from ``start`` upwards that holds the suite's repository."""
    for directory in (start, *start.parents):
        if (directory / REPOSITORY_MARKER).is_file():
            return directory
    return None


@dataclass(frozen=True)
class SuiteSettings:
    """Where the running suite is, as found (see the module docstring)."""

    key_dir: Path | None
    """The embedded signing key's directory; None when no place named one."""
    looked: str
    """Where the key directory was looked for, in order (for the one-line failure)."""
    config: dict[str, Any]
    environ: Mapping[str, str]

    def url(self, api: str) -> str:
        return str(self.environ.get(f"ISP_{api.upper()}_URL") or self.config.get(f"{api}_url") or DEFAULT_URLS[api])

    @property
    def kafka_bootstrap(self) -> str:
        return str(self.environ.get("ISP_KAFKA_BOOTSTRAP") or self.config.get("kafka_bootstrap") or DEFAULT_BOOTSTRAP)

    def require_key_dir(self) -> Path:
        if self.key_dir is None:
            fail(f"cannot find the suite's signing key: looked in {self.looked}; pass --token (or --key-dir)")
        return self.key_dir


def find_suite(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> SuiteSettings:
    env = os.environ if environ is None else environ
    here = (cwd or Path.cwd()).resolve()
    config_path = config_file(env)
    config = _read_config(config_path)
    repository = repository_of(here)
    looked = (
        f"$ISP_KEY_DIR and $ISP_VAR_DIR (unset), a repository at or above {here} (none), "
        f"{config_path} ({'no key_dir' if config_path.is_file() else 'absent'})"
    )
    key_dir: Path | None = None
    if env.get("ISP_KEY_DIR"):
        key_dir = Path(env["ISP_KEY_DIR"])
    elif env.get("ISP_VAR_DIR"):
        key_dir = Path(env["ISP_VAR_DIR"]) / "keys"
    elif repository is not None:
        key_dir = repository / "var" / "keys"
    elif config.get("key_dir"):
        key_dir = Path(str(config["key_dir"])).expanduser()
    return SuiteSettings(key_dir=key_dir, looked=looked, config=config, environ=env)


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")


# -- tokens and HTTP -----------------------------------------------------------------------------


def key_dir_or_found(key_dir: Path | None) -> Path:
    """``--key-dir`` if given, else the suite's (see :func:`find_suite`)."""
    return key_dir if key_dir is not None else find_suite().require_key_dir()


def bearer(token: str | None, key_dir: Path | None, org: str, roles: list[str]) -> str:
    """``token`` if given, else one minted for ``org`` with the suite's existing signing key."""
    if token:
        return token
    found = key_dir_or_found(key_dir)
    if not (found / PRIVATE_KEY_FILE).is_file():
        fail(f"no embedded signing key in {found}: pass --token or set ISP_TOKEN (or ISP_KEY_DIR)")
    return issue_token(found, "isp-cli", org, roles, ttl_seconds=300)


def http_client(url: str, token: str) -> httpx.Client:
    """The client every command talks through (tests put an in-process app behind it)."""
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0)


def problem_text(response: httpx.Response) -> str:
    """A problem+json body in one line: each invalid field with its message, else its detail."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg', '')}" for e in errors)
    return str(body.get("detail") or body.get("title") or "") if isinstance(body, dict) else ""


STATUS_HINTS: dict[int, str] = {
    401: "the token was not accepted (expired, or signed with another key)",
    403: "the token may not do this",
    422: "the request is not valid",
}


def call(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    api: str,
    body: Any = None,
    params: Mapping[str, Any] | None = None,
    hints: Mapping[int, str] | None = None,
    accept: tuple[int, ...] = (200, 201),
) -> httpx.Response:
    """One request to the running suite; any status outside ``accept`` is said in one line."""
    try:
        response = client.request(method, path, json=body, params=params)
    except httpx.TransportError:
        fail(f"cannot reach the {api} API at {client.base_url}: is the suite running? (--url)")
    if response.status_code in accept:
        return response
    reason = {**STATUS_HINTS, **(hints or {})}.get(
        response.status_code, f"the {api} API answered {response.status_code}"
    )
    detail = problem_text(response)
    fail(f"{reason}{': ' + detail if detail else ''}")
