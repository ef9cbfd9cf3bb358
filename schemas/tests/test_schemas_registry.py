import json

import pytest
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from isp_schemas.registry import EVENT_TYPES, InvalidEvent, model_for, parse_event


def _raw(event_type: str, data: dict, **attributes) -> bytes:
    return CloudEvent.create(event_type, "CGL-WSX", data, **attributes).to_json_bytes()


def test_every_type_has_an_example():
    assert set(EXAMPLES) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_type_round_trips_through_the_envelope(event_type):
    model = model_for(event_type)
    data = model.model_validate(EXAMPLES[event_type])
    sent = CloudEvent.create(event_type, "CGL-WSX", data, id="evt-1")
    envelope, parsed = parse_event(sent.to_json_bytes())
    assert envelope == sent
    assert type(parsed) is model and parsed == data


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_type_declares_its_topic(event_type):
    model = model_for(event_type)
    assert model.topic in topics.TOPICS
    assert model.event_type == event_type
    assert all(field.description for field in model.model_fields.values())


def test_not_json_is_invalid():
    with pytest.raises(InvalidEvent, match="^message is not valid JSON: "):
        parse_event(b"{not json")


def test_not_utf8_is_invalid():
    with pytest.raises(InvalidEvent, match="^message is not valid JSON"):
        parse_event(b"\xff\xfe\x00")


def test_json_that_is_not_an_object_is_not_a_cloudevent():
    with pytest.raises(InvalidEvent, match="^not a CloudEvent: a JSON array"):
        parse_event(b"[1, 2]")


def test_missing_attribute_is_named():
    document = json.loads(_raw("uk.isp.consent.withdrawn.v1", EXAMPLES["uk.isp.consent.withdrawn.v1"]))
    del document["id"]
    with pytest.raises(InvalidEvent) as exc:
        parse_event(json.dumps(document).encode())
    assert str(exc.value) == "not a CloudEvent: missing attribute 'id'"


def test_bad_attribute_is_named():
    document = json.loads(_raw("uk.isp.consent.withdrawn.v1", EXAMPLES["uk.isp.consent.withdrawn.v1"]))
    document["source"] = "CGL-WSX"
    with pytest.raises(InvalidEvent, match="^not a CloudEvent: source: "):
        parse_event(json.dumps(document).encode())


def test_unknown_type_is_invalid():
    with pytest.raises(InvalidEvent) as exc:
        parse_event(_raw("uk.isp.nothing.v9", {}, id="e-unknown"))
    assert str(exc.value) == "unknown event type 'uk.isp.nothing.v9'"
    assert exc.value.event_id == "e-unknown"


def test_invalid_field_is_named_with_its_problem():
    data = {**EXAMPLES["uk.isp.treatment.episode.started.v1"]}
    data["person"] = {"nhs_number": "9434765918"}
    with pytest.raises(InvalidEvent) as exc:
        parse_event(_raw("uk.isp.treatment.episode.started.v1", data))
    assert str(exc.value) == "data.person.nhs_number: NHS number fails the modulus 11 check"
    assert "9434765918" not in str(exc.value)


def test_nested_list_errors_name_the_index():
    data = {**EXAMPLES["uk.isp.socialcare.conference.scheduled.v1"]}
    data["children"] = [{"local_id": "C1"}, {"date_of_birth": "2019-01-01"}]
    with pytest.raises(InvalidEvent, match=r"^data\.children\[1\]: a child needs"):
        parse_event(_raw("uk.isp.socialcare.conference.scheduled.v1", data))


def test_missing_data_fields_are_all_named():
    with pytest.raises(InvalidEvent) as exc:
        parse_event(_raw("uk.isp.treatment.episode.started.v1", {"episode_id": "e"}))
    assert str(exc.value) == "data.person: Field required; data.started_on: Field required"


def test_a_type_on_the_wrong_topic_is_invalid_when_the_topic_is_given():
    raw = _raw("uk.isp.consent.withdrawn.v1", EXAMPLES["uk.isp.consent.withdrawn.v1"])
    parse_event(raw, topic=topics.CONSENT)
    with pytest.raises(InvalidEvent) as exc:
        parse_event(raw, topic=topics.TREATMENT)
    assert str(exc.value) == (
        "event type 'uk.isp.consent.withdrawn.v1' does not belong on topic 'isp.treatment.v1'; "
        "it belongs on 'isp.consent.v1'"
    )


def test_alert_types_belong_on_any_alerts_topic():
    event_type = "uk.isp.alert.did_not_attend.v1"
    parse_event(_raw(event_type, EXAMPLES[event_type]), topic=topics.alerts("WSCC-CSC"))


def test_invalid_event_is_a_value_error():
    assert issubclass(InvalidEvent, ValueError)
    with pytest.raises(InvalidEvent):
        model_for("nope")


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": "\\ud800"}'])
def test_what_json_does_not_allow_is_not_valid_json(raw):
    # NaN, Infinity and lone surrogates are not JSON (RFC 8259), even where a lenient parser takes them
    with pytest.raises(InvalidEvent, match="^message is not valid JSON: "):
        parse_event(raw)


def test_not_utf8_is_named_as_such():
    with pytest.raises(InvalidEvent, match="^message is not valid JSON: it is not UTF-8 text$"):
        parse_event(b'{"id": "\xff"}')


def test_not_utf8_is_told_by_decoding_not_by_the_parsers_wording():
    import json

    from isp_schemas.registry import _json_reason

    raw = b'{"a": }'
    worded = json.JSONDecodeError("str is not valid UTF-8: surrogates not allowed", raw.decode(), 6)
    assert _json_reason(worded, raw) == "str is not valid UTF-8: surrogates not allowed at line 1 column 7"
    assert _json_reason(json.JSONDecodeError("unexpected character", "x", 0), b"\xff") == "it is not UTF-8 text"
    with pytest.raises(InvalidEvent, match="^message is not valid JSON: .* at line 1 column 7$"):
        parse_event(raw)
