"""OpenTelemetry wiring: one trace follows an event from HTTP or Kafka through the
outbox, across Kafka (W3C ``traceparent`` header) and into the next service."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from contextvars import Token

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from .settings import ServiceSettings

_configured = False

URL_ATTRIBUTES = ("url.path", "url.query", "url.full", "http.target", "http.url")
"""Span attributes holding a request's raw path or query, which may carry an NHS number
(``/v1/referrals/9434765919``, ``?person=9434765919``). FastAPI's own server spans set them;
the route template (``http.route``) and the span name say the same without the person."""
REDACTED = "[redacted]"


class WithoutRawUrls(SpanProcessor):
    """Replaces the raw path and query of every span as it starts, before any exporter sees it."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span.attributes or {}
        for name in URL_ATTRIBUTES:
            if name in attributes:
                span.set_attribute(name, REDACTED)


class WhenExported(Sampler):
    """Records every span while something exports them, and none otherwise.

    With no exporter (``ISP_OTEL_EXPORTER=none``, the default) a recorded span would be built,
    timed and dropped at its end: about 40 us of CPU for each consumed event. An unrecorded span
    still has real trace and span ids, which travel on in ``traceparent`` (its sampled flag unset),
    so logs, webhooks and audit records still carry the trace of the HTTP request or event that
    caused them. With an exporter every span is recorded, whatever the caller's sampled flag says
    (a service upstream may export nothing)."""

    def __init__(self, exported: bool) -> None:
        self.exported = exported

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        decide = ALWAYS_ON if self.exported else ALWAYS_OFF
        return decide.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"WhenExported{{{self.exported}}}"


def sampler_for(exporter: str, environ: Mapping[str, str] | None = None) -> Sampler | None:
    """The sampler for ``ISP_OTEL_EXPORTER``; None when the operator set ``OTEL_TRACES_SAMPLER``
    (the SDK reads it then)."""
    if "OTEL_TRACES_SAMPLER" in (os.environ if environ is None else environ):
        return None
    return WhenExported(exporter != "none")


def configure_tracing(settings: ServiceSettings) -> None:
    """Install an SDK tracer provider once per process (real trace ids even with no exporter)."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        sampler=sampler_for(settings.otel_exporter),
    )
    provider.add_span_processor(WithoutRawUrls())  # first: the exporters' processors see spans after it
    if settings.otel_exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif settings.otel_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otel_endpoint) if settings.otel_endpoint else OTLPSpanExporter()
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True


def flush(timeout_ms: int = 5000) -> None:
    """Export the spans still buffered (at a service's stop, so its last spans are not lost)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(timeout_ms)


_tracers: dict[str, tuple[trace.TracerProvider, trace.Tracer]] = {}


def tracer(name: str = "isp") -> trace.Tracer:
    """The tracer called ``name`` of the current provider, made once (``trace.get_tracer`` builds a
    new tracer and instrumentation scope each call: a tenth of a consumed event's span)."""
    provider = trace.get_tracer_provider()
    made = _tracers.get(name)
    if made is None or made[0] is not provider:
        made = _tracers[name] = (provider, provider.get_tracer(name))
    return made[1]


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def context_from_headers(headers: Mapping[str, bytes | str] | Iterable[tuple[str, bytes]] | None) -> Context:
    """Extract a parent context from Kafka or HTTP headers."""
    carrier: dict[str, str] = {}
    items = headers.items() if isinstance(headers, Mapping) else (headers or [])
    fields = _propagated_fields()
    for k, v in items:
        name = k.lower()
        if name in fields:  # not the others (a signature is 200 bytes to decode, per event)
            carrier[name] = v.decode() if isinstance(v, bytes) else v
    return propagate.extract(carrier)


_fields_of: tuple[object, frozenset[str]] | None = None


def _propagated_fields() -> frozenset[str]:
    """The header names the installed propagators read (``traceparent``, ``tracestate``,
    ``baggage`` by default), found once per propagator."""
    global _fields_of
    textmap = propagate.get_global_textmap()
    if _fields_of is None or _fields_of[0] is not textmap:
        _fields_of = (textmap, frozenset(name.lower() for name in textmap.fields))
    return _fields_of[1]


def context_from_traceparent(traceparent: str | None) -> Context:
    return propagate.extract({"traceparent": traceparent} if traceparent else {})


def attach(ctx: Context) -> Token[Context]:
    return otel_context.attach(ctx)


def detach(token: Token[Context]) -> None:
    otel_context.detach(token)
