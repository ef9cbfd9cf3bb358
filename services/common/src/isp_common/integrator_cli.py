"""An integrator's ``isp`` commands: check and send events, see your rejections, follow your alerts
and subscribe a webhook.

- ``isp events validate FILE``: each CloudEvent in FILE (one JSON object, a JSON list, or JSON
  lines) checked exactly as a consuming service checks it; every problem printed by field path.
- ``isp events send FILE``: the same check, then straight to Kafka on each type's topic, or with
  ``--gateway`` through the events gateway (``POST /v1/events``), which signs on your behalf.
- ``isp events rejections --org ORG``: your organisation's rejected events (the audit service's
  ``GET /v1/rejections``).
- ``isp alerts tail --org ORG``: your alerts as they arrive (``GET /v1/alerts?after=``).
- ``isp subscribe URL --types ... --org ORG``: a webhook subscription; its secret is shown once.

Nothing printed names a person: events are shown by id and type, alerts by id, type and sender.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from isp_schemas import topics
from isp_schemas.registry import InvalidEvent, parse_event, topic_of

from . import cli_support
from .cli_support import call, fail, find_suite

events_app = typer.Typer(
    help="CloudEvents: check them, send them, and see your organisation's rejected ones.", no_args_is_help=True
)
alerts_app = typer.Typer(help="Your organisation's alerts.", no_args_is_help=True)

OrgOption = Annotated[str, typer.Option(help="Your organisation id (the token is minted for it).")]
RoleOption = Annotated[str, typer.Option(help="The role of the minted token.")]
TokenOption = Annotated[
    str | None, typer.Option(envvar="ISP_TOKEN", show_default=False, help="A bearer token (default: one minted).")
]
KeyDirOption = Annotated[
    Path | None,
    typer.Option(envvar="ISP_KEY_DIR", show_default=False, help="The suite's signing key directory (default: found)."),
]
UrlOption = Annotated[str | None, typer.Option(show_default=False, help="The API's URL (default: found).")]
TopicOption = Annotated[
    str | None, typer.Option(help="The topic (default: each event type's own; needed for alerts).", show_default=False)
]


def add_commands(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")
    app.add_typer(alerts_app, name="alerts")
    app.command("subscribe")(subscribe)


def _client(api: str, url: str | None, token: str | None, key_dir: Path | None, org: str, role: str) -> Any:
    bearer = cli_support.bearer(token, key_dir, org, [role])
    return closing(cli_support.http_client(url or find_suite().url(api), bearer))


# -- reading events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One event as read from a file, and where it was."""

    where: str
    raw: bytes
    document: Any


def read_events(path: Path) -> list[Candidate]:
    """The events in ``path``: one JSON object, a JSON list of them, or one JSON value per line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        return list(_json_lines(path, text))
    if isinstance(whole, list):
        return [Candidate(f"{path}[{i}]", _encode(doc), doc) for i, doc in enumerate(whole)]
    return [Candidate(str(path), text.strip().encode(), whole)]


def _json_lines(path: Path, text: str) -> Iterator[Candidate]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                document = json.loads(line)
            except json.JSONDecodeError:
                document = None
            yield Candidate(f"{path}:{number}", line.strip().encode(), document)


def _encode(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _topic_for(candidate: Candidate, topic: str | None) -> str | None:
    """``topic``, else the event type's own (None when the type is unknown, or an alert's)."""
    if topic:
        return topic
    kind = candidate.document.get("type") if isinstance(candidate.document, dict) else None
    try:
        found = topic_of(kind) if isinstance(kind, str) else None
    except InvalidEvent:
        return None
    return found if found and topics.ALERTS_TEMPLATE.format(org="<ORG>") != found else None


def problems_of(candidate: Candidate, topic: str | None) -> list[str]:
    """What a consuming service would say is wrong with the event, one problem per item."""
    try:
        parse_event(candidate.raw, topic)
    except InvalidEvent as exc:
        label = f"event {exc.event_id or '?'} ({exc.event_type or 'no type'})"
        return [f"{candidate.where}: {label}: {part}" for part in exc.reason.split("; ")]
    return []


def _check_all(candidates: list[Candidate], topic: str | None) -> int:
    """Print every problem; the number of invalid events."""
    invalid = 0
    for candidate in candidates:
        problems = problems_of(candidate, _topic_for(candidate, topic))
        invalid += bool(problems)
        for problem in problems:
            typer.echo(problem)
    return invalid


@events_app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="A CloudEvent (JSON), a JSON list of them, or JSON lines.")],
    topic: TopicOption = None,
) -> None:
    """Check each event as a consuming service would; print every problem by field path. Exit 1 if any."""
    candidates = read_events(file)
    if not candidates:
        fail(f"{file} holds no events")
    invalid = _check_all(candidates, topic)
    if invalid:
        typer.echo(f"{invalid} of {len(candidates)} events invalid", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(candidates)} event{'s' if len(candidates) != 1 else ''} valid")


# -- sending --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: bytes
    value: bytes
    event_id: str
    event_type: str


def checked_outgoing(candidates: list[Candidate], topic: str | None) -> list[Outgoing]:
    if _check_all(candidates, topic):
        fail("nothing was sent: fix the events above")
    outgoing = []
    for candidate in candidates:
        target = _topic_for(candidate, topic)
        if target is None:
            fail(f"{candidate.where}: an alert goes to its recipient's topic: pass --topic isp.alerts.<ORG>.v1")
        event, _ = parse_event(candidate.raw, target)
        outgoing.append(Outgoing(target, topics.message_key(event).encode(), candidate.raw, event.id, event.type))
    return outgoing


async def produce(bootstrap: str, messages: list[Outgoing], headers: list[tuple[str, bytes]]) -> list[str]:
    """Publish each message with acks=all; where each landed (``topic[partition]@offset``)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=15000)
    try:
        await producer.start()  # stopped below even when it cannot start (no broker there)
        placed = []
        for message in messages:
            sent = await producer.send_and_wait(message.topic, message.value, key=message.key, headers=headers or None)
            placed.append(f"{sent.topic}[{sent.partition}]@{sent.offset}")
        return placed
    finally:
        await producer.stop()


def _signature_headers(key_file: Path | None, value: bytes) -> list[tuple[str, bytes]]:
    if key_file is None:
        return []
    from .provenance import SIGNATURE_HEADER, ProvenanceError, Signer

    try:
        signer = Signer.from_jwk(json.loads(key_file.read_text()))
    except (OSError, ValueError, ProvenanceError) as exc:
        fail(f"cannot use the key in {key_file}: {exc}")
    return [(SIGNATURE_HEADER, signer.sign(value).encode())]


def send_to_kafka(outgoing: list[Outgoing], bootstrap: str, key_file: Path | None) -> None:
    from aiokafka.errors import KafkaError

    for message in outgoing:
        try:
            [placed] = asyncio.run(produce(bootstrap, [message], _signature_headers(key_file, message.value)))
        except (KafkaError, OSError) as exc:
            fail(f"cannot publish to Kafka at {bootstrap} ({type(exc).__name__}): is the suite running? (--bootstrap)")
        typer.echo(f"sent {message.event_id} ({message.event_type}) to {placed}")


def _send_to_gateway(
    outgoing: list[Outgoing], org: str, url: str | None, token: str | None, key_dir: Path | None
) -> None:
    hints = {422: "the gateway refused the events", 403: "the token may not publish these events"}
    with _client("gateway", url, token, key_dir, org, "provider") as client:
        for start in range(0, len(outgoing), 500):
            batch = outgoing[start : start + 500]
            client.headers["Content-Type"] = "application/cloudevents-batch+json"
            body = [json.loads(message.value) for message in batch]
            accepted = call(client, "POST", "/v1/events", api="gateway", body=body, hints=hints, accept=(202,)).json()
            for message in batch:
                typer.echo(f"sent {message.event_id} ({message.event_type}) through the gateway, signed for {org}")
            if accepted.get("ids") != [m.event_id for m in batch]:
                fail("the gateway acknowledged other ids than those sent")


def _org_of(outgoing: list[Outgoing]) -> str:
    sources = {str(json.loads(m.value).get("source", "")) for m in outgoing}
    orgs = {s.removeprefix("urn:isp:org:") for s in sources if s.startswith("urn:isp:org:")}
    if len(orgs) != 1 or len(sources) != 1:
        fail("the events' sources name no one organisation: pass --org")
    return orgs.pop()


@events_app.command("send")
def send(
    file: Annotated[Path, typer.Argument(help="A CloudEvent (JSON), a JSON list of them, or JSON lines.")],
    topic: TopicOption = None,
    gateway: Annotated[
        bool, typer.Option("--gateway", help="Send through the events gateway (POST /v1/events), which signs them.")
    ] = False,
    key_file: Annotated[
        Path | None, typer.Option(help="To Kafka: sign each event with your organisation's private JWK.")
    ] = None,
    bootstrap: Annotated[
        str | None, typer.Option(show_default=False, help="Kafka bootstrap servers (default: found).")
    ] = None,
    org: Annotated[
        str | None, typer.Option(help="Through the gateway: your organisation (default: the source).")
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    key_dir: KeyDirOption = None,
) -> None:
    """Check the events, then publish them: straight to Kafka on each type's topic (default), or
    through the events gateway with --gateway. Nothing is sent if any event is invalid.

    Unsigned events are accepted only by the embedded suite, and only from an organisation with no
    key in the directory: sign with --key-file, or use --gateway."""
    candidates = read_events(file)
    if not candidates:
        fail(f"{file} holds no events")
    outgoing = checked_outgoing(candidates, topic)
    if gateway:
        _send_to_gateway(outgoing, org or _org_of(outgoing), url, token, key_dir)
    else:
        send_to_kafka(outgoing, bootstrap or find_suite().kafka_bootstrap, key_file)


# -- rejections -----------------------------------------------------------------------------------


def _pages(client: Any, path: str, api: str, params: dict[str, Any], limit: int) -> Iterator[dict[str, Any]]:
    """``{"items", "total", "next"}`` pages of ``path`` from ``params["after"]`` on, up to ``limit`` items."""
    shown = 0
    while shown < limit:
        hints = {404: f"the {api} API has no {path} (an older suite?)"}
        page = call(client, "GET", path, api=api, params={**params, "limit": min(100, limit - shown)}, hints=hints)
        body: dict[str, Any] = page.json()
        yield body
        shown += len(body["items"])
        if not body.get("next") or not body["items"]:
            return
        params = {**params, "after": body["next"]}


@events_app.command("rejections")
def rejections(
    org: OrgOption,
    after: Annotated[str | None, typer.Option(help="Start after this cursor (from a previous page).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most rejections to show.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print the items as JSON lines.")] = False,
    role: RoleOption = "provider",
    url: UrlOption = None,
    token: TokenOption = None,
    key_dir: KeyDirOption = None,
) -> None:
    """Your organisation's rejected events, oldest first: time, topic, type, event id and reason."""
    shown, total, following = 0, 0, None
    with _client("audit", url, token, key_dir, org, role) as client:
        for page in _pages(client, "/v1/rejections", "audit", {"after": after} if after else {}, limit):
            for item in page["items"]:
                typer.echo(json.dumps(item) if as_json else _rejection_line(item))
            shown, total, following = shown + len(page["items"]), page.get("total", 0), page.get("next")
    if not as_json:
        more = f"; more with --after {following}" if following and shown < total else ""
        typer.echo(f"{shown} of {total} rejections of {org}{more}", err=True)


def _rejection_line(item: dict[str, Any]) -> str:
    fields = (item.get("time"), item.get("topic"), item.get("type"), item.get("event_id"))
    return "  ".join(str(value or "-") for value in fields) + f"  {item.get('reason', '')}"


# -- alerts and subscriptions ---------------------------------------------------------------------


def _alert_line(item: dict[str, Any]) -> str:
    number = item.get("event_number")
    parts = [
        f"#{number}" if number is not None else "-",
        str(item.get("created_at")),
        str(item.get("type")),
        str(item.get("alert_id")),
        f"from {item.get('sender')}",
        str(item.get("status")),
    ]
    if item.get("deadline"):
        parts.append(f"deadline {item['deadline']}")
    return "  ".join(parts)


@alerts_app.command("tail")
def tail(
    org: OrgOption,
    after: Annotated[int, typer.Option(min=0, help="Start after this number of the subscription's count.")] = 0,
    subscription: Annotated[
        str | None, typer.Option(help="Which subscription's count to follow (needed if you have several).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Print what is there now, then stop.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between polls when nothing is new.")] = 2.0,
    role: RoleOption = "dsl",
    url: UrlOption = None,
    token: TokenOption = None,
    key_dir: KeyDirOption = None,
) -> None:
    """Follow your organisation's alerts as they arrive, one line each (Ctrl-C stops). With
    --subscription (or --after), by that subscription's event numbers, as a webhook receiver replays;
    else by the newest alerts, printing each once, oldest first."""
    with _client("notifications", url, token, key_dir, org, role) as client:
        try:
            if subscription or after:
                _tail_by_number(client, after, subscription, once, interval)
            else:
                _tail_newest(client, once, interval)
        except KeyboardInterrupt:
            return


def _tail_by_number(client: Any, after: int, subscription: str | None, once: bool, interval: float) -> None:
    cursor: int | str = after
    while True:
        params: dict[str, Any] = {"after": cursor, "limit": 100}
        if subscription:
            params["subscription_id"] = subscription
        page = call(client, "GET", "/v1/alerts", api="notifications", params=params).json()
        for item in page["items"]:
            typer.echo(_alert_line(item))
        cursor = _next_cursor(page, cursor)
        if page["items"] and page.get("next") is not None:
            continue  # more waiting: no pause
        if once:
            return
        time.sleep(interval)


def _tail_newest(client: Any, once: bool, interval: float) -> None:
    seen: set[str] = set()
    while True:
        page = call(client, "GET", "/v1/alerts", api="notifications", params={"limit": 100}).json()
        new = [item for item in page["items"] if item["alert_id"] not in seen]
        for item in reversed(new):  # the API answers newest first
            typer.echo(_alert_line(item))
            seen.add(item["alert_id"])
        if once:
            return
        time.sleep(interval)


def _next_cursor(page: dict[str, Any], cursor: int | str) -> int | str:
    """Where the next poll starts: the page's ``next``, else the last alert's number, else unchanged."""
    if page.get("next") is not None:
        return str(page["next"])
    numbers = [item["event_number"] for item in page["items"] if item.get("event_number") is not None]
    return max(numbers) if numbers else cursor


def subscribe(
    url_to_call: Annotated[str, typer.Argument(metavar="URL", help="Where to POST alerts (https in production).")],
    types: Annotated[
        list[str], typer.Option("--types", help="Alert types to receive (repeat, or comma-separated); * for all.")
    ],
    org: OrgOption,
    role: RoleOption = "dsl",
    url: UrlOption = None,
    token: TokenOption = None,
    key_dir: KeyDirOption = None,
) -> None:
    """Subscribe a webhook to your organisation's alerts; prints its id and, once only, its secret."""
    wanted = [t.strip() for entry in types for t in entry.split(",") if t.strip()]
    with _client("notifications", url, token, key_dir, org, role) as client:
        body = {"url": url_to_call, "types": wanted}
        hints = {422: "the subscription is not valid"}
        made = call(client, "POST", "/v1/subscriptions", api="notifications", body=body, hints=hints).json()
    typer.echo(f"subscription {made['id']} for {made['org']}: {', '.join(made['types'])} to {made['url']}")
    typer.echo(f"secret {made['secret']}")
    typer.echo("the secret is shown only now: keep it to verify each delivery's webhook-signature", err=True)
