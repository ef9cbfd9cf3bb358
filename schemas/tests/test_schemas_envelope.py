import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from isp_schemas import examples
from isp_schemas.envelope import _CORE_ATTRIBUTES as _CORE
from isp_schemas.envelope import CloudEvent, compact_json, name_based_id
from isp_schemas.register import RegisterEntryOpened
from isp_schemas.treatment import AppointmentAttended
from pydantic import ValidationError

ATTENDED = AppointmentAttended.model_validate(examples.EXAMPLES[AppointmentAttended.event_type])


def test_create_fills_id_time_and_subject():
    event = CloudEvent.create(AppointmentAttended.event_type, "CGL-WSX", ATTENDED)
    assert event.id and event.time.tzinfo is not None
    assert event.subject == "9434765919"
    assert event.source == "urn:isp:org:CGL-WSX" and event.source_org == "CGL-WSX"
    assert event.specversion == "1.0" and event.datacontenttype == "application/json"


def test_create_uses_the_given_id_time_and_subject():
    when = datetime(2025, 11, 3, 10, tzinfo=UTC)
    event = CloudEvent.create(AppointmentAttended.event_type, "CGL-WSX", ATTENDED, subject="s", id="e1", time=when)
    assert (event.id, event.time, event.subject) == ("e1", when, "s")


def test_register_events_take_the_person_key_as_subject():
    data = RegisterEntryOpened.model_validate(examples.EXAMPLES[RegisterEntryOpened.event_type])
    event = CloudEvent.create(RegisterEntryOpened.event_type, "CGL-WSX", data)
    assert event.subject == data.person_key
    assert "9434765919" not in event.to_json_bytes().decode()


def test_create_refuses_data_of_another_type():
    with pytest.raises(ValueError, match="not uk.isp.treatment.appointment.missed.v1"):
        CloudEvent.create("uk.isp.treatment.appointment.missed.v1", "CGL-WSX", ATTENDED)


def test_json_round_trip_keeps_every_attribute_and_the_offset():
    when = datetime(2025, 6, 3, 10, tzinfo=timezone(timedelta(hours=1)))
    event = CloudEvent.create(AppointmentAttended.event_type, "CGL-WSX", ATTENDED, time=when)
    again = CloudEvent.from_json_bytes(event.to_json_bytes())
    assert again == event
    assert json.loads(event.to_json_bytes())["time"] == "2025-06-03T10:00:00+01:00"


def test_absent_subject_is_left_out_not_null():
    event = CloudEvent.create("x.y", "CGL-WSX", {"a": None})
    document = json.loads(event.to_json_bytes())
    assert "subject" not in document
    assert document["data"] == {"a": None}


def test_extension_attributes_survive_the_round_trip():
    event = CloudEvent.create("x.y", "CGL-WSX", {}, traceparent="00-abc-def-01")
    again = CloudEvent.from_json_bytes(event.to_json_bytes())
    assert again.model_extra == {"traceparent": "00-abc-def-01"}


def test_badly_named_extension_is_rejected():
    with pytest.raises(ValidationError, match="extension attribute"):
        CloudEvent.create("x.y", "CGL-WSX", {}, **{"Trace-Parent": "x"})


@pytest.mark.parametrize("source", ["CGL-WSX", "urn:isp:org:cgl", "urn:isp:org:", "urn:x:CGL"])
def test_source_must_be_an_isp_org_urn(source):
    with pytest.raises(ValidationError):
        CloudEvent(id="1", source=source, type="x", time=datetime.now(UTC), data={})


def test_naive_time_is_rejected():
    with pytest.raises(ValidationError):
        CloudEvent(id="1", source="urn:isp:org:CGL-WSX", type="x", time=datetime(2025, 1, 1), data={})


def test_only_specversion_1_0():
    with pytest.raises(ValidationError):
        CloudEvent(
            specversion="0.3",
            id="1",
            source="urn:isp:org:CGL-WSX",
            type="x",
            time=datetime.now(UTC),
            data={},
        )


def test_the_encoding_is_compact_utf8_json_and_takes_any_json_value():
    """orjson writes events; an integer too big for it (an extension, or a key that is not the
    type's) is written as the standard library writes it, and the bytes read back the same."""
    data = {"consent_id": "c", "person": {"nhs_number": "9434765919"}, "withdrawn_on": "2026-01-01"}
    for extra in ({}, {"note": "café ✓"}, {"big": 2**70}):
        event = CloudEvent.create(
            type="uk.isp.consent.withdrawn.v1", source_org="CGL-WSX", data={**data, **extra}, id="evt-1"
        )
        raw = event.to_json_bytes()
        assert raw == json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":")).encode()
        assert json.loads(raw)["data"] == {**data, **extra}


# -- the JSON an outbox row carries: pydantic's serializer in one pass, the same bytes as before ---


def _json(*scalars: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.text(), *scalars),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )


SOURCE = "urn:isp:org:CGL-WSX"
_JSON = _json()
"""JSON values without fractions (no event type has a number with one); integers past 64 bits too."""
_WITH_FRACTIONS = _json(st.floats(allow_nan=False, allow_infinity=False))


def _dumped_then_encoded(event: CloudEvent) -> bytes:
    """What ``to_json_bytes`` wrote before: the ``model_dump`` dictionary, top-level nulls but
    ``data`` left out, encoded compactly."""
    attributes = event.model_dump(mode="json")
    return compact_json({k: v for k, v in attributes.items() if v is not None or k == "data"})


@settings(max_examples=300, deadline=None)
@given(
    data=st.dictionaries(st.text(max_size=12), _JSON, max_size=6),
    subject=st.none() | st.text(min_size=1, max_size=12),
    extensions=st.dictionaries(st.from_regex(r"\A[a-z0-9]{1,20}\Z"), st.none() | _JSON, max_size=3),
    minutes=st.integers(min_value=-23 * 60, max_value=23 * 60),
    microsecond=st.integers(min_value=0, max_value=999_999),
)
def test_json_bytes_are_what_the_dumped_dictionary_encodes_to(
    data: dict[str, object], subject: str | None, extensions: dict[str, object], minutes: int, microsecond: int
) -> None:
    extensions = {k: v for k, v in extensions.items() if k not in _CORE}
    when = datetime(2026, 3, 29, 0, 59, 59, microsecond, tzinfo=timezone(timedelta(minutes=minutes)))
    event = CloudEvent(id="e1", source=SOURCE, type="t", time=when, subject=subject, data=data, **extensions)
    assert event.to_json_bytes() == _dumped_then_encoded(event)


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(st.text(max_size=12), _WITH_FRACTIONS, max_size=6))
def test_a_number_with_a_fraction_may_be_written_otherwise_but_reads_the_same(data: dict[str, object]) -> None:
    """pydantic writes 1e-05 as 0.00001: the same number, and the same event read back."""
    event = CloudEvent(id="e1", source=SOURCE, type="t", time=datetime(2026, 1, 1, tzinfo=UTC), data=data)
    assert json.loads(event.to_json_bytes()) == json.loads(_dumped_then_encoded(event))
    assert CloudEvent.from_json_bytes(event.to_json_bytes()) == event


def test_json_bytes_of_an_event_made_from_a_model_and_of_one_without_subject() -> None:
    made = CloudEvent.create(AppointmentAttended.event_type, "CGL-WSX", ATTENDED, id="e2")
    bare = CloudEvent(id="e3", source=SOURCE, type="t", time=datetime(2026, 1, 1, tzinfo=UTC), data={})
    for event in (made, bare):
        assert event.to_json_bytes() == _dumped_then_encoded(event)
    assert b'"subject"' not in bare.to_json_bytes()


@settings(max_examples=500)
@given(st.text())
def test_name_based_id_is_uuid5_in_the_url_namespace(name):
    assert name_based_id(name) == str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def test_name_based_id_sets_the_version_and_variant_whatever_the_digest():
    # names whose SHA-1 puts each of the sixteen nibbles under the version and variant bits
    seen_variant, seen_version = set(), set()
    for i in range(400):
        made = uuid.UUID(name_based_id(f"name-{i}"))
        assert (made.version, made.variant) == (5, uuid.RFC_4122)
        assert str(made) == str(uuid.uuid5(uuid.NAMESPACE_URL, f"name-{i}"))
        raw = hashlib.sha1(uuid.NAMESPACE_URL.bytes + f"name-{i}".encode()).digest()
        seen_variant.add(raw[8] >> 4)
        seen_version.add(raw[6] >> 4)
    assert len(seen_variant) == 16 and len(seen_version) == 16
