"""``isp publish`` (CONTRACT §10): sign events with an organisation's key and publish them to Kafka.

``isp publish --topic TOPIC --key-file FILE EVENT.json`` reads one CloudEvent or a JSON list of them,
validates each as a consumer would (nothing is sent if any is invalid), signs each message value
with the private JWK in FILE (``isp directory add ORG --key-out FILE`` makes one) and publishes
them with ``acks=all``. It is ``isp events send --key-file`` under the contract's name: one code path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .cli_support import CliError
from .integrator_cli import checked_outgoing, read_events, send_to_kafka

publish_app = typer.Typer(help="Sign events with your organisation's key and publish them to Kafka.")


@publish_app.callback(invoke_without_command=True)
def publish(
    event_file: Annotated[Path, typer.Argument(help="A CloudEvent JSON file, a JSON list of them, or JSON lines.")],
    key_file: Annotated[Path, typer.Option(help="Your organisation's private signing key (a JWK).")],
    topic: Annotated[str | None, typer.Option(help="The topic (default: each event type's own topic).")] = None,
    bootstrap: Annotated[str, typer.Option(envvar="ISP_KAFKA_BOOTSTRAP", help="Kafka bootstrap servers.")] = (
        "127.0.0.1:9092"
    ),
) -> None:
    """Sign and publish one event, or a list of events (options first, then the file)."""
    try:
        candidates = read_events(event_file)
        if not candidates:
            raise CliError(f"{event_file} holds no events")
        send_to_kafka(checked_outgoing(candidates, topic), bootstrap, key_file)
    except CliError as exc:
        typer.echo(f"isp publish: {exc}; nothing more was published", err=True)
        raise typer.Exit(1) from None
