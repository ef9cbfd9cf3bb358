"""Write the JSON Schemas and AsyncAPI document partners read: `python -m isp_schemas.generate`.

``--check`` writes nothing and exits 1 listing the files that are missing, stale or extra,
so CI fails when a model changed without regenerating. Output is deterministic: sorted keys,
two-space indent, trailing newline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import topics
from .envelope import CONTENT_TYPE, CloudEvent, EventData
from .examples import EXAMPLES
from .registry import EVENT_TYPES

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "generated"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_FILE = "cloudevent.json"
VERSION = "1.1.0"

_CHANNELS: dict[str, str] = {
    "treatment": topics.TREATMENT,
    "socialcare": topics.SOCIALCARE,
    "referrals": topics.REFERRALS,
    "consent": topics.CONSENT,
    "register": topics.REGISTER,
    "audit": topics.AUDIT,
    "auditcheckpoints": topics.AUDIT_CHECKPOINTS,
    "directory": topics.DIRECTORY,
    "deadletter": topics.DEADLETTER,
    "alerts": topics.ALERTS_TEMPLATE,
}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def data_schema(model: type[EventData]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = f"urn:isp:schema:{model.event_type}"
    schema["x-isp-event-type"] = model.event_type
    schema["x-isp-topic"] = model.topic
    schema["examples"] = [EXAMPLES[model.event_type]]
    return schema


def envelope_schema() -> dict[str, Any]:
    schema = CloudEvent.model_json_schema()
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = "urn:isp:schema:cloudevent"
    return schema


def _message_name(model: type[EventData]) -> str:
    return model.__name__


def asyncapi() -> dict[str, Any]:
    """An AsyncAPI 3.0.0 document: a channel per topic, a message per event type."""
    models = sorted(EVENT_TYPES.values(), key=lambda m: m.event_type)
    documented: list[type[BaseModel]] = [CloudEvent, *models]
    _, defs = models_json_schema(
        [(m, "validation") for m in documented],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    messages: dict[str, Any] = {}
    by_channel: dict[str, list[str]] = {name: [] for name in _CHANNELS}
    channel_of_topic = {address: name for name, address in _CHANNELS.items()}
    for model in models:
        name = _message_name(model)
        schemas[f"{name}Event"] = {
            "allOf": [
                {"$ref": "#/components/schemas/CloudEvent"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": model.event_type},
                        "data": {"$ref": f"#/components/schemas/{name}"},
                    },
                },
            ]
        }
        messages[name] = {
            "name": model.event_type,
            "title": name,
            "summary": (model.__doc__ or name).strip().splitlines()[0],
            "contentType": CONTENT_TYPE,
            "payload": {"$ref": f"#/components/schemas/{name}Event"},
        }
        by_channel[channel_of_topic[model.topic]].append(name)

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, address in _CHANNELS.items():
        spec = topics.TOPICS[address]
        channel: dict[str, Any] = {
            "address": address,
            "description": (
                f"{spec.description} Publishers: {spec.publishers}. Consumers: {spec.consumers}. Key: {spec.key}."
            ),
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in by_channel[name]},
            "bindings": {"kafka": {"partitions": spec.partitions, "bindingVersion": "0.5.0"}},
        }
        if address == topics.ALERTS_TEMPLATE:
            channel["parameters"] = {"org": {"description": "The recipient organisation id (ODS-style code)."}}
        channels[name] = channel
        refs = [{"$ref": f"#/channels/{name}/messages/{m}"} for m in by_channel[name]]
        for action in ("send", "receive"):
            operations[f"{action}{name.capitalize()}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{name}"},
                "messages": refs,
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ISP event backbone",
            "version": VERSION,
            "description": (
                "Safeguarding events between drug and alcohol treatment providers and "
                "children's social care. Every message is a CloudEvents 1.0 event in "
                "structured JSON mode; the message key is the subject (conference id for "
                "conference events). Messages that fail validation go to isp.deadletter.v1 "
                "byte for byte."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "embedded": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The embedded broker started by make run (ISP_KAFKA_BOOTSTRAP).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def expected_files() -> dict[str, str]:
    """Relative path -> content of every generated file."""
    files = {f"jsonschema/{ENVELOPE_FILE}": render(envelope_schema())}
    for event_type, model in EVENT_TYPES.items():
        files[f"jsonschema/{event_type}.json"] = render(data_schema(model))
    files["asyncapi.json"] = render(asyncapi())
    return files


def _present(out: Path) -> set[str]:
    found = {p.relative_to(out).as_posix() for p in (out / "jsonschema").glob("*.json")}
    if (out / "asyncapi.json").exists():
        found.add("asyncapi.json")
    return found


def stale_files(out: Path = DEFAULT_OUT) -> list[str]:
    """Files under ``out`` that are missing, differ from what would be written, or are extra."""
    expected = expected_files()
    stale = [
        rel
        for rel, content in expected.items()
        if not (out / rel).exists() or (out / rel).read_text(encoding="utf-8") != content
    ]
    stale += [rel for rel in _present(out) if rel not in expected]
    return sorted(stale)


def write(out: Path = DEFAULT_OUT) -> list[str]:
    """Write every file, remove extra ones; returns the paths that changed."""
    changed = stale_files(out)
    expected = expected_files()
    (out / "jsonschema").mkdir(parents=True, exist_ok=True)
    for rel in _present(out) - expected.keys():
        (out / rel).unlink()
    for rel in changed:
        if rel in expected:
            (out / rel).write_text(expected[rel], encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m isp_schemas.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if any file is stale")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out)
        for rel in stale:
            print(f"stale: {args.out / rel}", file=sys.stderr)
        if stale:
            print("run: uv run python -m isp_schemas.generate", file=sys.stderr)
        return 1 if stale else 0
    for rel in write(args.out):
        print(f"wrote {args.out / rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
