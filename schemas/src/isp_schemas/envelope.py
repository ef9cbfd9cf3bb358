"""The CloudEvents 1.0 envelope (structured JSON mode) every ISP message travels in."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError, PydanticSerializationError

from .people import ORG_ID_PATTERN, SchemaModel

_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


def name_based_id(name: str) -> str:
    """``str(uuid.uuid5(uuid.NAMESPACE_URL, name))``: the same text (a property test holds it), made
    from SHA-1's hex digest without building the UUID object, in about a third of the time (the
    notifications and audit services make several for each alert: its id, its record's)."""
    digest = hashlib.sha1(_URL_NAMESPACE + name.encode()).hexdigest()
    # RFC 9562: version 5 in the high nibble of octet 6, variant 0b10 in the top bits of octet 8
    variant = "89ab"[int(digest[16], 16) & 3]
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-{variant}{digest[17:20]}-{digest[20:32]}"


CONTENT_TYPE = "application/cloudevents+json"
"""The Kafka ``content-type`` header value (and webhook body type) for structured mode."""

DATA_CONTENT_TYPE: Final = "application/json"
SOURCE_PREFIX = "urn:isp:org:"
SOURCE_PATTERN = "^urn:isp:org:" + ORG_ID_PATTERN.removeprefix("^")
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_CORE_ATTRIBUTES = {
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "datacontenttype",
    "dataschema",
    "data",
    "data_base64",
}


class EventData(SchemaModel):
    """Base of the ``data`` of every ISP event type.

    Subclasses set ``event_type`` (the CloudEvents ``type``) and ``topic`` (the Kafka topic it
    is published on; for alerts the pattern ``isp.alerts.{org}.v1``).
    """

    event_type: ClassVar[str]
    topic: ClassVar[str]


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event. Extension attributes (lower-case alphanumeric names) are kept."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = Field(default="1.0", description="CloudEvents version: 1.0.")
    id: str = Field(
        min_length=1,
        description="Unique per event; re-sending the same id is a no-op for consumers.",
    )
    source: str = Field(
        pattern=SOURCE_PATTERN,
        description="The publishing organisation: urn:isp:org:<ORG>.",
        examples=["urn:isp:org:CGL-WSX"],
    )
    type: str = Field(min_length=1, description="The event type, e.g. uk.isp.referral.requested.v1.")
    time: AwareDatetime = Field(description="When it happened: RFC 3339 with offset.")
    subject: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "The person's NHS number when there is one (a register person_key on "
            "isp.register.v1); the Kafka message key unless the topic says otherwise."
        ),
    )
    datacontenttype: Literal["application/json"] = Field(
        default=DATA_CONTENT_TYPE, description="Always application/json."
    )
    data: dict[str, Any] = Field(description="The event data; its schema depends on `type`.")

    @model_validator(mode="after")
    def _extension_names(self) -> CloudEvent:
        for name in self.model_extra or {}:
            if name in _CORE_ATTRIBUTES or not _EXTENSION_NAME.match(name):
                raise PydanticCustomError(
                    "cloudevent_extension",
                    "extension attribute names are 1-20 lower-case letters or digits: {name!r}",
                    {"name": name},
                )
        return self

    @classmethod
    def create(
        cls,
        type: str,
        source_org: str,
        data: BaseModel | dict[str, Any],
        subject: str | None = None,
        id: str | None = None,
        time: datetime | None = None,
        **extensions: Any,
    ) -> CloudEvent:
        """Build an event from ISP data.

        ``subject=None`` derives it from the data: ``person.nhs_number`` when there is one,
        else ``person_key`` (register events). Passing a data model whose ``event_type`` is
        not ``type`` is a programming error and raises ValueError.
        """
        declared = getattr(data, "event_type", None)
        if isinstance(data, BaseModel) and declared is not None and declared != type:
            raise ValueError(f"data is a {declared} model, not {type}")
        body = data.model_dump(mode="json") if isinstance(data, BaseModel) else dict(data)
        return cls(
            id=id or str(uuid.uuid4()),
            source=SOURCE_PREFIX + source_org,
            type=type,
            time=time or datetime.now(UTC),
            subject=subject if subject is not None else default_subject(body),
            data=body,
            **extensions,
        )

    @property
    def source_org(self) -> str:
        """The publishing organisation's id, taken from ``source``."""
        return self.source.removeprefix(SOURCE_PREFIX)

    def to_json_bytes(self) -> bytes:
        """Structured-mode JSON; absent optional attributes are left out rather than null.

        Written by pydantic's own serializer in one pass (half the time of building the
        ``model_dump`` dictionary and encoding it: every outbox row is one), the same bytes as
        :func:`compact_json` of that dictionary (a property test compares them), but for how a number
        with a fraction is spelt (0.00001 for 1e-05; no event type has one). Values it cannot
        write take that path."""
        absent = {name for name, value in (self.__pydantic_extra__ or {}).items() if value is None}
        if self.subject is None:  # the one optional attribute declared
            absent.add("subject")
        try:
            return self.__pydantic_serializer__.to_json(self, exclude=absent or None)
        except PydanticSerializationError:
            attributes = self.model_dump(mode="json")
            return compact_json({k: v for k, v in attributes.items() if v is not None or k == "data"})

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> CloudEvent:
        """Parse structured-mode JSON; raises pydantic.ValidationError when it is not one."""
        return cls.model_validate_json(raw)


def compact_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, as ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``
    writes it (keys that are not strings as strings), by orjson in a fifth of the time: an event is
    encoded for each outbox row. What orjson does not take (an integer over 64 bits, in an
    extension or a data key no type declares) the standard library writes."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def default_subject(data: dict[str, Any]) -> str | None:
    """The subject an event about ``data`` should carry: NHS number, else register person_key."""
    person = data.get("person")
    nhs_number = person.get("nhs_number") if isinstance(person, dict) else None
    if isinstance(nhs_number, str):
        return nhs_number
    key = data.get("person_key")
    return key if isinstance(key, str) else None
