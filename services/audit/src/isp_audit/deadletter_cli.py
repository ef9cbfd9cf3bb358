"""``isp deadletter list|show|replay``: dead-letter repair on the running suite's audit API (role
``admin``). The token is ``--token`` (or ``ISP_TOKEN``), else one minted with the embedded key
for the partnership's administrator, as ``isp directory`` does."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from isp_common.auth import DEFAULT_KEY_DIR
from isp_common.cli_support import CliError, bearer, call, http_client

app = typer.Typer(help="Dead-lettered events: list, show and replay them (role admin).", no_args_is_help=True)

ADMIN_ORG = "PARTNERSHIP"

UrlOption = Annotated[str, typer.Option(envvar="ISP_AUDIT_URL", help="The audit API of the running suite.")]
TokenOption = Annotated[
    str | None,
    typer.Option(
        envvar="ISP_TOKEN", show_default=False, help="A bearer token with the role admin (default: one minted)."
    ),
]
KeyDirOption = Annotated[
    Path, typer.Option(envvar="ISP_KEY_DIR", help="Directory of the embedded signing key (for the default token).")
]
TopicOption = Annotated[str | None, typer.Option(help="Only those read from this source topic.")]
ReasonOption = Annotated[str | None, typer.Option(help="Only those whose reason contains this.")]
SinceOption = Annotated[datetime | None, typer.Option(help="Only those rejected at or after this time (UTC).")]
UntilOption = Annotated[datetime | None, typer.Option(help="Only those rejected before this time (UTC).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
DEFAULT_URL = "http://127.0.0.1:8004"


def _fail(message: str) -> NoReturn:
    typer.echo(f"isp deadletter: {message}", err=True)
    raise typer.Exit(1)


_client = http_client
"""The client every command talks through (tests put an in-process app behind it)."""

HINTS = {
    403: "the token may not do this (dead-letter repair needs the role admin)",
    404: "no rejection has that id",
}


def _call(url: str, token: str | None, key_dir: Path, method: str, path: str, **kwargs: Any) -> Any:
    """One request; any failure is said in one line and exits 1 (the shared CLI rules)."""
    try:
        client = _client(url, bearer(token, key_dir, ADMIN_ORG, ["admin"]))
        try:
            response = call(client, method, path, api="audit", hints=HINTS, accept=(200,), **kwargs)
        finally:
            client.close()
    except CliError as exc:
        _fail(str(exc))
    return response.json()


def _filters(topic: str | None, reason: str | None, since: datetime | None, until: datetime | None) -> dict[str, str]:
    given = {
        "topic": topic,
        "reason": reason,
        "since": since and since.isoformat(),
        "until": until and until.isoformat(),
    }
    return {name: value for name, value in given.items() if value}


def _line(item: dict[str, Any]) -> str:
    replayed = f"  replayed {item['replays']}x" if item.get("replays") else ""
    of = f"  (replay of {item['replay_of']})" if item.get("replay_of") else ""
    return (
        f"{item['id']}  {item['time']}  {item['topic']}  {item.get('org')}  {item.get('type') or '-'}  "
        f"{item.get('event_id') or '-'}  {item['reason']}{replayed}{of}"
    )


@app.command("list")
def list_command(
    topic: TopicOption = None,
    reason: ReasonOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many (oldest first).")] = 100,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
    key_dir: KeyDirOption = DEFAULT_KEY_DIR,
) -> None:
    """List rejected events (no payloads): id, time, topic, organisation, type, event id, reason."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = _filters(topic, reason, since, until)
    total = 0
    while len(items) < limit:
        page = _call(url, token, key_dir, "GET", "/v1/deadletters", params={**params, "limit": min(500, limit)})
        items += page["items"]
        total = page["total"]
        if not page["next"]:
            break
        params["after"] = page["next"]
    items = items[:limit]
    if as_json:
        typer.echo(json.dumps({"items": items, "total": total}, indent=2))
        return
    for item in items:
        typer.echo(_line(item))
    typer.echo(f"{len(items)} of {total} rejected events", err=True)


@app.command("show")
def show_command(
    rejection_id: Annotated[str, typer.Argument(help="The rejection's id (from `isp deadletter list`).")],
    payload: Annotated[bool, typer.Option(help="Also show the original message (personal data; recorded).")] = False,
    purpose: Annotated[str | None, typer.Option(help="Why you need the payload (recorded).")] = None,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
    key_dir: KeyDirOption = DEFAULT_KEY_DIR,
) -> None:
    """Show one rejected event as JSON; its payload only with --payload."""
    params = {"include": "payload", **({"purpose": purpose} if purpose else {})} if payload else {}
    detail = _call(url, token, key_dir, "GET", f"/v1/deadletters/{rejection_id}", params=params)
    typer.echo(json.dumps(detail, indent=2))


@app.command("replay")
def replay_command(
    rejection_id: Annotated[str | None, typer.Argument(help="One rejection's id; or select with the options.")] = None,
    topic: TopicOption = None,
    reason: ReasonOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many (oldest first).")] = 100,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
    key_dir: KeyDirOption = DEFAULT_KEY_DIR,
) -> None:
    """Publish rejected events again to their source topics once the cause is fixed: one by id, or
    every one not yet replayed that the options select. Each replay is recorded."""
    selection = _filters(topic, reason, since, until)
    if rejection_id and selection:
        raise typer.BadParameter("give an id or options that select, not both")
    if not rejection_id and not selection:
        raise typer.BadParameter("give an id, or at least one of --topic, --reason, --since, --until")
    body: dict[str, Any] = {"id": rejection_id} if rejection_id else {**selection, "limit": limit}
    result = _call(url, token, key_dir, "POST", "/v1/deadletters/replay", body=body)
    for replayed in result["replayed"]:
        typer.echo(replayed)
    typer.echo(f"replayed {result['count']} rejected events", err=True)
