"""The referrals API in process, for the API tests: build() with an in-memory database and a fixed
clock (no broker: the lifespan is not started), signed-in headers for any organisation, and
referrals made as social care makes them."""

from __future__ import annotations

from fastapi.testclient import TestClient
from isp_common.runtime import ServiceRuntime
from isp_common.testing import FixedClock, auth_headers, nhs_number, outbox_events, unique
from isp_schemas import topics

from ..kit import share_in

CSC, PROVIDER, NHS = "WSCC-CSC", "CGL-WSX", nhs_number(0)


class Service(TestClient):
    """The API of one built runtime, with its clock, and signed-in headers for any org."""

    def __init__(self, runtime: ServiceRuntime, clock: FixedClock) -> None:
        super().__init__(runtime.api, raise_server_exceptions=False)
        self.runtime, self.clock = runtime, clock

    def login(self, org: str, *roles: str) -> dict[str, str]:
        return auth_headers(self.runtime.settings.resolved_key_dir, org, *roles, sub=f"user@{org.lower()}")


def body(**overrides):
    fields = {
        "referral_id": unique("ref-"),
        "direction": "to_treatment",
        "from_org": CSC,
        "to_org": PROVIDER,
        "person": {"nhs_number": NHS},
        "children": [{"local_id": "C-1"}],
        "rag": "red",
        "summary": "Parent using heroin; baby on a CP plan",
        "consent_id": "con-1",
        "parent_agreed": True,
        "concerns": ["opiates"],
        "history": "Known since 2024",
        "known_to_treatment": True,
    }
    fields.update(overrides)
    return fields


def create(service, shared: bool = True, **overrides):
    """A referral made by social care; unless ``shared=False`` then shared in full with the provider."""
    response = service.post("/v1/referrals", json=body(**overrides), headers=service.login(CSC, "social_care"))
    assert response.status_code == 201, response.text
    if shared:
        share_in(service.runtime, response.json()["id"])
    return response.json()


def outbox_types(service, topic: str = topics.REFERRALS) -> list[str]:
    return [event["type"] for event in outbox_events(service.runtime.engine, topic)]
