"""The referrals service's copy of the partnership directory: seeded from the directory file at
start, then kept as ``isp.directory.v1`` says (the notifications service publishes every change
made over its API). Events go through the service's own event processor, as faust delivers them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from isp_common import directory
from isp_common.db import make_engine
from isp_common.runtime import ServiceRuntime
from isp_common.testing import FixedClock, InProcessBus, organisation
from isp_referrals.bootstrap import build
from isp_referrals.settings import Settings
from isp_schemas import topics
from isp_schemas.directory import OrganisationUpdated
from isp_schemas.envelope import CloudEvent
from sqlmodel import Session

NOW = datetime(2026, 11, 18, 10, tzinfo=UTC)


@pytest.fixture
def runtime(tmp_path: Path) -> ServiceRuntime:
    return build(Settings(var_dir=tmp_path), engine=make_engine("sqlite://"), clock=FixedClock(NOW))


@pytest.fixture
def bus(runtime: ServiceRuntime) -> InProcessBus:
    return InProcessBus([runtime])


def updated(org_id: str, kind: str = "treatment_provider", at: datetime = NOW, **fields: str) -> CloudEvent:
    data = OrganisationUpdated.model_validate(organisation(org_id, kind, **fields).model_dump())
    return CloudEvent.create(type=data.event_type, source_org="PARTNERSHIP", data=data, time=at)


def kind_in(runtime: ServiceRuntime, org_id: str) -> str | None:
    with Session(runtime.engine) as session:
        return directory.kind_of(session, org_id)


def test_the_service_consumes_the_directory_topic_and_starts_from_the_file(runtime):
    assert topics.DIRECTORY in runtime.topics
    assert kind_in(runtime, "WSCC-CSC") == "children_social_care"  # seeded from tests/directory.json
    assert kind_in(runtime, "OTHER-ORG") == "other"


async def test_a_new_organisation_is_added_to_the_copy(runtime, bus):
    await bus.publish(updated("FWD-SSX", out_of_hours="WSCC-EDT"), topics.DIRECTORY, key="FWD-SSX")
    with Session(runtime.engine) as session:
        entry = directory.organisation(session, "FWD-SSX")
    assert entry is not None and entry.kind == "treatment_provider" and entry.out_of_hours == "WSCC-EDT"
    assert bus.delivered == [("referrals", "handled")]


async def test_a_change_replaces_the_seeded_entry_and_the_latest_change_wins(runtime, bus):
    await bus.publish(updated("CGL-WSX", "health", at=NOW), topics.DIRECTORY)
    await bus.publish(updated("CGL-WSX", "treatment_provider", at=NOW + timedelta(minutes=1)), topics.DIRECTORY)
    assert kind_in(runtime, "CGL-WSX") == "treatment_provider"
    with Session(runtime.engine) as session:
        entry = session.get(directory.DirectoryEntry, "CGL-WSX")
        assert entry is not None and entry.name == "Test organisation CGL-WSX"


async def test_a_redelivered_change_is_applied_once(runtime, bus):
    event = updated("FWD-SSX", "treatment_provider")
    await bus.publish(event, topics.DIRECTORY)
    await bus.publish(updated("FWD-SSX", "health"), topics.DIRECTORY)
    await bus.publish(event, topics.DIRECTORY)  # the same event again: the inbox knows it
    assert kind_in(runtime, "FWD-SSX") == "health"
    assert [outcome for _, outcome in bus.delivered] == ["handled", "handled", "duplicate"]


async def test_an_invalid_entry_is_dead_lettered_and_changes_nothing(runtime, bus):
    event = updated("CGL-WSX", "treatment_provider")
    event.data["kind"] = "charity"
    await bus.publish(event, topics.DIRECTORY)
    assert [outcome for _, outcome in bus.delivered] == ["deadlettered"]
    assert [topic for topic, _ in bus.deadlettered] == [topics.DEADLETTER]
    assert kind_in(runtime, "CGL-WSX") == "treatment_provider"
