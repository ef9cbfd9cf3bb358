"""The suite's services at their priorities (``isp_common.launcher.PRIORITIES``): when the suite
shares one machine's cores, notifications (which sets the pace) and the broker come first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from isp_common import launcher
from isp_common.launcher import (
    PRIORITIES,
    SERVICES,
    LaunchError,
    Suite,
    free_service_ports,
    lower_priority,
    suite_priorities,
)

# waits for a line on stdin, then reports the nice value of its main thread, of a thread started
# after that, and of its session's autogroup (none where the system has no autogroups)
CHILD = """
import os, sys, threading
sys.stdin.readline()
seen = {}
worker = threading.Thread(target=lambda: seen.update(thread=os.getpriority(os.PRIO_PROCESS, 0)))
worker.start(); worker.join()
try:
    group = open("/proc/self/autogroup").read().split()[-1]
except OSError:
    group = "none"
print(os.getpriority(os.PRIO_PROCESS, 0), seen["thread"], group, flush=True)
"""


def test_a_process_given_a_priority_runs_every_thread_it_starts_at_it():
    """Threads a service starts (its workers, faust's consumer) inherit the value; on Linux its
    session's autogroup takes it too, since a session of its own would otherwise make it count
    only against itself."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # as the launcher starts every child
    )
    with child:
        lower_priority(child.pid, 7)
        out, _ = child.communicate("go\n", timeout=30)
    main, thread, group = out.split()
    assert (int(main), int(thread)) == (7, 7)
    if Path("/proc/self/autogroup").exists():
        assert group == "7"


def test_lowering_the_priority_of_a_process_that_is_gone_is_no_error():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    lower_priority(child.pid, 5)  # nothing to lower: the service then starts at the default


@pytest.mark.parametrize(("setting", "expected"), [(None, PRIORITIES), ("on", PRIORITIES), ("off", {})])
def test_the_suite_starts_each_service_at_its_priority_unless_told_not_to(tmp_path, monkeypatch, setting, expected):
    monkeypatch.delenv("ISP_SUITE_PRIORITIES", raising=False)
    started: list[subprocess.Popen[bytes]] = []

    def sleeper(argv, log_path, env=None):
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True))
        return started[-1]

    monkeypatch.setattr(launcher, "spawn", sleeper)
    suite = Suite(var_dir=tmp_path, ports=free_service_ports(), bootstrap="127.0.0.1:1")
    suite.priorities = suite_priorities({"ISP_SUITE_PRIORITIES": setting} if setting else {})
    try:
        for name in SERVICES:
            suite._start_service(name)
        niceness = {name: os.getpriority(os.PRIO_PROCESS, proc.pid) for name, proc in suite.processes.items()}
    finally:
        for proc in started:
            proc.kill()
            proc.wait()
    assert niceness == {name: expected.get(name, 0) for name in SERVICES}
    assert expected == {} or niceness["notifications"] == 0 < niceness["referrals"] < niceness["audit"]


def test_the_environment_says_whether_the_suite_sets_priorities(monkeypatch):
    monkeypatch.setenv("ISP_SUITE_PRIORITIES", "off")
    assert suite_priorities() == {}
    assert suite_priorities({"ISP_SUITE_PRIORITIES": "on"}) == PRIORITIES  # the suite's own env first


@pytest.mark.parametrize("value", ["yes", "0", "high"])
def test_a_bad_priorities_setting_is_refused_before_anything_starts(tmp_path, value):
    suite = Suite(var_dir=tmp_path / "var", ports=free_service_ports(), bootstrap="127.0.0.1:1")
    suite.env = {"ISP_SUITE_PRIORITIES": value}
    with pytest.raises(LaunchError, match="ISP_SUITE_PRIORITIES: expected on or off"):
        suite.start(timeout=5)
    assert suite.processes == {} and suite.migrating is None
