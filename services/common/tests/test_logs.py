"""Logs an operator can read: JSON lines with ids, never people; one access line per request."""

from __future__ import annotations

import io
import json
import logging

import pytest
from fastapi.testclient import TestClient
from isp_common import logs, telemetry
from isp_common.auth import CurrentCaller
from isp_common.testing import auth_headers, nhs_number
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor


@pytest.fixture
def output():
    """Everything logged while the test runs, as configured by logs.configure (JSON); root restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    logs.configure("demo", log_format="json", level="INFO", stream=stream)
    yield stream
    root.handlers, _ = saved
    root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_is_one_json_line_with_service_level_logger_and_message(output):
    logging.getLogger("isp.test").warning("outbox row %s given up", "row-1")
    [record] = lines(output)
    assert {k: record[k] for k in ("service", "level", "logger", "message")} == {
        "service": "demo",
        "level": "WARNING",
        "logger": "isp.test",
        "message": "outbox row row-1 given up",
    }
    assert record["time"].startswith("20")
    assert not {"trace_id", "event_id"} & set(record)  # only when there is one


def test_a_record_carries_the_current_trace_and_event(output, settings):
    telemetry.configure_tracing(settings)  # real span ids, as in a service
    with (
        telemetry.tracer("test").start_as_current_span("handle") as span,
        logs.event_context("evt-1", "uk.isp.treatment.appointment.missed.v1"),
    ):
        logging.getLogger("isp.test").info("handled")
    logging.getLogger("isp.test").info("after")
    during, after = lines(output)
    context = span.get_span_context()
    assert during["trace_id"] == format(context.trace_id, "032x")
    assert during["span_id"] == format(context.span_id, "016x")
    assert (during["event_id"], during["event_type"]) == ("evt-1", "uk.isp.treatment.appointment.missed.v1")
    assert "event_id" not in after and "trace_id" not in after


def test_text_format_keeps_one_plain_line_with_the_ids():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ContextFilter("demo"))
    handler.setFormatter(logs.TextFormatter())
    record = logging.LogRecord("isp.test", logging.INFO, __file__, 1, "handled", None, None)
    with logs.event_context("evt-2", "uk.isp.consent.given.v1"):
        handler.handle(record)
    text = stream.getvalue()
    assert text.count("\n") == 1 and "INFO isp.test: handled" in text
    assert "event_id=evt-2 event_type=uk.isp.consent.given.v1" in text


@pytest.mark.parametrize(
    ("environ", "chosen"),
    [
        ({}, "text"),
        ({"ISP_ENVIRONMENT": "production"}, "json"),
        ({"ISP_ENVIRONMENT": "production", "ISP_LOG_FORMAT": "text"}, "text"),
        ({"ISP_LOG_FORMAT": "JSON"}, "json"),
    ],
)
def test_the_format_is_json_in_production_and_text_otherwise_unless_chosen(environ, chosen):
    assert logs.chosen_format(environ) == chosen


@pytest.fixture
def client(runtime):
    @runtime.api.get("/v1/people/{nhs}/alerts")
    def alerts_of(nhs: str, caller: CurrentCaller) -> dict[str, str]:
        return {"org": caller.org}

    return TestClient(runtime.api)


def access_lines(stream: io.StringIO) -> list[dict]:
    return [r for r in lines(stream) if r["logger"] == "isp.access"]


def test_the_access_log_names_the_route_template_never_the_path_query_or_token(runtime, client, output):
    number = nhs_number(7)
    headers = auth_headers(runtime.settings.resolved_key_dir, "CGL-WSX", "provider")
    response = client.get(f"/v1/people/{number}/alerts?name=Sam+Taylor", headers=headers)
    assert response.status_code == 200
    [line] = access_lines(output)
    assert (line["method"], line["route"], line["status"]) == ("GET", "/v1/people/{nhs}/alerts", 200)
    assert line["duration_ms"] >= 0 and line["service"] == "demo"
    assert line["trace_id"] == response.headers["traceparent"].split("-")[1]
    text = output.getvalue()
    token = headers["Authorization"].split()[1]
    assert number not in text and "Sam" not in text and token not in text and "name=" not in text


def test_the_access_log_records_refusals_and_unmatched_paths_without_the_path(runtime, client, output):
    assert client.get(f"/v1/people/{nhs_number(8)}/alerts").status_code == 401
    assert client.get(f"/nowhere/{nhs_number(9)}").status_code == 404
    refused, unmatched = access_lines(output)
    assert (refused["route"], refused["status"]) == ("/v1/people/{nhs}/alerts", 401)
    assert (unmatched["route"], unmatched["status"]) == ("unmatched", 404)
    assert nhs_number(8) not in output.getvalue() and nhs_number(9) not in output.getvalue()


def test_probes_are_not_access_logged(client, output):
    assert client.get("/healthz").status_code == 200
    assert access_lines(output) == []


def test_the_request_span_is_named_by_the_route_template(runtime, client, output, monkeypatch):
    spans: list[str] = []

    class Names(SpanProcessor):
        def on_end(self, span):
            spans.append(span.name)

    provider = trace.get_tracer_provider()
    provider.add_span_processor(Names())  # type: ignore[attr-defined] - the SDK provider telemetry installs
    monkeypatch.setattr(provider.sampler, "exported", True)  # type: ignore[attr-defined] - as if exported
    client.get(f"/v1/people/{nhs_number(10)}/alerts")
    assert "GET /v1/people/{nhs}/alerts" in spans
    assert not any(nhs_number(10) in name for name in spans)


async def test_a_handlers_log_lines_name_the_event_being_handled(output):
    from datetime import date

    from isp_common.consumer import EventProcessor
    from isp_common.db import UnitOfWork, create_schema, make_engine
    from isp_common.testing import RecordingDeadLetters
    from isp_schemas import topics
    from isp_schemas.consent import ConsentWithdrawn
    from isp_schemas.envelope import CloudEvent
    from isp_schemas.people import Person

    engine = make_engine("sqlite://")
    create_schema(engine)

    def handler(uow, event, data):
        logging.getLogger("isp.test.handler").warning("handling it")

    processor = EventProcessor(
        consumer_name="test:consent",
        handlers={ConsentWithdrawn.event_type: handler},
        uow_factory=lambda: UnitOfWork(engine),
        deadletters=RecordingDeadLetters(),  # type: ignore[arg-type]  # the one method the processor calls
    )
    data = ConsentWithdrawn(consent_id="con-1", person=Person(nhs_number=nhs_number(3)), withdrawn_on=date(2026, 11, 2))
    event = CloudEvent.create(type=data.event_type, source_org="CGL-WSX", data=data, id="evt-logged")
    assert await processor.process_batch([(None, event.to_json_bytes(), [])], topics.CONSENT) == ["handled"]
    [line] = [line for line in lines(output) if line["message"] == "handling it"]
    assert (line["event_id"], line["event_type"]) == ("evt-logged", data.event_type)
