"""The `isp` CLI an integrator uses from any directory: settings found or said where it looked,
errors in one line, and the events, alerts and subscribe commands (against stub APIs)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_audit.cli import app as audit_app
from isp_common import cli_support, integrator_cli
from isp_common.auth import PRIVATE_KEY_FILE, TokenVerifier
from isp_common.cli import app
from isp_common.cli_support import CliError
from isp_common.directory import private_jwk, public_jwk
from isp_common.provenance import Trust, check
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from typer.testing import CliRunner

MISSED = "uk.isp.treatment.appointment.missed.v1"
DNA_ALERT = "uk.isp.alert.did_not_attend.v1"
runner = CliRunner()


@pytest.fixture
def outside(tmp_path, monkeypatch) -> Path:
    """A working directory outside any repository, with no ISP_* settings and no user config."""
    here = tmp_path / "work"
    here.mkdir()
    monkeypatch.chdir(here)
    for name in ("ISP_KEY_DIR", "ISP_VAR_DIR", "ISP_TOKEN", "ISP_CONFIG", "ISP_KAFKA_BOOTSTRAP", "ISP_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    for name in ("ISP_NOTIFICATIONS_URL", "ISP_AUDIT_URL", "ISP_GATEWAY_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return here


def isp(*args: str) -> Any:
    return runner.invoke(app, list(args))


def one_line_error(result: Any) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("isp")
    return str(line)


def event(event_type: str = MISSED, **data: Any) -> dict[str, Any]:
    return json.loads(CloudEvent.create(event_type, "CGL-WSX", {**EXAMPLES[event_type], **data}).to_json_bytes())


def write(path: Path, *documents: Any, lines: bool = False) -> Path:
    text = "\n".join(json.dumps(d) for d in documents) if lines else json.dumps(documents[0])
    path.write_text(text + "\n")
    return path


# -- finding the suite ---------------------------------------------------------------------------


def test_help_lists_every_command():
    result = isp("--help")
    assert result.exit_code == 0
    for command in ("token", "directory", "events", "alerts", "subscribe"):
        assert command in result.output
    events_help = isp("events", "--help").output
    assert all(name in events_help for name in ("validate", "send", "rejections"))


def test_token_outside_the_repository_says_where_it_looked_and_makes_no_key(outside):
    line = one_line_error(isp("token", "--org", "CGL-WSX", "--role", "dsl"))
    assert "$ISP_KEY_DIR" in line and str(outside) in line and "config.toml" in line
    assert list(outside.iterdir()) == []


def test_debug_shows_the_traceback_instead(outside):
    result = isp("--debug", "token", "--org", "CGL-WSX", "--role", "dsl")
    assert isinstance(result.exception, CliError)


def test_token_uses_the_repository_above_the_current_directory(outside, monkeypatch):
    repository = outside.parent / "checkout"
    (repository / "services" / "common").mkdir(parents=True)
    (repository / "services" / "common" / "pyproject.toml").write_text("")
    (repository / "docs").mkdir()
    monkeypatch.chdir(repository / "docs")
    result = isp("token", "--org", "CGL-WSX", "--role", "dsl")
    assert result.exit_code == 0, result.output
    assert TokenVerifier.from_key_dir(repository / "var" / "keys").verify(result.stdout.strip()).org == "CGL-WSX"


def test_token_uses_isp_var_dir_then_the_user_config(outside, monkeypatch, tmp_path):
    monkeypatch.setenv("ISP_VAR_DIR", str(tmp_path / "var"))
    made = isp("token", "--org", "CGL-WSX", "--role", "dsl")
    assert TokenVerifier.from_key_dir(tmp_path / "var" / "keys").verify(made.stdout.strip()).org == "CGL-WSX"
    monkeypatch.delenv("ISP_VAR_DIR")
    config = tmp_path / "config" / "isp" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'key_dir = "{tmp_path / "var" / "keys"}"\n')
    found = isp("token", "--org", "WSCC-CSC", "--role", "social_care")
    assert TokenVerifier.from_key_dir(tmp_path / "var" / "keys").verify(found.stdout.strip()).org == "WSCC-CSC"


def test_audit_verify_outside_the_repository_is_one_line(outside):
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    [line] = result.stderr.splitlines()
    assert "no audit database" in line and "--database" in line
    assert list(outside.iterdir()) == []


# -- events validate ------------------------------------------------------------------------------


def test_validate_accepts_a_valid_event(outside):
    result = isp("events", "validate", str(write(outside / "e.json", event())))
    assert result.exit_code == 0, result.output
    assert result.stdout == "1 event valid\n"


def test_validate_prints_every_problem_by_field_path_and_line(outside):
    bad = event()
    bad["data"].pop("appointment_id")
    bad["data"]["person"]["nhs_number"] = "123"
    typo = event(consentId="c-1")
    path = write(outside / "events.jsonl", event(), bad, typo, lines=True)
    result = isp("events", "validate", str(path))
    assert result.exit_code == 1
    out = result.stdout.splitlines()
    assert any(f"{path}:2" in line and "data.appointment_id" in line for line in out), out
    assert any(f"{path}:2" in line and "data.person.nhs_number" in line for line in out), out
    assert any(f"{path}:3" in line and "consentId" in line for line in out), out
    assert not any(f"{path}:1" in line for line in out)
    assert "2 of 3 events invalid" in result.stderr
    assert "9434765919" not in result.output  # the example's NHS number: values are never echoed


def test_validate_with_a_topic_refuses_an_event_on_the_wrong_one(outside):
    path = write(outside / "e.json", event())
    result = isp("events", "validate", str(path), "--topic", topics.CONSENT)
    assert result.exit_code == 1 and topics.CONSENT in result.stdout


def test_validate_reads_a_json_list(outside):
    result = isp("events", "validate", str(write(outside / "list.json", [event(), event()])))
    assert result.exit_code == 0 and result.stdout == "2 events valid\n"


def test_validate_says_in_one_line_when_the_file_cannot_be_read(outside):
    assert "cannot read" in one_line_error(isp("events", "validate", "missing.json"))


# -- events send ----------------------------------------------------------------------------------


@pytest.fixture
def produced(monkeypatch) -> list[tuple[str, Any, list]]:
    sent: list[tuple[str, Any, list]] = []

    async def produce(bootstrap, messages, headers):
        sent.extend((bootstrap, message, headers) for message in messages)
        return [f"{m.topic}[0]@{i}" for i, m in enumerate(messages)]

    monkeypatch.setattr(integrator_cli, "produce", produce)
    return sent


def test_send_publishes_each_event_on_its_types_topic_keyed_by_subject(outside, produced, monkeypatch):
    monkeypatch.setenv("ISP_KAFKA_BOOTSTRAP", "broker:9092")
    document = event()
    result = isp("events", "send", str(write(outside / "e.json", document)))
    assert result.exit_code == 0, result.output
    [(bootstrap, message, headers)] = produced
    assert (bootstrap, message.topic, headers) == ("broker:9092", topics.TREATMENT, [])
    assert message.key == topics.message_key(CloudEvent.model_validate(document)).encode()
    assert json.loads(message.value) == document
    assert f"sent {document['id']} ({MISSED}) to {topics.TREATMENT}[0]@0" in result.stdout


def test_send_sends_nothing_if_any_event_is_invalid(outside, produced):
    path = write(outside / "e.jsonl", event(), event(consentId="x"), lines=True)
    result = isp("events", "send", str(path))
    assert result.exit_code == 1 and "nothing was sent" in result.stderr and "consentId" in result.stdout
    assert produced == []


def test_send_needs_a_topic_for_an_alert(outside, produced):
    path = write(outside / "a.json", event(DNA_ALERT))
    assert "--topic isp.alerts.<ORG>.v1" in one_line_error(isp("events", "send", str(path)))
    result = isp("events", "send", str(path), "--topic", topics.alerts("WSCC-CSC"))
    assert result.exit_code == 0, result.output
    assert produced[0][1].topic == "isp.alerts.WSCC-CSC.v1"


def test_send_to_a_broker_that_is_not_there_is_one_line(outside):
    path = write(outside / "e.json", event())
    line = one_line_error(isp("events", "send", str(path), "--bootstrap", "127.0.0.1:1"))
    assert "cannot publish to Kafka at 127.0.0.1:1" in line


def test_send_to_a_broker_that_is_not_there_says_only_that_as_a_real_process(outside):
    """Run as ``isp`` is run: aiokafka's own "Unable connect to ..." log line came before the one
    line, and the producer that could not start was never stopped ("Unclosed AIOKafkaProducer" and
    its repr after it, as the interpreter exited)."""
    path = write(outside / "e.json", event())
    command = [sys.executable, "-c", "from isp_common.cli import main; main()", "events", "send", str(path)]
    done = subprocess.run([*command, "--bootstrap", "127.0.0.1:1"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "isp: cannot publish to Kafka at 127.0.0.1:1 (KafkaConnectionError): is the suite running? (--bootstrap)"
    ]
    debugging = subprocess.run(
        [*command, "--bootstrap", "127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ISP_DEBUG": "1"},
    )
    assert "Unable connect to" in debugging.stderr and "Traceback" in debugging.stderr  # --debug shows all
    assert "Unclosed" not in debugging.stderr


# -- HTTP commands against stub APIs --------------------------------------------------------------


@pytest.fixture
def api(outside, monkeypatch, tmp_path):
    """Stub APIs: ``api.answers[(method, path)]`` is a list of (status, body) answered in turn;
    ``api.requests`` what was asked. Tokens are minted with a key under ISP_KEY_DIR."""

    class Stub:
        answers: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        requests: list[httpx.Request] = []
        key_dir = tmp_path / "keys"

    def handle(request: httpx.Request) -> httpx.Response:
        Stub.requests.append(request)
        status, body = Stub.answers[(request.method, request.url.path)].pop(0)
        return httpx.Response(status, json=body)

    def client(url: str, token: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=url, headers=headers, transport=httpx.MockTransport(handle))

    monkeypatch.setenv("ISP_KEY_DIR", str(Stub.key_dir))
    isp("token", "--org", "CGL-WSX", "--role", "dsl")  # makes the key, as the suite would
    assert (Stub.key_dir / PRIVATE_KEY_FILE).is_file()
    monkeypatch.setattr(cli_support, "http_client", client)
    return Stub


def caller_of(stub: Any, request: httpx.Request) -> Any:
    return TokenVerifier.from_key_dir(stub.key_dir).verify(request.headers["Authorization"].split()[1])


def rejection(n: int) -> dict[str, Any]:
    return {
        "id": f"rej-{n}",
        "time": f"2026-03-02T10:0{n}:00Z",
        "topic": topics.TREATMENT,
        "type": MISSED,
        "event_id": f"evt-{n}",
        "reason": "data.appointment_id: Field required",
    }


def test_rejections_follows_the_pages_for_the_callers_organisation(api):
    api.answers[("GET", "/v1/rejections")] = [
        (200, {"items": [rejection(1), rejection(2)], "total": 3, "next": "c2"}),
        (200, {"items": [rejection(3)], "total": 3, "next": None}),
    ]
    result = isp("events", "rejections", "--org", "CGL-WSX")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and lines[0].split("  ")[:4] == ["2026-03-02T10:01:00Z", topics.TREATMENT, MISSED, "evt-1"]
    assert lines[0].endswith("data.appointment_id: Field required")
    first, second = api.requests
    assert "after" not in first.url.params and second.url.params["after"] == "c2"
    assert caller_of(api, first).org == "CGL-WSX"
    assert str(first.url).startswith("http://127.0.0.1:8004/")
    assert "3 of 3 rejections of CGL-WSX" in result.stderr


def test_rejections_stops_at_the_limit_and_says_how_to_go_on(api):
    api.answers[("GET", "/v1/rejections")] = [(200, {"items": [rejection(1)], "total": 5, "next": "c1"})]
    result = isp("events", "rejections", "--org", "CGL-WSX", "--limit", "1")
    assert result.exit_code == 0 and "more with --after c1" in result.stderr
    assert api.requests[0].url.params["limit"] == "1"


def test_rejections_when_the_audit_api_refuses_is_one_line(api):
    api.answers[("GET", "/v1/rejections")] = [(401, {"title": "Unauthorized", "status": 401})]
    assert "token was not accepted" in one_line_error(isp("events", "rejections", "--org", "CGL-WSX"))


def test_rejections_when_the_suite_is_not_running_is_one_line(outside, monkeypatch, tmp_path):
    monkeypatch.setenv("ISP_KEY_DIR", str(tmp_path / "keys"))
    isp("token", "--org", "CGL-WSX", "--role", "dsl")
    line = one_line_error(isp("events", "rejections", "--org", "CGL-WSX", "--url", "http://127.0.0.1:1"))
    assert "is the suite running?" in line


def alert(number: int) -> dict[str, Any]:
    return {
        "alert_id": f"alert-{number}",
        "type": DNA_ALERT,
        "status": "delivered",
        "sender": "CGL-WSX",
        "recipient": "WSCC-CSC",
        "created_at": "2026-03-02T10:00:00Z",
        "deadline": "2026-03-03T10:00:00Z",
        "delivered_at": None,
        "acknowledged_at": None,
        "event_number": number,
        "event": {"data": {"person": {"nhs_number": "9434765919"}}},
    }


def test_alerts_tail_prints_one_line_per_alert_and_moves_its_cursor(api):
    api.answers[("GET", "/v1/alerts")] = [
        (200, {"items": [alert(4), alert(5)], "event_count": 5}),
        (200, {"items": [], "event_count": 5}),
    ]
    result = isp("alerts", "tail", "--org", "WSCC-CSC", "--after", "3", "--once")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines == [
        f"#4  2026-03-02T10:00:00Z  {DNA_ALERT}  alert-4  from CGL-WSX  delivered  deadline 2026-03-03T10:00:00Z",
        f"#5  2026-03-02T10:00:00Z  {DNA_ALERT}  alert-5  from CGL-WSX  delivered  deadline 2026-03-03T10:00:00Z",
    ]
    assert "9434765919" not in result.output
    [request] = api.requests
    assert request.url.params["after"] == "3" and caller_of(api, request).org == "WSCC-CSC"


def test_alerts_tail_follows_next_when_the_api_gives_one(api):
    api.answers[("GET", "/v1/alerts")] = [
        (200, {"items": [alert(1)], "total": 2, "next": "7"}),
        (200, {"items": [alert(2)], "total": 2, "next": None}),
    ]
    result = isp("alerts", "tail", "--org", "WSCC-CSC", "--after", "1", "--once")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 2
    assert [r.url.params["after"] for r in api.requests] == ["1", "7"]


def test_alerts_tail_without_a_subscription_prints_the_newest_once_each_oldest_first(api):
    api.answers[("GET", "/v1/alerts")] = [(200, {"items": [alert(2), alert(1)], "total": 2, "next": None})]
    result = isp("alerts", "tail", "--org", "WSCC-CSC", "--once")
    assert result.exit_code == 0, result.output
    assert [line.split()[3] for line in result.stdout.splitlines()] == ["alert-1", "alert-2"]
    [request] = api.requests
    assert "after" not in request.url.params and "subscription_id" not in request.url.params


def test_alerts_tail_works_against_the_real_notifications_api(outside, monkeypatch, tmp_path):
    """The stubs above answer what the test says; this asks the notifications service itself (an
    organisation with no subscription: no event numbers to follow)."""
    from fastapi.testclient import TestClient
    from isp_common.testing import migrated_engine
    from isp_notifications.bootstrap import build
    from isp_notifications.settings import Settings

    runtime = build(Settings(var_dir=tmp_path / "var"), engine=migrated_engine("isp_notifications"))

    def client(url: str, token: str) -> TestClient:
        return TestClient(runtime.api, base_url=url, headers={"Authorization": f"Bearer {token}"})

    monkeypatch.setenv("ISP_KEY_DIR", str(runtime.settings.resolved_key_dir))
    monkeypatch.setattr(cli_support, "http_client", client)
    result = isp("alerts", "tail", "--org", "WSCC-CSC", "--once")
    assert result.exit_code == 0, result.output


def test_subscribe_prints_the_id_and_the_secret_once(api):
    made = {"id": "sub-1", "secret": "whsec_abc", "url": "https://csc.example/hook", "types": [DNA_ALERT], "org": "X"}
    api.answers[("POST", "/v1/subscriptions")] = [(201, made)]
    result = isp("subscribe", "https://csc.example/hook", "--types", DNA_ALERT, "--org", "WSCC-CSC")
    assert result.exit_code == 0, result.output
    assert "subscription sub-1" in result.stdout and result.stdout.count("whsec_abc") == 1
    [request] = api.requests
    assert json.loads(request.content) == {"url": "https://csc.example/hook", "types": [DNA_ALERT]}
    assert caller_of(api, request).org == "WSCC-CSC"


def test_subscribe_names_the_invalid_field_in_one_line(api):
    problem = {"status": 422, "errors": [{"loc": ["body", "url"], "msg": "must be https"}]}
    api.answers[("POST", "/v1/subscriptions")] = [(422, problem)]
    line = one_line_error(isp("subscribe", "http://x", "--types", "*", "--org", "WSCC-CSC"))
    assert "the subscription is not valid: url: must be https" in line


def test_send_through_the_gateway_posts_a_batch_as_the_source_organisation(api, outside):
    documents = [event(), event()]
    api.answers[("POST", "/v1/events")] = [(202, {"ids": [d["id"] for d in documents], "signed_for": "CGL-WSX"})]
    path = write(outside / "e.jsonl", *documents, lines=True)
    result = isp("events", "send", str(path), "--gateway")
    assert result.exit_code == 0, result.output
    [request] = api.requests
    assert request.headers["content-type"] == "application/cloudevents-batch+json"
    assert json.loads(request.content) == documents
    assert caller_of(api, request).org == "CGL-WSX" and str(request.url).startswith("http://127.0.0.1:8005/")
    assert result.stdout.count("through the gateway") == 2


@pytest.mark.integration
def test_send_publishes_to_the_broker_signed_with_the_organisations_key(outside, broker_bootstrap, kafka):
    private = Ed25519PrivateKey.generate()
    key_file = outside / "cgl-wsx.jwk"
    key_file.write_text(json.dumps(private_jwk(private)))
    documents = [event(), event()]
    path = write(outside / "e.jsonl", *documents, lines=True)
    result = isp("events", "send", str(path), "--bootstrap", broker_bootstrap, "--key-file", str(key_file))
    assert result.exit_code == 0, result.output
    ids = {d["id"] for d in documents}
    records = asyncio.run(kafka.collect(topics.TREATMENT, lambda r: json.loads(r.value)["id"] in ids, count=2))
    trust = Trust(org_keys={"CGL-WSX": {"keys": [public_jwk(private.public_key())]}}.get)
    for record in records:
        assert record.key == json.loads(record.value)["subject"].encode()
        data = json.loads(record.value)["data"]
        assert check(record.value, list(record.headers), "CGL-WSX", MISSED, data, trust) == "signed"
