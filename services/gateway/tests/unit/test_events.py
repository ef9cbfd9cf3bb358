"""What a request may publish: validated as a consumer would, from the caller's organisation only,
all or nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from isp_common.testing import nhs_number
from isp_gateway.domain.events import BATCH, SINGLE, RequestRefused, accept, partner_types
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES

PROVIDER = "CGL-WSX"
MISSED = "uk.isp.treatment.appointment.missed.v1"


def event(type: str = MISSED, org: str = PROVIDER, **data: Any) -> dict[str, Any]:
    body = {**EXAMPLES[type], **data}
    return json.loads(CloudEvent.create(type, org, body).to_json_bytes())


def body(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events) if len(events) != 1 else events[0]).encode()


def refused(raw: bytes, content_type: str = SINGLE, org: str = PROVIDER, max_batch: int = 500) -> RequestRefused:
    with pytest.raises(RequestRefused) as caught:
        accept(raw, content_type, org, max_batch)
    return caught.value


def test_one_event_goes_to_its_types_topic_keyed_by_its_subject() -> None:
    one = event()
    [out] = accept(body(one), SINGLE, PROVIDER, 500)
    assert (out.topic, out.event_id, out.event_type) == (topics.TREATMENT, one["id"], MISSED)
    assert out.key == one["subject"]
    assert json.loads(out.value) == one


def test_a_batch_keeps_its_order() -> None:
    batch = [event(), event("uk.isp.consent.given.v1"), event()]
    published = accept(json.dumps(batch).encode(), BATCH, PROVIDER, 500)
    assert [out.event_id for out in published] == [item["id"] for item in batch]
    assert [out.topic for out in published] == [topics.TREATMENT, topics.CONSENT, topics.TREATMENT]


def test_an_invalid_event_in_a_batch_refuses_the_whole_batch_naming_its_index_and_field() -> None:
    bad = event()
    bad["data"]["person"]["nhs_number"] = "123"
    problem = refused(json.dumps([event(), bad]).encode(), BATCH)
    assert problem.status == 422
    [refusal] = problem.refusals
    assert refusal.index == 1
    assert refusal.field.startswith("data.person.nhs_number")
    assert "123" not in refusal.reason


def test_an_event_from_another_organisation_is_forbidden() -> None:
    problem = refused(body(event(org="WSCC-CSC")))
    assert problem.status == 403
    assert problem.refusals[0].field == "source"


def test_organisation_fields_must_name_the_callers_organisation() -> None:
    consent = event("uk.isp.consent.given.v1", recorded_by="WSCC-CSC")
    problem = refused(body(consent))
    assert (problem.status, problem.refusals[0].field) == (422, "data.recorded_by")


@pytest.mark.parametrize(
    "type", ["uk.isp.alert.did_not_attend.v1", "uk.isp.audit.disclosure.v1", "uk.isp.register.entry.opened.v1"]
)
def test_only_types_partners_publish_are_taken(type: str) -> None:
    raw = event()
    raw["type"] = type
    assert refused(body(raw)).refusals[0].field == "type"


def test_partner_types_are_those_of_the_four_partner_topics() -> None:
    types = partner_types()
    assert MISSED in types and "uk.isp.consent.withdrawn.v1" in types
    assert set(types.values()) == {topics.TREATMENT, topics.SOCIALCARE, topics.REFERRALS, topics.CONSENT}


def test_a_batch_over_the_limit_is_refused() -> None:
    problem = refused(json.dumps([event() for _ in range(3)]).encode(), BATCH, max_batch=2)
    assert problem.status == 422 and "at most 2" in problem.detail


def test_two_events_with_one_id_are_refused() -> None:
    one = event()
    assert "share an id" in refused(json.dumps([one, one]).encode(), BATCH).detail


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [(b"{", SINGLE, 422), (b"[]", BATCH, 422), (b"{}", "text/plain", 415), (b"[1]", BATCH, 422)],
)
def test_malformed_requests_are_refused(raw: bytes, content_type: str, status: int) -> None:
    assert refused(raw, content_type).status == status


def test_oversized_fields_are_refused_by_path_never_by_content() -> None:
    long_name = "x" * 20_001
    problem = refused(body(event(person={"nhs_number": nhs_number(1), "given_name": long_name})))
    assert problem.status == 422
    assert long_name not in problem.refusals[0].reason
