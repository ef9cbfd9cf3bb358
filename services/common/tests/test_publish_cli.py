"""``isp publish`` (CONTRACT §10): validated locally, signed with the organisation's key, on the
event type's topic; a bad event publishes nothing and says why."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_common.cli import add_plugin_commands, app
from isp_common.directory import private_jwk, public_jwk
from isp_common.provenance import Trust, check
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from typer.testing import CliRunner

PROVIDER = "CGL-WSX"
MISSED = "uk.isp.treatment.appointment.missed.v1"


def event(**data: Any) -> dict[str, Any]:
    return json.loads(CloudEvent.create(MISSED, PROVIDER, {**EXAMPLES[MISSED], **data}).to_json_bytes())


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    private = Ed25519PrivateKey.generate()
    path = tmp_path / "cgl-wsx.jwk"
    path.write_text(json.dumps(private_jwk(private)))
    return path, {"keys": [public_jwk(private.public_key())]}


def isp(*args: str) -> Any:
    add_plugin_commands(app)
    return CliRunner().invoke(app, list(args))


def test_each_event_goes_to_its_types_topic_signed_with_the_organisations_key(
    key: Any, tmp_path: Path, broker_bootstrap: str, kafka: Any
) -> None:
    path, jwks = key
    events = [event(), event()]
    file = tmp_path / "events.json"
    file.write_text(json.dumps(events))
    result = isp("publish", "--key-file", str(path), "--bootstrap", broker_bootstrap, str(file))
    assert result.exit_code == 0, result.output
    ids = {e["id"] for e in events}
    records = asyncio.run(kafka.collect(topics.TREATMENT, lambda r: json.loads(r.value)["id"] in ids, count=2))
    assert len(records) == 2
    trust = Trust(org_keys={PROVIDER: jwks}.get)
    for record in records:
        assert record.key == json.loads(record.value)["subject"].encode()
        data = json.loads(record.value)["data"]
        assert check(record.value, list(record.headers), PROVIDER, MISSED, data, trust) == "signed"


@pytest.mark.parametrize("topic", [None, topics.CONSENT])
def test_a_bad_event_or_the_wrong_topic_publishes_nothing_and_says_why(key: Any, tmp_path: Path, topic: Any) -> None:
    bad = event()
    if topic is None:
        bad["data"]["person"]["nhs_number"] = "12"
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(bad))
    where = ["--topic", topic] if topic else []
    result = isp("publish", "--key-file", str(key[0]), "--bootstrap", "127.0.0.1:1", *where, str(file))
    assert result.exit_code == 1
    assert "nothing was sent" in result.output and "Traceback" not in result.output
    assert ("belongs on 'isp.treatment.v1'" if topic else "data.person.nhs_number") in result.output
