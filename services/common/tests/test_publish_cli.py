"""``isp publish`` (CONTRACT §10): validated locally, signed with the organisation's key, on the
event type's topic; a bad event publishes nothing and says why in one line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_common.cli import add_plugin_commands, app
from isp_common.directory import private_jwk, public_jwk
from isp_common.provenance import Signer, Trust, check
from isp_common.publish import prepare
from isp_schemas import topics
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from isp_schemas.registry import InvalidEvent
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


def test_each_event_goes_to_its_types_topic_signed_with_the_organisations_key(key: Any) -> None:
    path, jwks = key
    one = event()
    [(topic, message_key, value, signature)] = prepare([one], None, Signer.from_jwk(json.loads(path.read_text())))
    assert (topic, message_key) == (topics.TREATMENT, one["subject"].encode())
    trust = Trust(org_keys={PROVIDER: jwks}.get)
    assert check(value, [("isp-signature", signature.encode())], PROVIDER, MISSED, one["data"], trust) == "signed"


def test_an_invalid_event_or_the_wrong_topic_stops_the_whole_file(key: Any) -> None:
    signer = Signer.from_jwk(json.loads(key[0].read_text()))
    bad = event()
    del bad["data"]["appointment_id"]
    with pytest.raises(InvalidEvent, match="event 1: .*appointment_id"):
        prepare([event(), bad], None, signer)
    with pytest.raises(InvalidEvent, match="belongs on 'isp.treatment.v1'"):
        prepare([event()], topics.CONSENT, signer)


def runner_app() -> Any:
    add_plugin_commands(app)
    return app


def test_the_command_publishes_to_the_broker_and_prints_the_ids(
    key: Any, tmp_path: Path, broker_bootstrap: str, kafka: Any
) -> None:
    path, jwks = key
    events = [event(), event()]
    file = tmp_path / "events.json"
    file.write_text(json.dumps(events))
    result = CliRunner().invoke(
        runner_app(), ["publish", "--key-file", str(path), "--bootstrap", broker_bootstrap, str(file)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.split() == [e["id"] for e in events]
    ids = {e["id"] for e in events}
    records = asyncio.run(kafka.collect(topics.TREATMENT, lambda r: json.loads(r.value)["id"] in ids, count=2))
    trust = Trust(org_keys={PROVIDER: jwks}.get)
    for record in records:
        data = json.loads(record.value)["data"]
        assert check(record.value, list(record.headers), PROVIDER, MISSED, data, trust) == "signed"


def test_a_bad_event_is_one_line_and_nothing_is_sent(key: Any, tmp_path: Path) -> None:
    bad = event()
    bad["data"]["person"]["nhs_number"] = "12"
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(bad))
    result = CliRunner().invoke(
        runner_app(), ["publish", "--key-file", str(key[0]), "--bootstrap", "127.0.0.1:1", str(file)]
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "nothing was published" in lines[0] and "Traceback" not in result.output
