"""Event type -> data model, and the one place raw messages become typed events.

When a ``.v2`` of a type arrives, register it here alongside ``.v1`` (and an upcaster if
consumers should see one model).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from . import alerts, audit, consent, directory, referrals, register, socialcare, topics, treatment
from .envelope import CloudEvent, EventData


class InvalidEvent(ValueError):
    """A message that cannot be processed; ``str()`` is a one-sentence reason, free of PII."""

    def __init__(self, reason: str, event_id: str | None = None, event_type: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.event_id = event_id
        self.event_type = event_type

    def __str__(self) -> str:
        return self.reason


_MODELS: tuple[type[EventData], ...] = (
    *treatment.EVENTS,
    *socialcare.EVENTS,
    *consent.EVENTS,
    *referrals.EVENTS,
    *register.EVENTS,
    *alerts.EVENTS,
    *audit.EVENTS,
    *directory.EVENTS,
)

EVENT_TYPES: dict[str, type[EventData]] = {m.event_type: m for m in _MODELS}
if len(EVENT_TYPES) != len(_MODELS):  # pragma: no cover - a programming error
    raise RuntimeError("two models declare the same event_type")


def model_for(event_type: str) -> type[EventData]:
    """The data model of ``event_type``; raises InvalidEvent when it is unknown."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise InvalidEvent(f"unknown event type {event_type!r}", event_type=event_type) from None


def topic_accepts(topic: str, event_type: str) -> bool:
    """True when ``event_type`` belongs on ``topic``."""
    model = EVENT_TYPES.get(event_type)
    if model is None:
        return False
    if model.topic == topics.ALERTS_TEMPLATE:
        return topics.is_alerts_topic(topic)
    return model.topic == topic


def topic_of(event_type: str) -> str:
    """Where ``event_type`` belongs: its topic, or ``isp.alerts.<ORG>.v1`` for an alert (the
    recipient's own alerts topic); raises InvalidEvent when the type is unknown."""
    topic = model_for(event_type).topic
    return topics.ALERTS_TEMPLATE.format(org="<ORG>") if topic == topics.ALERTS_TEMPLATE else topic


MAX_MESSAGE_BYTES = 256 * 1024
"""The largest Kafka message an event may be (CONTRACT §11)."""
MAX_STRING_CHARS = 20_000
MAX_LIST_ITEMS = 1_000
SMALLEST_OVERSIZED = min(MAX_STRING_CHARS + 2, 2 * MAX_LIST_ITEMS + 1)
"""A message no longer than this cannot hold what :func:`oversized` looks for (a list of 1,001 items
takes at least 2,003 bytes, ``[0,0,…]``; a string of 20,001 characters at least 20,003), so it is
not walked: most events are about 1 KiB."""


def oversized(value: Any, path: str) -> str | None:
    """Where ``value`` breaks CONTRACT §11 (a string over 20,000 characters or a list over 1,000
    items), named by its path and size, never its content; None when it does not."""
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            return f"{path}: a string of {len(value):,} characters; the limit is {MAX_STRING_CHARS:,}"
        return None
    if isinstance(value, list):
        if len(value) > MAX_LIST_ITEMS:
            return f"{path}: a list of {len(value):,} items; the limit is {MAX_LIST_ITEMS:,}"
        return next((r for i, v in enumerate(value) if (r := oversized(v, f"{path}[{i}]")) is not None), None)
    if isinstance(value, dict):
        return next((r for k, v in value.items() if (r := oversized(v, f"{path}.{k}")) is not None), None)
    return None


def decode_event(raw: bytes) -> dict[str, Any]:
    """A message's JSON object, not yet validated: the first step of :func:`parse_event`, which a
    consumer takes on its own to see an event's ``type`` (and data) before paying for validating
    an event it would skip (:class:`isp_common.consumer.EventProcessor`). Raises InvalidEvent for a
    message over the size limit, that is not JSON, or whose JSON is not an object."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidEvent(f"message is {len(raw):,} bytes; the limit is {MAX_MESSAGE_BYTES:,} (CONTRACT §11)")
    try:
        # orjson: a third of json.loads' time (the largest part of parsing an audit record); stricter
        # than json.loads about NaN, Infinity and lone surrogates, which are not JSON; an integer over
        # 64 bits becomes a float, and no partner's event has an integer field
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"message is not valid JSON: {_json_reason(exc, raw)}") from None
    if not isinstance(document, dict):
        raise InvalidEvent(f"not a CloudEvent: a JSON {_json_kind(document)}, not an object")
    return document


def parse_event(
    raw: bytes, topic: str | None = None, document: dict[str, Any] | None = None
) -> tuple[CloudEvent, BaseModel]:
    """Decode a structured-mode CloudEvent and validate its data against its type's model.

    With ``topic``, an event type that does not belong on that topic is also invalid.
    ``document`` is what :func:`decode_event` made of ``raw`` already, if the caller has it.
    Raises InvalidEvent, whose message names what was wrong (never the offending values).
    """
    if document is None:
        document = decode_event(raw)
    too_big = oversized(document.get("data"), "data") if len(raw) > SMALLEST_OVERSIZED else None
    if too_big is not None:
        raise InvalidEvent(
            too_big, event_id=_str_or_none(document.get("id")), event_type=_str_or_none(document.get("type"))
        )
    try:
        event = CloudEvent.model_validate(document)
    except ValidationError as exc:
        raise InvalidEvent(
            _envelope_reason(exc),
            event_id=_str_or_none(document.get("id")),
            event_type=_str_or_none(document.get("type")),
        ) from None
    model = EVENT_TYPES.get(event.type)
    if model is None:
        raise InvalidEvent(f"unknown event type {event.type!r}", event_id=event.id, event_type=event.type)
    if topic is not None and not topic_accepts(topic, event.type):
        raise InvalidEvent(
            f"event type {event.type!r} does not belong on topic {topic!r}; it belongs on {topic_of(event.type)!r}",
            event_id=event.id,
            event_type=event.type,
        )
    try:
        data = model.model_validate(event.data)
    except ValidationError as exc:
        raise InvalidEvent(
            describe_errors(exc, prefix="data"),
            event_id=event.id,
            event_type=event.type,
        ) from None
    return event, data


def describe_errors(exc: ValidationError, prefix: str = "") -> str:
    """``loc: message`` for each error, joined with '; ' (pydantic's input values left out; an
    unknown field is named by its path, never its value)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = _location(error["loc"], prefix)
        message = _UNKNOWN_FIELD if error["type"] == "extra_forbidden" else error["msg"]
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


_UNKNOWN_FIELD = "unknown field (not in the schema)"


def _location(loc: tuple[Any, ...], prefix: str) -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _envelope_reason(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    missing = [str(e["loc"][0]) for e in errors if e["type"] == "missing" and e["loc"]]
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        noun = "attribute" if len(missing) == 1 else "attributes"
        return f"not a CloudEvent: missing {noun} {names}"
    return f"not a CloudEvent: {describe_errors(exc)}"


def _json_reason(exc: json.JSONDecodeError, raw: bytes) -> str:
    """Why ``raw`` is not JSON: not UTF-8 (decided by decoding it, not by the parser's wording), or
    where the parser stopped."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    return f"{exc.msg} at line {exc.lineno} column {exc.colno}"


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
