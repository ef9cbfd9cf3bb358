"""A consumed event's trace context comes from its headers (W3C ``traceparent``, ``tracestate``,
``baggage``), whatever else they carry and however their names are cased."""

from __future__ import annotations

from isp_common import telemetry
from opentelemetry import baggage, trace

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def test_the_parent_context_is_read_from_the_trace_headers_among_the_others() -> None:
    headers = [
        ("content-type", b"application/cloudevents+json"),
        ("isp-signature", b"eyJhbGciOiJFZERTQSJ9..c2ln" * 8),
        ("TraceParent", TRACEPARENT.encode()),
        ("baggage", b"tenant=wsx"),
    ]
    context = telemetry.context_from_headers(headers)
    span_context = trace.get_current_span(context).get_span_context()
    assert format(span_context.trace_id, "032x") == TRACE_ID
    assert span_context.is_remote
    assert baggage.get_baggage("tenant", context) == "wsx"
    assert telemetry.context_from_headers({"traceparent": TRACEPARENT}) is not None


def test_headers_without_a_trace_give_no_parent() -> None:
    context = telemetry.context_from_headers([("isp-signature", b"x"), ("ce_id", b"evt-1")])
    assert not trace.get_current_span(context).get_span_context().is_valid
    assert not trace.get_current_span(telemetry.context_from_headers(None)).get_span_context().is_valid
