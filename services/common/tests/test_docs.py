"""Documentation served by every service from its own files: Swagger UI, ReDoc and the event schemas."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
import uvicorn
from fastapi.testclient import TestClient
from isp_common.docs import event_types, example_event
from isp_common.launcher import free_port
from isp_schemas import topics
from isp_schemas.registry import EVENT_TYPES, parse_event


@pytest.fixture
def client(runtime):
    return TestClient(runtime.api)


def local_assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_documentation_loads_every_asset_from_the_service_itself(client, page):
    response = client.get(page)
    assert response.status_code == 200
    assets = local_assets(response.text)
    assert assets and all(a.startswith("/") for a in assets), assets  # no CDN, no font service
    assert "cdn" not in response.text and "googleapis" not in response.text
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert client.get("/openapi.json").json()["info"]["title"] == "demo"


def test_the_vendored_scripts_come_with_their_licences(client):
    for name in ("swagger-ui/LICENSE", "swagger-ui/NOTICE", "redoc/LICENSE"):
        assert client.get(f"/docs/assets/{name}").status_code == 200, name


def test_schemas_lists_every_event_type_with_its_topic_and_schema(client):
    index = client.get("/schemas/").json()
    listed = {e["type"]: e for e in index["event_types"]}
    assert set(listed) == set(EVENT_TYPES)
    for event_type, entry in listed.items():
        assert entry["topic"] == EVENT_TYPES[event_type].topic
        schema = client.get(entry["schema"]).json()
        assert schema["x-isp-event-type"] == event_type and schema["examples"]
    assert client.get(index["asyncapi"]).json()["asyncapi"].startswith("3.")
    assert client.get(index["envelope"]).json()["$id"] == "urn:isp:schema:cloudevent"


def test_an_unknown_schema_is_a_404_problem(client):
    response = client.get("/schemas/uk.isp.nothing.v1.json")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_the_events_page_lists_every_type_with_its_topic_and_an_example(client):
    page = client.get("/schemas/events")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for event_type, model in EVENT_TYPES.items():
        assert f'id="{event_type}"' in page.text
        assert f"<code>{model.topic}</code>" in page.text


@pytest.mark.parametrize("entry", event_types(), ids=lambda e: e["type"])
def test_each_example_on_the_events_page_is_a_valid_event_on_its_topic(entry):
    topic = topics.alerts("CGL-WSX") if entry["topic"] == topics.ALERTS_TEMPLATE else entry["topic"]
    event, _ = parse_event(json.dumps(example_event(entry)).encode(), topic)
    assert event.type == entry["type"]


def test_the_documentation_needs_no_token(client):
    for path in ("/docs", "/redoc", "/schemas/", "/schemas/events", "/openapi.json"):
        assert client.get(path).status_code == 200, path


@pytest.fixture
def served(runtime):
    """The runtime's API on a real port (no lifespan: no broker needed to read documentation)."""
    config = uvicorn.Config(runtime.api, host="127.0.0.1", port=free_port(), lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{config.port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.browser
@pytest.mark.parametrize(("page", "rendered"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")])
def test_the_api_documentation_renders_in_a_browser_with_no_request_leaving_the_service(
    served, browser, page, rendered
):
    elsewhere: list[str] = []
    context = browser.new_context(base_url=served)
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(served)
            else elsewhere.append(route.request.url) or route.abort()
        ),
    )
    try:
        tab = context.new_page()
        tab.goto(page)
        tab.wait_for_selector(rendered, timeout=30_000)
        assert "demo" in tab.inner_text(rendered)
        assert "Unable to render" not in tab.content()
        assert tab.evaluate("[...document.images].every(img => img.src.startsWith(location.origin))")
    finally:
        context.close()
    assert elsewhere == []
