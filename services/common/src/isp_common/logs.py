"""Logs an operator can read: one JSON object per line, carrying ids, never people.

Every record has ``time``, ``level``, ``logger``, ``service`` and ``message``; and, when there
is one, the ``trace_id``/``span_id`` of the current OpenTelemetry span and the ``event_id``/
``event_type`` of the event being handled (set by :func:`event_context`). Extra fields given with
``log.info(..., extra={...})`` are kept as fields.

The format comes from ``ISP_LOG_FORMAT``: ``json`` or ``text`` (the old one-line form, with the ids
appended as ``key=value``). Unset, it is ``json`` when ``ISP_ENVIRONMENT=production`` and ``text``
otherwise, so ``make run``'s files under ``var/logs/`` stay easy to read and a deployment's
collector gets JSON without being told.

:class:`AccessLog` writes one ``isp.access`` line per HTTP request: method, route *template*
(``/v1/referrals/{referral_id}``, never the raw path, so no NHS number or id typed into a URL is
logged), status, duration and the trace id. Query strings and headers (tokens) are never logged.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any, Literal

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LogFormat = Literal["json", "text"]

_event: ContextVar[tuple[str | None, str | None] | None] = ContextVar("isp_log_event", default=None)

QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probes and scrapes, asked every few seconds: not access-logged."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTEXT_FIELDS = ("event_id", "event_type", "trace_id", "span_id")

access_log = logging.getLogger("isp.access")


@contextmanager
def event_context(event_id: str | None, event_type: str | None) -> Iterator[None]:
    """Within the block, every log record carries ``event_id`` and ``event_type``."""
    token = _event.set((event_id, event_type))
    try:
        yield
    finally:
        _event.reset(token)


class ContextFilter(logging.Filter):
    """Adds the service name, the current span's ids and the current event's id and type."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            record.trace_id = format(span.trace_id, "032x")
            record.span_id = format(span.span_id, "016x")
        event = _event.get()
        if event is not None:
            record.event_id, record.event_type = event
        return True


class TextFormatter(logging.Formatter):
    """The plain one-line form, with the context ids appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(f"{name}={value}" for name in CONTEXT_FIELDS if (value := getattr(record, name, None)))
        return f"{text} [{ids}]" if ids else text


def json_formatter() -> JsonFormatter:
    return JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        json_ensure_ascii=False,
    )


def chosen_format(environ: dict[str, str] | None = None) -> LogFormat:
    env = os.environ if environ is None else environ
    chosen = env.get("ISP_LOG_FORMAT", "").strip().lower()
    if chosen in ("json", "text"):
        return "json" if chosen == "json" else "text"
    return "json" if env.get("ISP_ENVIRONMENT") == "production" else "text"


def configure(
    service: str, *, log_format: LogFormat | None = None, level: str | None = None, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log record of this process to ``stream`` (stderr) in the chosen format.

    Replaces the root logger's handlers, so calling it twice does not double lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter(service))
    handler.setFormatter(json_formatter() if (log_format or chosen_format()) == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level or os.environ.get("ISP_LOG_LEVEL", "INFO"))
    # httpx logs every request's full URL (a webhook's query string may hold its secret)
    for noisy in ("aiokafka", "faust", "mode", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's records go through our handler, in our format
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # AccessLog replaces it
    return handler


def route_of(scope: Scope) -> str:
    """The route template the router matched (``/v1/alerts/{alert_id}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


class AccessLog:
    """ASGI middleware: one ``isp.access`` record per HTTP request, after the response started.

    Installed inside the tracing middleware, so the record carries the request's trace id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app answers

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            fields: dict[str, Any] = {
                "method": scope["method"],
                "route": route_of(scope),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            access_log.info("%(method)s %(route)s %(status)s %(duration_ms)sms", fields, extra=fields)
