"""Strict input (issue 13): every event type's data refuses a field its schema lacks, named by its
path and never its value; a known type on a topic it does not belong on names the right topic."""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from isp_schemas.registry import EVENT_TYPES, InvalidEvent, parse_event, topic_of

FREE_FORM = {("keys",)}
"""Objects whose members the schema leaves open: a directory entry's JWKS (JWK members vary)."""


def _objects(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """The path of every JSON object in ``value`` (the data itself first) whose members are checked."""
    if isinstance(value, dict):
        if path in FREE_FORM:
            return []
        return [path, *(p for key, item in value.items() for p in _objects(item, (*path, key)))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _objects(item, (*path, index))]
    return []


def _with_extra(data: dict[str, Any], path: tuple[str | int, ...], key: str, value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    target = copy
    for part in path:
        target = target[part]
    target[key] = value
    return copy


def _raw(event_type: str, data: dict[str, Any]) -> bytes:
    return CloudEvent.create(event_type, "CGL-WSX", data, id="evt-strict").to_json_bytes()


def _where(path: tuple[str | int, ...]) -> str:
    text = "data"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


SECRET = "9434765919 Jane Example"
values = st.one_of(st.none(), st.booleans(), st.integers(), st.just(SECRET), st.lists(st.integers(), max_size=2))
keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=24)


@given(event_type=st.sampled_from(sorted(EVENT_TYPES)), key=keys, value=values, data=st.data())
def test_an_extra_key_anywhere_in_the_data_of_every_type_is_refused_by_its_path(event_type, key, value, data):
    example = EXAMPLES[event_type]
    path = data.draw(st.sampled_from(_objects(example)), label="object")
    target: Any = example
    for part in path:
        target = target[part]
    if key in target or key in _declared_fields(event_type, path):
        return  # not extra: a field of the schema (present or optional)
    with pytest.raises(InvalidEvent) as exc:
        parse_event(_raw(event_type, _with_extra(example, path, key, value)))
    reason = str(exc.value)  # a tagged union's tag joins the path: data.lawful_basis.statutory.<key>
    assert reason.startswith(_where(path)) and reason.endswith(f".{key}: unknown field (not in the schema)")
    assert ";" not in reason
    assert SECRET not in str(exc.value)
    assert exc.value.event_id == "evt-strict"


def _declared_fields(event_type: str, path: tuple[str | int, ...]) -> set[str]:
    """The field names the JSON Schema declares for the object at ``path`` (optional ones too)."""
    schema = EVENT_TYPES[event_type].model_json_schema()
    node = schema
    for part in path:
        node = _resolve(schema, node)
        node = node["items"] if isinstance(part, int) else node["properties"][part]
    return set(_resolve(schema, node).get("properties", {}))


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` and take the object branch of ``anyOf`` (an optional object)."""
    while True:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            node = next(b for b in node["anyOf"] if b.get("type") != "null")
        else:
            return node


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_object_of_every_generated_schema_refuses_additional_properties(event_type):
    schema = EVENT_TYPES[event_type].model_json_schema()
    objects = [schema, *schema.get("$defs", {}).values()]
    open_objects = [o.get("title") for o in objects if "properties" in o and o.get("additionalProperties") is not False]
    assert open_objects == []


def test_the_envelope_still_accepts_extension_attributes():
    document = json.loads(_raw("uk.isp.consent.withdrawn.v1", EXAMPLES["uk.isp.consent.withdrawn.v1"]))
    document["traceparent"] = "00-abc-def-01"
    envelope, _ = parse_event(json.dumps(document).encode(), topic=topics.CONSENT)
    assert envelope.model_extra == {"traceparent": "00-abc-def-01"}


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_type_on_a_topic_it_does_not_belong_on_names_the_right_topic(event_type):
    right = topic_of(event_type)
    wrong = topics.TREATMENT if right != topics.TREATMENT else topics.CONSENT
    raw = _raw(event_type, EXAMPLES[event_type])
    parse_event(raw, topic=topics.alerts("WSCC-CSC") if right == "isp.alerts.<ORG>.v1" else right)
    with pytest.raises(InvalidEvent) as exc:
        parse_event(raw, topic=wrong)
    assert str(exc.value).endswith(f"does not belong on topic {wrong!r}; it belongs on {right!r}")
    assert exc.value.event_type == event_type


def test_an_alert_off_the_alerts_topics_names_the_recipients_alerts_topic():
    event_type = "uk.isp.alert.did_not_attend.v1"
    with pytest.raises(InvalidEvent, match=r"it belongs on 'isp\.alerts\.<ORG>\.v1'$"):
        parse_event(_raw(event_type, EXAMPLES[event_type]), topic=topics.AUDIT)
