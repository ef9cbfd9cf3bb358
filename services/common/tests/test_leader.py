"""Leadership of singleton jobs on SQLite: a lock on a file next to the database, so a second
process started on the same file by mistake neither publishes the outbox nor posts webhooks twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from isp_common.db import make_engine
from isp_common.leader import Leadership, lock_file_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock: one process per file on Windows")


def test_of_two_on_one_sqlite_file_one_leads_until_it_lets_go(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/service.db")
    first, second = Leadership(engine, "isp-x:outbox-relay"), Leadership(engine, "isp-x:outbox-relay")
    assert first.exclusive and second.exclusive
    assert first.held() and not second.held()
    assert first.held() and not second.held()  # asked again: unchanged
    first.release()
    assert second.held() and not first.held()
    second.release()
    assert first.held()
    first.release()
    assert first.lock_file == tmp_path / "service.db.isp-x-outbox-relay.lock"


def test_different_jobs_and_different_files_do_not_contend(tmp_path):
    relay = make_engine(f"sqlite:///{tmp_path}/a.db")
    other = make_engine(f"sqlite:///{tmp_path}/b.db")
    leads = [Leadership(relay, "isp-x:outbox-relay"), Leadership(relay, "isp-x:webhook-delivery")]
    leads.append(Leadership(other, "isp-x:outbox-relay"))
    assert all(lead.held() for lead in leads)
    for lead in leads:
        lead.release()


def test_an_in_memory_database_always_leads():
    engine = make_engine("sqlite://")
    assert lock_file_for(engine, "isp-x:outbox-relay") is None
    first, second = Leadership(engine, "job"), Leadership(engine, "job")
    assert not first.exclusive
    assert first.held() and second.held()


HOLDER = """
import sys, time
from isp_common.db import make_engine
from isp_common.leader import Leadership
lead = Leadership(make_engine(sys.argv[1]), "isp-x:outbox-relay")
print("leads" if lead.held() else "stands by", flush=True)
time.sleep(600)
"""


def test_a_process_that_dies_leading_lets_another_take_the_lead(tmp_path):
    url = f"sqlite:///{tmp_path}/service.db"
    # leaving the with block closes the pipe and waits for the process
    with subprocess.Popen([sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "leads"
            here = Leadership(make_engine(url), "isp-x:outbox-relay")
            assert not here.held()  # the other process leads
            os.kill(holder.pid, signal.SIGKILL)  # no release: the operating system lets go of its lock
            holder.wait(timeout=30)
            assert here.held()
            here.release()
        finally:
            holder.kill()


def test_a_lock_file_that_cannot_be_opened_leaves_the_job_led_without_it(tmp_path, caplog):
    engine = make_engine(f"sqlite:///{tmp_path}/service.db")
    lead = Leadership(engine, "isp-x:outbox-relay")
    assert lead.lock_file is not None
    lead.lock_file.mkdir()  # a directory where the lock file should be: open() fails
    assert lead.held()
    assert lead.held()
    assert len([r for r in caplog.records if "led without a lock" in r.getMessage()]) == 1
