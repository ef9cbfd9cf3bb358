"""``POST /v1/events`` (CONTRACT §10): signed on the caller's behalf, 202 only once the broker has
acknowledged, nothing published from a request with any invalid event, a rate per organisation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from isp_common.db import make_engine
from isp_common.eventkeys import public_keys_in
from isp_common.provenance import SIGNED_FOR_HEADER, Trust, check
from isp_common.testing import auth_headers
from isp_gateway.bootstrap import build
from isp_gateway.domain.events import BATCH, SINGLE
from isp_gateway.settings import Settings
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES

PROVIDER = "CGL-WSX"
MISSED = "uk.isp.treatment.appointment.missed.v1"


class FakeProducer:
    """Records what is sent; acknowledges at once unless told to fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]] = []
        self.fail = False

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> Any:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail:
            future.set_exception(TimeoutError())
        else:
            self.sent.append((topic, value, key, list(headers or [])))
            future.set_result(None)
        return future


@pytest.fixture
def gateway(tmp_path: Any) -> Any:
    settings = Settings(var_dir=tmp_path, rate_per_second=1, burst=500)
    runtime = build(settings, engine=make_engine("sqlite://"))
    runtime.producer = FakeProducer()  # type: ignore[assignment]  # the fake stands in for aiokafka's producer
    client = TestClient(runtime.api, raise_server_exceptions=False)
    client.runtime = runtime  # type: ignore[attr-defined]  # the tests read the runtime back
    return client


def headers(gateway: Any, org: str = PROVIDER, role: str = "provider", content_type: str = SINGLE) -> dict[str, str]:
    return {**auth_headers(gateway.runtime.settings.resolved_key_dir, org, role), "content-type": content_type}


def event(type: str = MISSED, org: str = PROVIDER) -> dict[str, Any]:
    return json.loads(CloudEvent.create(type, org, EXAMPLES[type]).to_json_bytes())


def test_an_event_is_published_signed_for_the_caller_and_verifies_as_the_gateways(gateway: Any) -> None:
    one = event()
    response = gateway.post("/v1/events", content=json.dumps(one), headers=headers(gateway))
    assert response.status_code == 202, response.text
    assert response.json() == {"ids": [one["id"]], "signed_for": PROVIDER}
    [(topic, value, key, sent_headers)] = gateway.runtime.producer.sent
    assert topic == "isp.treatment.v1" and key == one["subject"].encode()
    assert dict(sent_headers)[SIGNED_FOR_HEADER] == PROVIDER.encode()
    gateway_keys = public_keys_in(gateway.runtime.settings.resolved_key_dir / "events")["gateway"]
    trust = Trust(org_keys={}.get, gateway_keys=gateway_keys)
    assert check(value, sent_headers, PROVIDER, MISSED, one["data"], trust) == "gateway"


def test_a_batch_is_published_in_order(gateway: Any) -> None:
    batch = [event(), event("uk.isp.consent.given.v1"), event()]
    response = gateway.post("/v1/events", content=json.dumps(batch), headers=headers(gateway, content_type=BATCH))
    assert response.status_code == 202
    assert [json.loads(sent[1])["id"] for sent in gateway.runtime.producer.sent] == [e["id"] for e in batch]


def test_one_invalid_event_publishes_nothing_and_the_problem_names_it(gateway: Any) -> None:
    bad = event()
    del bad["data"]["appointment_id"]
    batch = json.dumps([event(), bad])
    response = gateway.post("/v1/events", content=batch, headers=headers(gateway, content_type=BATCH))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    [error] = response.json()["errors"]
    assert error["loc"][:3] == ["body", 1, "data"] and "appointment_id" in error["loc"]
    assert gateway.runtime.producer.sent == []


def test_speaking_for_another_organisation_is_forbidden(gateway: Any) -> None:
    response = gateway.post("/v1/events", content=json.dumps(event(org="WSCC-CSC")), headers=headers(gateway))
    assert response.status_code == 403
    assert gateway.runtime.producer.sent == []


def test_no_token_no_publishing(gateway: Any) -> None:
    response = gateway.post("/v1/events", content=json.dumps(event()), headers={"content-type": SINGLE})
    assert response.status_code == 401


def test_an_ig_officer_may_not_publish(gateway: Any) -> None:
    response = gateway.post("/v1/events", content=json.dumps(event()), headers=headers(gateway, role="ig_officer"))
    assert response.status_code == 403


def test_an_organisation_over_its_rate_is_told_when_to_retry(gateway: Any) -> None:
    full = json.dumps([event() for _ in range(500)])
    assert gateway.post("/v1/events", content=full, headers=headers(gateway, content_type=BATCH)).status_code == 202
    response = gateway.post("/v1/events", content=json.dumps(event()), headers=headers(gateway))
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    other = gateway.post("/v1/events", content=json.dumps(event(org="WSCC-CSC")), headers=headers(gateway, "WSCC-CSC"))
    assert other.status_code == 202


def test_a_body_over_one_mebibyte_is_refused_before_it_is_read(gateway: Any) -> None:
    response = gateway.post("/v1/events", content=b"[" + b" " * (1024 * 1024 + 1) + b"]", headers=headers(gateway))
    assert response.status_code == 413


def test_no_acknowledgement_is_a_503_saying_to_send_again(gateway: Any) -> None:
    gateway.runtime.producer.fail = True
    response = gateway.post("/v1/events", content=json.dumps(event()), headers=headers(gateway))
    assert response.status_code == 503
    assert "send the request again" in response.json()["detail"]


def test_the_types_partners_publish_are_listed(gateway: Any) -> None:
    response = gateway.get("/v1/events/types", headers=headers(gateway))
    assert response.status_code == 200
    assert response.json()["items"][MISSED] == "isp.treatment.v1"


def test_the_gateway_key_is_private_to_its_owner(gateway: Any) -> None:
    key_file = gateway.runtime.settings.resolved_event_key_file
    assert key_file.stat().st_mode & 0o077 == 0
