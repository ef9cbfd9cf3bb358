"""The partnership directory (CONTRACT §9): its files, its one reader and writer, and the start-up
seeding every service that keeps it runs after its migrations."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from isp_common import directory, migrations
from isp_common.db import make_engine
from isp_common.settings import ServiceSettings
from isp_common.testing import TEST_DIRECTORY_FILE, migrated_engine, organisation, seed_directory
from isp_schemas.directory import Organisation
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

REPOSITORY = TEST_DIRECTORY_FILE.parent.parent
DEPLOY_FILE = REPOSITORY / "deploy" / "directory.json"
T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
KNOWN_KINDS = {"children_social_care", "treatment_provider", "health", "police", "education", "partnership", "other"}


@pytest.fixture
def engine() -> Engine:
    """A referrals database (it keeps the directory), seeded from the test directory file."""
    return migrated_engine("isp_referrals")


def write(path: Path, orgs: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps(orgs))
    return path


def entry(org_id: str, kind: str = "other", **fields: object) -> dict[str, object]:
    return organisation(org_id, kind, **fields).model_dump(mode="json")


# -- the directory files ---------------------------------------------------------------------


def test_the_example_directory_has_the_partnerships_organisations_each_of_a_known_kind():
    orgs = {org.id: org for org in directory.load_file(DEPLOY_FILE)}
    expected = {
        "WSCC-CSC": "children_social_care",
        "WSCC-EDT": "children_social_care",
        "BHCC-CSC": "children_social_care",
        "CGL-WSX": "treatment_provider",
        "TURNING-PT": "treatment_provider",
        "WDP-LDN": "treatment_provider",
        "SXPOL-MASH": "police",
        "PARTNERSHIP": "partnership",
    }
    assert {org_id: orgs[org_id].kind for org_id in expected} == expected
    assert "health" in {org.kind for org in orgs.values()}
    assert orgs["WSCC-CSC"].out_of_hours == "WSCC-EDT"
    for org in orgs.values():
        assert org.dsl_contact and org.keys == {"keys": []}
        assert org.out_of_hours is None or org.out_of_hours in orgs  # every out-of-hours team is listed


def test_the_test_directory_is_the_example_one_plus_the_organisations_tests_use():
    examples = directory.load_file(DEPLOY_FILE)
    tests = {org.id: org for org in directory.load_file(TEST_DIRECTORY_FILE)}
    assert all(tests[org.id] == org for org in examples)
    for org_id in ("OTHER-ORG", "OTHER-LA", "WSX-IG", "ISP-IG", "CGL-WEB", "WSCC-E2E", "SENTINEL-CSC", "ELSE-ORG"):
        assert tests[org_id].kind in KNOWN_KINDS
    assert (tests["OTHER-LA"].kind, tests["WSX-IG"].kind) == ("children_social_care", "partnership")


def test_a_directory_file_listing_an_organisation_twice_or_of_an_unknown_kind_is_refused(tmp_path):
    twice = write(tmp_path / "twice.json", [entry("CGL-WSX"), entry("CGL-WSX")])
    with pytest.raises(directory.DirectoryFileError, match="lists CGL-WSX more than once"):
        directory.load_file(twice)
    unknown = write(tmp_path / "kind.json", [entry("CGL-WSX") | {"kind": "charity"}])
    with pytest.raises(directory.DirectoryFileError, match=r"at 0\.kind"):
        directory.load_file(unknown)
    with pytest.raises(directory.DirectoryFileError, match="cannot read"):
        directory.load_file(tmp_path / "missing.json")


# -- reading and writing ---------------------------------------------------------------------


def test_the_test_kit_seeds_the_test_directory_and_reads_go_through_the_module(engine):
    with Session(engine) as session:
        assert directory.kind_of(session, "WSCC-CSC") == "children_social_care"
        assert directory.kind_of(session, "NOBODY") is None
        assert directory.organisation(session, "NOBODY") is None
        found = directory.organisation(session, "WSCC-CSC")
        assert isinstance(found, Organisation) and found.out_of_hours == "WSCC-EDT"
        assert [o.id for o in directory.entries(session)] == sorted(o.id for o in directory.entries(session))


@pytest.fixture(scope="module")
def seeded() -> Engine:
    """One seeded database for every example of a property (they only read)."""
    return migrated_engine("isp_notifications")


@given(
    known=st.lists(st.sampled_from(["WSCC-CSC", "CGL-WSX", "SXPOL-MASH", "PARTNERSHIP", "UHSX-SG"])),
    unknown=st.lists(st.from_regex(r"ZZ-[A-Z]{1,6}", fullmatch=True)),
)
def test_kinds_of_gives_the_kind_of_exactly_the_known_ones(seeded, known, unknown):
    with Session(seeded) as session:
        kinds = directory.kinds_of(session, [*unknown, *known, *known])
        assert kinds == {org_id: directory.kind_of(session, org_id) for org_id in known}
        assert all(kind in KNOWN_KINDS for kind in kinds.values())


def test_put_adds_then_replaces_an_entry(engine):
    with Session(engine) as session:
        added = directory.put(session, organisation("FWD-SSX", "treatment_provider"), T0)
        session.commit()
        assert (added.kind, added.updated_at) == ("treatment_provider", T0)
        later = T0 + timedelta(hours=1)
        directory.put(session, organisation("FWD-SSX", "health", name="Renamed"), later)
        session.commit()
    with Session(engine) as session:
        stored = session.get(directory.DirectoryEntry, "FWD-SSX")
        assert stored is not None and (stored.kind, stored.name) == ("health", "Renamed")


def test_seeding_adds_only_the_missing_and_never_overwrites_a_change_made_over_the_api(engine, tmp_path):
    with Session(engine) as session:
        directory.put(session, organisation("CGL-WSX", "treatment_provider", name="Changed over the API"), T0)
        session.commit()
        orgs = [*directory.load_file(TEST_DIRECTORY_FILE), organisation("NEW-ORG", "police")]
        assert directory.seed(session, orgs, T0) == 1
        assert directory.seed(session, orgs, T0) == 0
        session.commit()
        changed = directory.organisation(session, "CGL-WSX")
        assert changed is not None and changed.name == "Changed over the API"
        assert directory.kind_of(session, "NEW-ORG") == "police"


def test_seed_directory_puts_a_tests_own_organisations(engine):
    seed_directory(engine, organisation("MY-CSC", "children_social_care"), organisation("MY-PRV", "treatment_provider"))
    with Session(engine) as session:
        assert directory.kinds_of(session, ["MY-CSC", "MY-PRV"]) == {
            "MY-CSC": "children_social_care",
            "MY-PRV": "treatment_provider",
        }
    assert organisation().id != organisation().id  # fresh ids by default


# -- seeding at start ------------------------------------------------------------------------


def settings(tmp_path: Path, **fields: object) -> ServiceSettings:
    return ServiceSettings.model_validate({"service_name": "demo", "var_dir": tmp_path, **fields})


def test_the_directory_file_is_found_in_the_repository_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert settings(tmp_path, directory_file="deploy/directory.json").resolved_directory_file == DEPLOY_FILE
    absolute = tmp_path / "mine.json"
    assert settings(tmp_path, directory_file=absolute).resolved_directory_file == absolute


def test_the_directory_file_comes_from_isp_directory_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ISP_DIRECTORY_FILE", str(tmp_path / "elsewhere.json"))
    assert ServiceSettings().directory_file == tmp_path / "elsewhere.json"


def test_the_start_up_hook_seeds_a_service_that_keeps_the_directory(tmp_path):
    path = write(tmp_path / "d.json", [entry("ONE-ORG", "police"), entry("TWO-ORG", "health")])
    engine = make_engine("sqlite://")
    migrations.upgrade(engine, "isp_referrals")
    assert directory.seed_at_start(engine, settings(tmp_path, directory_file=path), T0) == 2
    assert directory.seed_at_start(engine, settings(tmp_path, directory_file=path), T0) == 0  # a restart
    with Session(engine) as session:
        assert directory.kinds_of(session, ["ONE-ORG", "TWO-ORG"]) == {"ONE-ORG": "police", "TWO-ORG": "health"}


def test_a_service_without_the_table_is_not_seeded(tmp_path):
    engine = make_engine("sqlite://")
    path = write(tmp_path / "d.json", [entry("ONE-ORG")])
    assert directory.seed_at_start(engine, settings(tmp_path, directory_file=path), T0) == 0
    assert not directory.has_table(engine)


def test_a_missing_directory_file_is_a_warning_when_embedded_and_an_error_in_production(engine, tmp_path, caplog):
    missing = tmp_path / "missing.json"
    with caplog.at_level(logging.WARNING, logger="isp_common.directory"):
        assert directory.seed_at_start(engine, settings(tmp_path, directory_file=missing), T0) == 0
    assert "no directory file" in caplog.text
    production = settings(tmp_path, directory_file=missing, environment="production", partnership_key="k" * 32)
    with pytest.raises(directory.DirectoryFileError, match="ISP_DIRECTORY_FILE"):
        directory.seed_at_start(engine, production, T0)


@pytest.mark.integration
def test_replicas_seeding_one_postgresql_database_at_once_add_each_entry_once(postgres_url):
    engine = migrated_engine("isp_referrals", postgres_url)
    orgs = [organisation(f"RACE-{i}", "other") for i in range(20)]
    first = Session(engine)
    assert directory.seed(first, orgs, T0) == 20  # not committed yet: the other replica's insert waits on it
    added: list[int] = []

    def other_replica() -> None:
        with Session(engine) as session:
            added.append(directory.seed(session, orgs, T0))
            session.commit()

    racer = threading.Thread(target=other_replica)
    racer.start()
    _until_a_session_waits_on_a_lock(engine)
    first.commit()
    first.close()
    racer.join(timeout=30)
    assert added == [0]
    with Session(engine) as session:
        assert len(directory.kinds_of(session, [o.id for o in orgs])) == 20


def _until_a_session_waits_on_a_lock(engine: Engine, timeout: float = 30.0) -> None:
    """Block until another session of this database waits on a row lock (the racing insert)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        while not connection.execute(waiting).scalar():
            assert time.monotonic() < deadline, "the other replica never waited on the first one's insert"
            connection.rollback()  # a fresh snapshot of pg_stat_activity each time


def test_kinds_are_cached_per_database_and_a_change_is_seen_once_committed():
    engine, other = migrated_engine("isp_notifications"), migrated_engine("isp_notifications")
    reads: list[str] = []

    @sa_event.listens_for(engine, "before_cursor_execute")
    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if "FROM directory_organisation" in statement:
            reads.append(statement)

    with Session(engine) as session:
        assert directory.kinds_of(session, ["WSCC-CSC"]) == {"WSCC-CSC": "children_social_care"}
        assert directory.kinds_of(session, ["WSCC-CSC", "NEW-ORG"]) == {"WSCC-CSC": "children_social_care"}
    assert len(reads) <= 1  # the second answer came from the cache
    with Session(engine) as session:
        directory.put(session, organisation("NEW-ORG", "treatment_provider"), datetime.now(UTC))
        session.commit()
    with Session(engine) as session:
        assert directory.kind_of(session, "NEW-ORG") == "treatment_provider"  # seen at once in this process
    with Session(other) as session:
        assert directory.kind_of(session, "NEW-ORG") is None  # another database has its own directory


def test_the_organisations_an_event_names_are_every_org_field_it_has():
    """named_orgs reads only the organisation fields a data model declares (found once per model);
    a model that allows extra fields, or an object that is no model, is asked for every one."""
    from types import SimpleNamespace

    from isp_schemas.consent import ConsentGiven
    from isp_schemas.referrals import ReferralRequested
    from isp_schemas.socialcare import ConferenceScheduled

    def every_field(source: str, data: object) -> set[str]:  # the rule, asked of every name
        named = {source}
        named.update(v for n in directory.ORG_FIELDS if isinstance(v := getattr(data, n, None), str))
        for n in directory.ORG_LIST_FIELDS:
            named.update(v for v in getattr(data, n, None) or () if isinstance(v, str) and v != "*")
        return named

    examples: list[object] = [
        SimpleNamespace(from_org="A-ORG", invitees=["B-ORG", "*"], other_org=3),
        SimpleNamespace(),
    ]
    for model in (ConferenceScheduled, ConsentGiven, ReferralRequested):
        examples.append(model.model_construct(**{n: f"{n.upper()}-X" for n in directory.ORG_FIELDS}))
        examples.append(model.model_construct(invitees=["INV-1", "*"], recipients=["REC-1", "*"]))
    for data in examples:
        assert directory.named_orgs("SRC", data) == every_field("SRC", data)
