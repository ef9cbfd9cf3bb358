"""No raw request path or query in an exported span (issue 11, item 8): either may carry an NHS number."""

from __future__ import annotations

from isp_common.telemetry import REDACTED, WithoutRawUrls
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def test_a_span_keeps_its_route_but_not_the_path_or_query_it_was_asked_with() -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(WithoutRawUrls())
    provider.add_span_processor(SimpleSpanProcessor(exported))
    attributes = {"url.path": "/v1/referrals/9434765919", "url.query": "person=9434765919", "url.scheme": "http"}
    with provider.get_tracer("test").start_as_current_span("GET", attributes=attributes) as span:
        span.set_attribute("http.route", "/v1/referrals/{referral_id}")
    [finished] = exported.get_finished_spans()
    assert finished.attributes == {
        "url.path": REDACTED,
        "url.query": REDACTED,
        "url.scheme": "http",
        "http.route": "/v1/referrals/{referral_id}",
    }
