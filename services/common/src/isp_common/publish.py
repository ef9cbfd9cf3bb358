"""``isp publish`` (CONTRACT §10): sign events with an organisation's key and publish them to Kafka.

``isp publish --topic TOPIC --key-file FILE EVENT.json`` reads one CloudEvent or a JSON list of them,
validates each as a consumer would (nothing is sent if any is invalid), signs each message value
with the private JWK in FILE (``isp directory add ORG --key-out FILE`` makes one) and publishes
them with ``acks=all``, printing each id once the broker has it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaProducer
from isp_schemas import topics
from isp_schemas.registry import InvalidEvent, parse_event, topic_of

from .provenance import SIGNATURE_HEADER, ProvenanceError, Signer

publish_app = typer.Typer(help="Sign events with your organisation's key and publish them to Kafka.")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def prepare(documents: list[Any], topic: str | None, signer: Signer) -> list[tuple[str, bytes, bytes, str]]:
    """Each event as (topic, key, value, signature); InvalidEvent naming the first bad one."""
    prepared = []
    for index, document in enumerate(documents):
        value = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            event_type = document.get("type") if isinstance(document, dict) else None
            target = topic or (topic_of(event_type) if isinstance(event_type, str) else "")
            event, _ = parse_event(value, topic=target or None)
        except InvalidEvent as exc:
            raise InvalidEvent(f"event {index}: {exc.reason}") from None
        prepared.append((target, topics.message_key(event).encode(), value, signer.sign(value)))
    return prepared


async def _send(bootstrap: str, prepared: list[tuple[str, bytes, bytes, str]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        for topic, key, value, signature in prepared:
            await producer.send_and_wait(topic, value, key=key, headers=[(SIGNATURE_HEADER, signature.encode())])
            typer.echo(json.loads(value)["id"])
    finally:
        await producer.stop()


@publish_app.callback(invoke_without_command=True)
def publish(
    event_file: Annotated[Path, typer.Argument(help="A CloudEvent JSON file, or a JSON list of them.")],
    key_file: Annotated[Path, typer.Option(help="Your organisation's private signing key (a JWK).")],
    topic: Annotated[str | None, typer.Option(help="The topic (default: each event type's own topic).")] = None,
    bootstrap: Annotated[str, typer.Option(envvar="ISP_KAFKA_BOOTSTRAP", help="Kafka bootstrap servers.")] = (
        "127.0.0.1:9092"
    ),
) -> None:
    """Sign and publish one event, or a JSON list of events (options first, then the file)."""
    try:
        signer = Signer.from_jwk(json.loads(key_file.read_text()))
        document = json.loads(event_file.read_text())
    except (OSError, ValueError, ProvenanceError) as exc:
        raise _fail(f"cannot read {type(exc).__name__}: {exc}") from None
    try:
        prepared = prepare(document if isinstance(document, list) else [document], topic, signer)
    except InvalidEvent as exc:
        raise _fail(f"{exc.reason}; nothing was published") from None
    try:
        asyncio.run(_send(bootstrap, prepared))
    except Exception as exc:
        raise _fail(f"could not publish to {bootstrap}: {type(exc).__name__}") from None
