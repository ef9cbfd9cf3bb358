"""What a serving process leaves out to stay small (docs/operations.md, "Memory"): Alembic (the
database is migrated beforehand, and the service only checks it is at head), every country of
`holidays` but the United Kingdom, httpx's command-line client, Jinja2 where no page is served; and
SQLite's caches per connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import holidays
import pytest
from isp_common import db, launcher, migrations, workingdays
from isp_common.db import make_engine

SERVICES = ["referrals", "register", "notifications", "audit", "gateway"]


def env_for(var_dir: Path) -> dict[str, str]:
    env = {**os.environ, "ISP_ENVIRONMENT": "embedded", "ISP_VAR_DIR": str(var_dir)}
    env.pop("ISP_KAFKA_BOOTSTRAP", None)
    return env


def run(code: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120)


# -- the head revision, without Alembic -------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_the_head_the_service_checks_for_is_alembics_own_head(service):
    """The revision files read without Alembic give the head Alembic gives: the start-up check cannot
    drift from the migrations."""
    assert migrations.head_revisions(f"isp_{service}") == frozenset(migrations.heads(f"isp_{service}"))


def test_the_head_is_the_revision_no_other_revises(tmp_path, monkeypatch):
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "b.py").write_text("revision: str = 'b'\ndown_revision = 'a'\n")
    (versions / "c.py").write_text('revision = "c"\ndown_revision = ("a",)\n')
    (versions / "merge.py").write_text('revision = "m"\ndown_revision = ("b", "c")\n')
    (versions / "helpers.py").write_text("x = 1\n")  # not a revision
    monkeypatch.setattr(migrations, "script_location", lambda _package: tmp_path / "migrations")
    assert migrations.head_revisions("isp_demo") == {"m"}
    (versions / "merge.py").unlink()
    assert migrations.head_revisions("isp_demo") == {"b", "c"}


def test_a_database_is_at_head_only_once_migrated_to_it(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/gateway.db")
    try:
        assert migrations.current_revisions(engine) == frozenset()
        assert not migrations.at_head(engine, "isp_gateway")
        migrations.upgrade(engine, "isp_gateway")
        assert migrations.at_head(engine, "isp_gateway")
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0e0c00e8dca7'")  # one behind
        assert not migrations.at_head(engine, "isp_gateway")
    finally:
        engine.dispose()


# -- migrating before the service starts ------------------------------------------------------------

STARTS = """
import json, sys
import isp_common.serve  # as python -m isp_<service> does, first
from importlib import import_module
service = sys.argv[1]
settings = import_module(f"isp_{service}.settings").Settings()
runtime = import_module(f"isp_{service}.bootstrap").build(settings)
from isp_common import migrations
at_head = migrations.at_head(runtime.engine, f"isp_{service}")
loaded = sorted(m for m in sys.argv[2:] if sys.modules.get(m))
print(json.dumps({"at_head": at_head, "loaded": loaded}))
"""

LEFT_OUT = ("alembic", "mako", "httpx._main", "rich", "holidays.countries")
"""Modules no serving process imports."""

PAGES = ("jinja2",)
"""Modules only a service with pages imports at start (audit and register); the others import them at
the first request for the event types' page (``/schemas/events``)."""


def test_migrations_upgrade_migrates_each_service_named(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "isp_common.migrations", "upgrade", "gateway", "register"],
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for service in ("gateway", "register"):
        engine = make_engine(f"sqlite:///{tmp_path}/{service}.db")
        assert migrations.at_head(engine, f"isp_{service}")
        engine.dispose()
    assert not (tmp_path / "audit.db").exists()


def test_migrations_without_a_command_say_how_they_are_used(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "isp_common.migrations"], env=env_for(tmp_path), capture_output=True, text=True
    )
    assert done.returncode == 2 and "upgrade <service>" in done.stderr


@pytest.mark.parametrize("service", ["notifications", "audit"])
def test_a_service_on_a_migrated_database_serves_without_alembic(service, tmp_path):
    assert started_loading(service, LEFT_OUT, tmp_path) == []


def started_loading(service: str, modules: tuple[str, ...], tmp_path: Path) -> list[str]:
    """Which of ``modules`` a service started on a migrated SQLite database has imported."""
    env = env_for(tmp_path)
    migrated = subprocess.run(
        [sys.executable, "-m", "isp_common.migrations", "upgrade", service], env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    started = run(STARTS, service, *modules, env=env)
    assert started.returncode == 0, started.stderr[-3000:]
    result = json.loads(started.stdout.splitlines()[-1])
    assert result["at_head"] is True
    return list(result["loaded"])


@pytest.mark.parametrize("service", ["referrals", "notifications", "gateway"])
def test_a_service_without_pages_starts_without_jinja2(service, tmp_path):
    assert started_loading(service, (*LEFT_OUT, *PAGES), tmp_path) == []


def test_a_service_on_sqlite_starts_without_postgresqls_dialect(tmp_path):
    assert started_loading("gateway", ("sqlalchemy.dialects.postgresql",), tmp_path) == []


def test_a_service_on_a_new_database_still_migrates_it_at_start(tmp_path):
    """First start without the migration step (a test, an old launcher): migrated as before."""
    started = run(STARTS, "gateway", *LEFT_OUT, env=env_for(tmp_path))
    assert started.returncode == 0, started.stderr[-3000:]
    result = json.loads(started.stdout.splitlines()[-1])
    assert result["at_head"] is True and "alembic" in result["loaded"]


def test_the_launcher_migrates_every_database_before_it_starts_a_service(tmp_path):
    suite = launcher.Suite(var_dir=tmp_path, services=("gateway", "audit"))
    (tmp_path / "logs").mkdir()
    suite._start_migrations()
    suite._wait_migrations(120)
    assert suite.migrating is None
    for service in ("gateway", "audit"):
        engine = make_engine(f"sqlite:///{tmp_path}/{service}.db")
        assert migrations.at_head(engine, f"isp_{service}")
        engine.dispose()


def test_the_launcher_names_migrations_that_fail(tmp_path):
    (tmp_path / "gateway.db").write_text("not a database")
    suite = launcher.Suite(var_dir=tmp_path, services=("gateway",))
    (tmp_path / "logs").mkdir()
    suite._start_migrations()
    with pytest.raises(launcher.LaunchError, match="migrations: exited with code"):
        suite._wait_migrations(120)
    assert "migrating the gateway database failed" in (tmp_path / "logs" / "migrations.log").read_text()


# -- holidays: the United Kingdom only ---------------------------------------------------------------


def test_england_bank_holidays_are_the_ones_holidays_gives():
    for year in range(2000, 2041):
        expected = frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))
        assert workingdays.england_bank_holidays(year) == expected, year
    assert date(2026, 5, 4) in workingdays.england_bank_holidays(2026)


def test_working_days_load_only_the_united_kingdom_from_holidays():
    code = """
import sys
from datetime import date
from isp_common.workingdays import WorkingCalendar
assert "holidays" not in sys.modules, "imported with the module"
assert not WorkingCalendar().is_working_day(date(2026, 12, 25))
print("holidays" in sys.modules, sorted(m for m in sys.modules if m.startswith("holidays.countries")))
"""
    done = run(code, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True []"  # holidays used, none of its countries imported by name


# -- SQLite's caches ---------------------------------------------------------------------------------


def test_a_sqlite_file_database_keeps_a_small_page_cache_per_connection(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -db.SQLITE_PAGE_CACHE_KIB
    finally:
        engine.dispose()
    assert db.SQLITE_PAGE_CACHE_KIB < 2000  # SQLite's default, two MB per pooled connection


def test_a_serving_process_collects_young_garbage_less_often_and_freezes_what_start_up_built() -> None:
    import gc

    from isp_common.serve import GC_YOUNG_COLLECTION_AFTER, collect_less_often

    before = gc.get_threshold()
    try:
        collect_less_often()
        assert gc.get_threshold() == (GC_YOUNG_COLLECTION_AFTER, *before[1:])
        assert gc.get_freeze_count() > 0  # start-up's objects are out of every collection
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_serving_process_hands_the_gil_over_sooner_than_cpythons_default() -> None:
    import sys

    from isp_common.serve import GIL_SWITCH_INTERVAL, hand_over_the_gil_sooner

    before = sys.getswitchinterval()
    try:
        hand_over_the_gil_sooner()
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL)
        assert GIL_SWITCH_INTERVAL < before == pytest.approx(0.005)  # CPython's default, in a test process
    finally:
        sys.setswitchinterval(before)
