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


def _spans_made_under(sampler: telemetry.WhenExported, parent: str) -> tuple[list[str], str | None]:
    """The names of the spans recorded (and exported) under ``sampler``, and the ``traceparent``
    a child of ``parent`` passes on."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    exported = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exported))
    carrier: dict[str, str] = {}
    token = telemetry.attach(telemetry.context_from_traceparent(parent))
    try:
        with provider.get_tracer("test").start_as_current_span("consume") as span:
            TraceContextTextMapPropagator().inject(carrier, context=trace.set_span_in_context(span))
    finally:
        telemetry.detach(token)
    return [s.name for s in exported.get_finished_spans()], carrier.get("traceparent")


def test_with_no_exporter_spans_are_not_recorded_but_the_trace_goes_on() -> None:
    sampler = telemetry.sampler_for("none", environ={})
    assert isinstance(sampler, telemetry.WhenExported)
    names, passed_on = _spans_made_under(sampler, TRACEPARENT)
    assert names == []
    assert passed_on is not None
    version, trace_id, span_id, flags = passed_on.split("-")
    assert (trace_id, flags) == (TRACE_ID, "00")  # the same trace, a span of its own, not sampled here
    assert span_id not in ("00f067aa0ba902b7", "0" * 16)


def test_with_an_exporter_every_span_is_recorded_even_under_an_unsampled_caller() -> None:
    for exporter in ("console", "otlp"):
        sampler = telemetry.sampler_for(exporter, environ={})
        assert isinstance(sampler, telemetry.WhenExported)
        unsampled_parent = TRACEPARENT[:-2] + "00"
        names, passed_on = _spans_made_under(sampler, unsampled_parent)
        assert names == ["consume"]
        assert passed_on is not None and passed_on.split("-")[1] == TRACE_ID and passed_on.endswith("-01")


def test_the_operators_own_sampler_wins() -> None:
    assert telemetry.sampler_for("none", environ={"OTEL_TRACES_SAMPLER": "always_on"}) is None
    assert telemetry.sampler_for("otlp", environ={"OTEL_TRACES_SAMPLER": "traceidratio"}) is None
