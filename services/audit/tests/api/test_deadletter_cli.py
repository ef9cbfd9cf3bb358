"""``isp deadletter list|show|replay`` against the audit API in process (the default token is
minted with the runtime's embedded key, as the partnership's administrator)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from isp_audit import deadletter_cli
from isp_schemas import topics
from typer.testing import CliRunner, Result

from ..deadletter_kit import api_client, missed, reject


@pytest.fixture
def api(tmp_path):
    return api_client(tmp_path)


@pytest.fixture
def isp(api, monkeypatch):
    runtime = api.runtime

    def client(url: str, token: str) -> TestClient:
        return TestClient(runtime.api, base_url=url, headers={"Authorization": f"Bearer {token}"})

    monkeypatch.setattr(deadletter_cli, "_client", client)

    def run(*args: str) -> Result:
        env = {"ISP_TOKEN": None, "ISP_AUDIT_URL": None}
        key_dir = ["--key-dir", str(runtime.settings.resolved_key_dir)]
        return CliRunner().invoke(deadletter_cli.app, [*args, *key_dir], env=env)

    return run


def test_list_shows_each_rejected_event_once_without_payload(api, isp):
    events = [missed("CGL-WSX"), missed("ACME-RX")]
    reject(api, *events)
    result = isp("list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(e.id in line for e, line in zip(events, lines, strict=True))
    assert "ACME-RX" in lines[1] and "Sam" not in result.output  # no payload
    assert "2 of 2 rejected events" in result.stderr


def test_list_filters_and_prints_json(api, isp):
    reject(api, missed())
    reject(api, missed(), topic=topics.CONSENT, reason="rejected: bad signature", offset=10)
    result = isp("list", "--topic", topics.CONSENT, "--json")
    body = json.loads(result.stdout)
    assert body["total"] == 1 and body["items"][0]["reason"] == "rejected: bad signature"
    assert json.loads(isp("list", "--reason", "signature", "--json").stdout)["total"] == 1


def test_show_gives_the_payload_only_with_the_option(api, isp):
    event = missed()
    reject(api, event)
    [item] = json.loads(isp("list", "--json").stdout)["items"]
    plain = json.loads(isp("show", item["id"]).stdout)
    assert plain["payload"] is None
    full = json.loads(isp("show", item["id"], "--payload", "--purpose", "repair").stdout)
    assert json.loads(full["payload"]["value"])["id"] == event.id


def test_replay_one_and_by_filter(api, isp):
    reject(api, missed(), missed())
    first, second = json.loads(isp("list", "--json").stdout)["items"]
    one = isp("replay", first["id"])
    assert one.exit_code == 0 and one.stdout.split() == [first["id"]]
    rest = isp("replay", "--topic", topics.TREATMENT)
    assert rest.stdout.split() == [second["id"]] and "replayed 1 rejected events" in rest.stderr
    assert len(api.runtime.producer.sent) == 2


def test_replay_without_a_selection_is_refused_before_calling(api, isp):
    result = isp("replay")
    assert result.exit_code == 2 and api.runtime.producer.sent == []


def test_an_unknown_id_is_said_in_one_line(isp):
    result = isp("show", "rej-nope")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["isp deadletter: no rejection has that id: No rejection has that id."]


def test_a_token_without_the_admin_role_is_said_plainly(api, isp):
    from isp_common.testing import bearer

    token = bearer(api.runtime.settings.resolved_key_dir, "CGL-WSX", "provider")
    result = isp("list", "--token", token)
    assert result.exit_code == 1 and "needs the role admin" in result.stderr
