"""Bearer-token access (CONTRACT §2) and problem+json errors (RFC 9457)."""

import json
import stat
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from isp_common.auth import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    Caller,
    CurrentCaller,
    TokenVerifier,
    ensure_own_org,
    ensure_signing_key,
    install_token_verifier,
    issue_token,
    key_id,
    require_roles,
)
from isp_common.problems import Problem, install_problem_handlers
from isp_common.settings import ServiceSettings
from pydantic import BaseModel

PROBLEM_JSON = "application/problem+json"


class Referral(BaseModel):
    nhs_number: str
    summary: str


def build_app(verifier: TokenVerifier | None) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    if verifier is not None:
        install_token_verifier(app, verifier)

    @app.get("/v1/orgs/{org}/whoami")
    def whoami(org: str, caller: Annotated[Caller, Depends(require_roles("dsl", "provider"))]):
        ensure_own_org(caller, org)
        return {"sub": caller.sub, "org": caller.org, "roles": sorted(caller.roles)}

    @app.get("/v1/me")
    def me(caller: CurrentCaller):
        return {"org": caller.org}

    @app.post("/v1/referrals")
    def refer(referral: Referral):
        return referral

    @app.get("/v1/teapot")
    def teapot():
        raise Problem(418, "I'm a teapot", "Short and stout.", type="urn:isp:teapot", spout=1)

    @app.get("/v1/crash")
    def crash():
        raise RuntimeError("database password is hunter2")

    return app


@pytest.fixture
def key_dir(tmp_path):
    return tmp_path / "keys"


@pytest.fixture
def client(key_dir):
    app = build_app(TokenVerifier.from_key_dir(key_dir))
    return TestClient(app, raise_server_exceptions=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"]
    return body


# --- the protected route ------------------------------------------------------


def test_a_valid_token_identifies_the_caller(client, key_dir):
    token = issue_token(key_dir, "alice@cgl", "CGL-WSX", ["provider"])
    response = client.get("/v1/orgs/CGL-WSX/whoami", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"sub": "alice@cgl", "org": "CGL-WSX", "roles": ["provider"]}


def test_no_token_is_401_problem_with_a_bearer_challenge(client):
    response = client.get("/v1/orgs/CGL-WSX/whoami")
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in body["detail"]


def test_another_authorization_scheme_is_401(client):
    response = client.get("/v1/me", headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})
    assert_problem(response, 401)


def test_a_garbage_token_is_401(client):
    response = client.get("/v1/me", headers=bearer("not-a-jwt"))
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert body["detail"] == "The token is not a well-formed JWT."


def test_an_expired_token_is_401(client, key_dir):
    token = issue_token(key_dir, "alice", "CGL-WSX", ["provider"], ttl_seconds=-3600)
    body = assert_problem(client.get("/v1/me", headers=bearer(token)), 401)
    assert body["detail"] == "The token has expired."


def test_a_token_signed_with_another_key_is_401(client, tmp_path):
    token = issue_token(tmp_path / "other-keys", "mallory", "CGL-WSX", ["admin"])
    body = assert_problem(client.get("/v1/me", headers=bearer(token)), 401)
    assert body["detail"] == "The token's signature does not verify."


def test_the_wrong_role_is_403(client, key_dir):
    token = issue_token(key_dir, "ig", "CGL-WSX", ["ig_officer"])
    body = assert_problem(client.get("/v1/orgs/CGL-WSX/whoami", headers=bearer(token)), 403)
    assert "dsl or provider" in body["detail"]


def test_another_organisations_data_is_403(client, key_dir):
    token = issue_token(key_dir, "alice", "CGL-WSX", ["dsl"])
    body = assert_problem(client.get("/v1/orgs/WSCC-CSC/whoami", headers=bearer(token)), 403)
    assert body["detail"] == "This is not your organisation's data."


def sign(key: Ed25519PrivateKey, claims: dict) -> str:
    claims = {"exp": datetime.now(UTC) + timedelta(hours=1), **claims}
    return jwt.encode(claims, key, algorithm="EdDSA")


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"sub": "a", "org": "cgl-wsx", "roles": ["dsl"]}, "org claim is not an organisation id"),
        ({"sub": "a", "roles": ["dsl"]}, "org claim is not an organisation id"),
        ({"sub": "a", "org": "CGL-WSX", "roles": "dsl"}, "roles claim is not a list"),
        ({"sub": "a", "org": "CGL-WSX", "roles": ["dsl", "god"]}, "unknown role(s): god"),
        ({"org": "CGL-WSX", "roles": ["dsl"]}, "no sub claim"),
    ],
)
def test_tokens_with_bad_isp_claims_are_401(client, key_dir, claims, detail):
    token = sign(ensure_signing_key(key_dir), claims)
    body = assert_problem(client.get("/v1/me", headers=bearer(token)), 401)
    assert detail in body["detail"]


def test_a_token_without_expiry_is_401(client, key_dir):
    claims = {"sub": "a", "org": "CGL-WSX", "roles": ["dsl"]}
    token = jwt.encode(claims, ensure_signing_key(key_dir), algorithm="EdDSA")
    body = assert_problem(client.get("/v1/me", headers=bearer(token)), 401)
    assert body["detail"] == "The token has no exp claim."


def test_audience_and_issuer_are_checked_when_configured(key_dir):
    verifier = TokenVerifier.from_key_dir(key_dir, audience="isp-api", issuer="urn:isp:test")
    good = issue_token(key_dir, "a", "CGL-WSX", ["dsl"], audience="isp-api", issuer="urn:isp:test")
    assert verifier.verify(good).org == "CGL-WSX"
    wrong = issue_token(key_dir, "a", "CGL-WSX", ["dsl"], audience="other", issuer="urn:isp:test")
    with pytest.raises(Problem) as raised:
        verifier.verify(wrong)
    assert raised.value.status == 401
    assert raised.value.detail == "The token is for another audience."


def test_a_missing_verifier_is_a_server_error_not_an_open_door(key_dir):
    client = TestClient(build_app(None), raise_server_exceptions=False)
    token = issue_token(key_dir, "a", "CGL-WSX", ["dsl"])
    assert_problem(client.get("/v1/me", headers=bearer(token)), 500)


def test_require_roles_refuses_unknown_role_names_when_the_route_is_defined():
    with pytest.raises(ValueError):
        require_roles("superuser")  # type: ignore[arg-type]  # the wrong name is the point of the test


def test_caller_has_any_of_the_roles():
    caller = Caller(sub="a", org="CGL-WSX", roles=frozenset({"dsl", "provider"}))
    assert caller.has_role("social_care", "dsl")
    assert not caller.has_role("admin")


# --- tokens and keys ----------------------------------------------------------------


def test_the_signing_key_is_created_once_with_owner_only_permissions(key_dir):
    first = ensure_signing_key(key_dir)
    second = ensure_signing_key(key_dir)
    assert key_id(first.public_key()) == key_id(second.public_key())
    assert stat.S_IMODE((key_dir / PRIVATE_KEY_FILE).stat().st_mode) == 0o600
    assert (key_dir / PUBLIC_KEY_FILE).read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert sorted(p.name for p in key_dir.iterdir()) == [PRIVATE_KEY_FILE, PUBLIC_KEY_FILE]


def test_services_starting_together_share_one_signing_key(key_dir):
    keys = []
    threads = [threading.Thread(target=lambda: keys.append(ensure_signing_key(key_dir))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({key_id(key.public_key()) for key in keys}) == 1


def test_issued_tokens_carry_the_contract_claims_and_a_key_id(key_dir):
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    token = issue_token(key_dir, "bob", "WSCC-CSC", ["social_care", "dsl"], 60, now=now)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "EdDSA"
    assert header["kid"] == key_id(ensure_signing_key(key_dir).public_key())
    assert claims == {
        "sub": "bob",
        "org": "WSCC-CSC",
        "roles": ["social_care", "dsl"],
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 60,
    }


@pytest.mark.parametrize(
    ("org", "roles"),
    [
        ("cgl-wsx", ["dsl"]),
        ("C", ["dsl"]),
        ("CGL-WSX\n", ["dsl"]),
        ("CGL-WSX", ["god"]),
        ("CGL-WSX", []),
    ],
)
def test_issue_token_refuses_bad_org_ids_and_roles(key_dir, org, roles):
    with pytest.raises(ValueError):
        issue_token(key_dir, "a", org, roles)


def test_settings_choose_the_key_dir_from_the_environment(monkeypatch, key_dir):
    monkeypatch.setenv("ISP_KEY_DIR", str(key_dir))
    monkeypatch.delenv("ISP_JWT_JWKS_URL", raising=False)
    verifier = TokenVerifier.from_settings(ServiceSettings())
    token = issue_token(key_dir, "a", "CGL-WSX", ["admin"])
    assert verifier.verify(token) == Caller("a", "CGL-WSX", frozenset({"admin"}))


# --- production OIDC: a JWKS URL --------------------------------------------------


@pytest.fixture
def jwks_server(key_dir):
    key = ensure_signing_key(key_dir)
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": key_id(key.public_key()), "use": "sig"}]})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(jwks.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


def test_a_jwks_url_verifies_tokens_from_the_identity_provider(jwks_server, key_dir, tmp_path):
    settings = ServiceSettings(jwt_jwks_url=jwks_server, key_dir=tmp_path / "unused")
    verifier = TokenVerifier.from_settings(settings)
    token = issue_token(key_dir, "carol", "CGL-WSX", ["dsl"])
    assert verifier.verify(token) == Caller("carol", "CGL-WSX", frozenset({"dsl"}))
    assert not (tmp_path / "unused").exists()
    stranger = issue_token(tmp_path / "other", "mallory", "CGL-WSX", ["dsl"])
    with pytest.raises(Problem) as raised:
        verifier.verify(stranger)
    assert raised.value.status == 401


def test_an_unreachable_identity_provider_is_503_not_401(key_dir):
    verifier = TokenVerifier(jwks_url="http://127.0.0.1:9/jwks.json")
    token = issue_token(key_dir, "a", "CGL-WSX", ["dsl"])
    with pytest.raises(Problem) as raised:
        verifier.verify(token)
    assert raised.value.status == 503


# --- problem+json for the rest of FastAPI's errors -----------------------------------


def test_a_raised_problem_keeps_its_type_and_extension_members(client):
    response = client.get("/v1/teapot")
    assert response.status_code == 418
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "urn:isp:teapot",
        "title": "I'm a teapot",
        "status": 418,
        "detail": "Short and stout.",
        "spout": 1,
    }


def test_an_unknown_route_is_404_problem(client):
    assert_problem(client.get("/v1/nowhere"), 404)


def test_validation_errors_list_where_and_what_but_never_the_input(client):
    response = client.post("/v1/referrals", json={"nhs_number": "9434765919"})
    body = assert_problem(response, 422)
    assert body["errors"] == [{"loc": ["body", "summary"], "msg": "Field required"}]
    assert "9434765919" not in response.text


def test_an_unhandled_exception_is_500_without_internals(client):
    response = client.get("/v1/crash")
    body = assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert body["title"] == "Internal Server Error"
