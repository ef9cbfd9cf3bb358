"""What a partner may publish through the gateway (CONTRACT §10), decided from the request alone.

A request is one CloudEvent (``application/cloudevents+json``) or a batch
(``application/cloudevents-batch+json``, a JSON list of at most 500). Each event is validated
exactly as a consumer would validate it (:func:`isp_schemas.registry.parse_event` on its own
topic, with the limits of §11), must be of a type partners publish (a partner topic), must come
from the caller's organisation (``source``), and its organisation fields must name that
organisation. Every problem of every event is reported, by index and field, and then nothing
of the request is published: a batch is all or nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from isp_common.provenance import PARTNER_TOPICS, mismatched_fields
from isp_schemas import topics
from isp_schemas.registry import EVENT_TYPES, InvalidEvent, parse_event

SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
CONTENT_TYPES = (SINGLE, BATCH, "application/json")


@dataclass(frozen=True)
class Outgoing:
    """One validated event, ready to sign and publish."""

    topic: str
    key: str
    value: bytes
    event_id: str
    event_type: str


@dataclass(frozen=True)
class Refusal:
    """Why an event cannot be published: ``index`` in the request, the ``field`` at fault, the reason."""

    index: int
    field: str
    reason: str
    event_id: str | None = None

    def as_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"loc": ["body", self.index, *self.field.split(".")], "msg": self.reason}
        if self.event_id:
            error["event_id"] = self.event_id
        return error


class RequestRefused(Exception):
    """The request publishes nothing: ``status`` 415, 422 or 403, with every refusal."""

    def __init__(self, status: int, detail: str, refusals: list[Refusal] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.refusals = refusals or []


def _documents(body: bytes, content_type: str, max_batch: int) -> list[Any]:
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in CONTENT_TYPES:
        raise RequestRefused(415, f"send {SINGLE} (one event) or {BATCH} (a list of at most {max_batch})")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RequestRefused(422, "the body is not valid JSON", [Refusal(0, "body", "not valid JSON")]) from None
    if media == BATCH or (media == "application/json" and isinstance(document, list)):
        if not isinstance(document, list):
            raise RequestRefused(422, "a batch is a JSON list of CloudEvents", [Refusal(0, "body", "not a list")])
        if not document:
            raise RequestRefused(422, "the batch is empty", [Refusal(0, "body", "empty batch")])
        if len(document) > max_batch:
            raise RequestRefused(
                422,
                f"a batch holds at most {max_batch} events; this one has {len(document)}",
                [Refusal(max_batch, "body", f"more than {max_batch} events")],
            )
        return document
    return [document]


def _field_of(reason: str) -> str:
    """The field an InvalidEvent reason names first (``data.person.nhs_number: …``), else the event."""
    head = reason.split(":", 1)[0].strip()
    return head if head and " " not in head else "event"


def _check(index: int, document: Any, caller_org: str) -> Outgoing | Refusal:
    if not isinstance(document, dict):
        return Refusal(index, "event", "not a JSON object")
    event_type = document.get("type")
    model = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if model is None or model.topic not in PARTNER_TOPICS:
        return Refusal(index, "type", "not an event type partners publish (see /v1/events/types)")
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        event, _data = parse_event(raw, topic=model.topic)
    except InvalidEvent as exc:
        return Refusal(index, _field_of(exc.reason), exc.reason, exc.event_id)
    if event.source_org != caller_org:
        return Refusal(index, "source", "must be urn:isp:org:<your organisation> (the token's)", event.id)
    if mismatched := mismatched_fields(event.data, caller_org):
        return Refusal(index, f"data.{mismatched[0]}", "must name your organisation (the token's)", event.id)
    return Outgoing(
        topic=model.topic,
        key=topics.message_key(event),
        value=event.to_json_bytes(),
        event_id=event.id,
        event_type=event.type,
    )


def accept(body: bytes, content_type: str, caller_org: str, max_batch: int) -> list[Outgoing]:
    """The events of a request, validated; RequestRefused naming every problem if any is invalid."""
    checked = [
        _check(index, document, caller_org) for index, document in enumerate(_documents(body, content_type, max_batch))
    ]
    refusals = [item for item in checked if isinstance(item, Refusal)]
    if refusals:
        foreign = all(refusal.field == "source" for refusal in refusals)
        status, what = (403, "speaks for another organisation") if foreign else (422, "is not valid")
        raise RequestRefused(
            status, f"{len(refusals)} of {len(checked)} event(s) {what}; nothing was published", refusals
        )
    ids = [item.event_id for item in checked if isinstance(item, Outgoing)]
    if len(set(ids)) != len(ids):
        raise RequestRefused(422, "two events in the batch share an id", [Refusal(0, "id", "duplicate id in batch")])
    return [item for item in checked if isinstance(item, Outgoing)]


def partner_types() -> Mapping[str, str]:
    """Each event type partners publish, with its topic."""
    return {name: model.topic for name, model in sorted(EVENT_TYPES.items()) if model.topic in PARTNER_TOPICS}
