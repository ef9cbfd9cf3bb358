from pathlib import Path

from isp_schemas import generate
from isp_schemas.registry import EVENT_TYPES


def test_generated_files_are_current():
    stale = generate.stale_files()
    assert not stale, f"regenerate with `uv run python -m isp_schemas.generate`: {stale}"


def test_check_mode_fails_on_a_stale_file(tmp_path: Path, capsys):
    generate.write(tmp_path)
    assert generate.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "asyncapi.json").write_text("{}\n")
    (tmp_path / "jsonschema" / "uk.isp.gone.v1.json").write_text("{}\n")
    assert generate.main(["--check", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "asyncapi.json" in err and "uk.isp.gone.v1.json" in err


def test_there_is_a_schema_per_event_type_and_an_asyncapi_channel_per_topic():
    files = generate.expected_files()
    assert {f"jsonschema/{t}.json" for t in EVENT_TYPES} <= set(files)
    document = generate.asyncapi()
    assert document["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in document["channels"].values()}
    assert "isp.alerts.{org}.v1" in addresses and "isp.treatment.v1" in addresses
    assert len(document["components"]["messages"]) == len(EVENT_TYPES)
