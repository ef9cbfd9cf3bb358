"""The documentation every service serves, from its own files: nothing is fetched from a CDN.

- ``/docs``: Swagger UI and ``/redoc``: ReDoc, on the service's OpenAPI document; their scripts
  are vendored under ``static/docs/`` (see the README beside each) and served at ``/docs/assets``.
- ``/schemas/``: an index of the event contract; ``/schemas/asyncapi.json`` (AsyncAPI 3),
  ``/schemas/cloudevent.json`` (the envelope) and ``/schemas/<event type>.json`` (each type's
  ``data``, with its topic and an example); ``/schemas/events``: a page listing every event type
  with its topic and an example CloudEvent.

The documents are rendered from :mod:`isp_schemas` in process by the same functions that write
``schemas/generated/`` (:mod:`isp_schemas.generate`), so what is served is what the code
validates, whether or not the repository's ``generated/`` files were installed beside it.
All of it is public: it describes the contract, never anyone's data.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from .problems import Problem

STATIC = Path(__file__).parent / "static" / "docs"
ASSETS = "/docs/assets"
DOC_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
EXAMPLE_SOURCE = "urn:isp:org:CGL-WSX"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
"""On the documentation pages: the browser fetches nothing from elsewhere (ReDoc's logo, Swagger's
validator badge), so the pages work offline and tell no one who reads them."""

router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    """Serve the local Swagger UI, ReDoc and the event schemas on ``app`` (in place of FastAPI's
    CDN-backed ``/docs`` and ``/redoc``, if it made them)."""
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in DOC_PATHS]
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="docs-assets")
    app.include_router(router)


def _openapi_url(request: Request) -> str:
    return str(request.app.openapi_url or "/openapi.json")


def _self_contained(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title}: API",
        swagger_js_url=f"{ASSETS}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/swagger-ui/favicon-32x32.png",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_ui_parameters={"validatorUrl": None},  # not validator.swagger.io
    )
    return _self_contained(page)


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title}: API",
        redoc_js_url=f"{ASSETS}/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS}/swagger-ui/favicon-32x32.png",
        with_google_fonts=False,
    )
    return _self_contained(page)  # ReDoc's logo comes from its CDN: refused, and ReDoc leaves it out


# -- the event contract -----------------------------------------------------------------------


@cache
def _documents() -> dict[str, dict[str, Any]]:
    """Every served schema by file name (rendered once per process)."""
    from isp_schemas import generate
    from isp_schemas.registry import EVENT_TYPES

    documents = {"asyncapi.json": generate.asyncapi(), "cloudevent.json": generate.envelope_schema()}
    for event_type, model in sorted(EVENT_TYPES.items()):
        documents[f"{event_type}.json"] = generate.data_schema(model)
    return documents


def event_types() -> list[dict[str, Any]]:
    """Each event type with its topic, schema address and example ``data``."""
    return [
        {
            "type": schema["x-isp-event-type"],
            "topic": schema["x-isp-topic"],
            "schema": f"/schemas/{name}",
            "title": schema.get("title", ""),
            "description": schema.get("description", ""),
            "example": (schema.get("examples") or [{}])[0],
        }
        for name, schema in _documents().items()
        if "x-isp-event-type" in schema
    ]


@router.get("/schemas/")
async def schema_index() -> dict[str, Any]:
    return {
        "asyncapi": "/schemas/asyncapi.json",
        "envelope": "/schemas/cloudevent.json",
        "page": "/schemas/events",
        "event_types": [{k: e[k] for k in ("type", "topic", "schema")} for e in event_types()],
    }


@router.get("/schemas/events")
async def events_page() -> HTMLResponse:
    return HTMLResponse(_render_events_page())


@router.get("/schemas/{name}")
async def schema_document(name: str) -> JSONResponse:
    document = _documents().get(name)
    if document is None:
        raise Problem(404, "No such schema", f"no schema named {name!r}; /schemas/ lists them")
    return JSONResponse(document)


def example_event(entry: dict[str, Any]) -> dict[str, Any]:
    """A whole CloudEvent around an event type's example ``data``."""
    return {
        "specversion": "1.0",
        "id": "3f1c2d9e-0b7a-4c51-9e55-2c1b7f0a6d10",
        "source": EXAMPLE_SOURCE,
        "type": entry["type"],
        "time": "2025-11-03T10:00:00Z",
        "datacontenttype": "application/json",
        "data": entry["example"],
    }


_PAGE = """<!DOCTYPE html>
<html lang="en-GB">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Event types</title>
<style>
body { font-family: Arial, sans-serif; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; line-height: 1.4 }
pre { background: #f3f2f1; padding: .5rem; overflow-x: auto } h2 { margin-top: 2rem } code { font-size: 1rem }
</style></head>
<body><main>
<h1>Event types</h1>
<p>Every event is a CloudEvent (<a href="/schemas/cloudevent.json">envelope schema</a>) whose
<code>data</code> follows its type's schema. The whole contract: <a href="/schemas/asyncapi.json">AsyncAPI</a>;
all schemas: <a href="/schemas/">/schemas/</a>. The examples use made-up people and organisations.</p>
<ul>{% for e in events %}<li><a href="#{{ e.type }}">{{ e.type }}</a></li>{% endfor %}</ul>
{% for e in events %}
<section id="{{ e.type }}">
<h2>{{ e.type }}</h2>
<p>Topic <code>{{ e.topic }}</code>. {{ e.description }} <a href="{{ e.schema }}">JSON Schema</a></p>
<details><summary>Example</summary><pre>{{ e.cloudevent }}</pre></details>
</section>
{% endfor %}
</main></body></html>
"""


@cache
def _render_events_page() -> str:
    # Jinja2 is imported at the first request for the page: 2 MB of a service's resident memory
    # otherwise, in the services that serve no other page (referrals, notifications, the gateway)
    from jinja2 import Environment, select_autoescape

    template = Environment(autoescape=select_autoescape(default=True)).from_string(_PAGE)
    events = [{**e, "cloudevent": json.dumps(example_event(e), indent=2)} for e in event_types()]
    return template.render(events=events)
