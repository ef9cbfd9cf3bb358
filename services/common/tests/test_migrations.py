"""Each service's Alembic revisions build exactly the tables its models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import pytest

SERVICES = ["referrals", "register", "notifications", "audit", "gateway"]

CHECK = """
import sys
from isp_common.db import make_engine
from isp_common import migrations
package = sys.argv[1]
engine = make_engine(sys.argv[2])
migrations.upgrade(engine, package)
migrations.upgrade(engine, package)  # idempotent: a restart finds the database at head
diffs = migrations.pending_differences(engine, package)
print(diffs)
sys.exit(1 if diffs else 0)
"""


def check(service: str, url: str) -> subprocess.CompletedProcess:
    # a fresh interpreter, so only this service's tables are in the metadata (as in production)
    return subprocess.run(
        [sys.executable, "-c", CHECK, f"isp_{service}", url], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_build_every_table_the_models_declare_on_sqlite(service, tmp_path):
    result = check(service, f"sqlite:///{tmp_path}/{service}.db")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("service", SERVICES)
def test_migrations_build_every_table_the_models_declare_on_postgresql(service, postgres_url):
    result = check(service, postgres_url)
    assert result.returncode == 0, result.stdout + result.stderr


TOGETHER = """
import sys
from concurrent.futures import ThreadPoolExecutor
from isp_common.db import make_engine
from isp_common import migrations
engines = [make_engine(sys.argv[2]) for _ in range(3)]
with ThreadPoolExecutor(max_workers=3) as pool:
    list(pool.map(lambda engine: migrations.upgrade(engine, sys.argv[1]), engines))
diffs = migrations.pending_differences(engines[0], sys.argv[1])
print(diffs)
sys.exit(1 if diffs else 0)
"""


def test_replicas_starting_together_on_postgresql_take_turns_to_migrate(postgres_url):
    """Three replicas start at once on a new database: one migrates, the others find it at head."""
    result = subprocess.run(
        [sys.executable, "-c", TOGETHER, "isp_notifications", postgres_url], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
