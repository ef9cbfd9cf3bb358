"""Domain errors are answered as problem+json (RFC 9457) by the one handler every runtime installs."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from isp_common.errors import Conflict, DomainError, Forbidden, NotFound, Unprocessable
from isp_common.runtime import ServiceRuntime

PROBLEM_JSON = "application/problem+json"


class WrongState(Conflict):
    title = "Not allowed in this state"
    problem_type = "https://isp.example/problems/wrong-state"


class Refused(DomainError):
    """A subclass of the base keeps the base's 400."""


router = APIRouter()


@router.post("/referrals/{referral_id}/close")
def close(referral_id: str) -> None:
    raise WrongState("A declined referral cannot be closed.", allowed=["reopen"], referral_id=referral_id)


@router.get("/raise/{kind}")
def raise_one(kind: str) -> None:
    error = {"not-found": NotFound, "forbidden": Forbidden, "conflict": Conflict, "unprocessable": Unprocessable}
    raise error.get(kind, Refused)()


@pytest.fixture
def client(runtime: ServiceRuntime) -> TestClient:
    runtime.api.include_router(router)
    return TestClient(runtime.api)


def test_a_domain_error_is_answered_with_its_status_title_type_detail_and_extra_members(client: TestClient) -> None:
    response = client.post("/referrals/ref-1/close")
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "https://isp.example/problems/wrong-state",
        "title": "Not allowed in this state",
        "status": 409,
        "detail": "A declined referral cannot be closed.",
        "allowed": ["reopen"],
        "referral_id": "ref-1",
    }


@pytest.mark.parametrize(
    ("kind", "status", "title"),
    [
        ("not-found", 404, "Not Found"),
        ("forbidden", 403, "Forbidden"),
        ("conflict", 409, "Conflict"),
        ("unprocessable", 422, "Unprocessable Content"),
        ("refused", 400, "Bad Request"),
    ],
)
def test_each_base_error_carries_its_status_and_title_and_no_detail_when_none_is_given(
    client: TestClient, kind: str, status: int, title: str
) -> None:
    response = client.get(f"/raise/{kind}")
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {"type": "about:blank", "title": title, "status": status}


def test_a_domain_error_keeps_its_detail_and_extra_for_code_that_catches_it() -> None:
    error = NotFound("No such referral.", referral_id="ref-9")
    assert (error.status, error.detail, error.extra, str(error)) == (
        404,
        "No such referral.",
        {"referral_id": "ref-9"},
        "No such referral.",
    )
