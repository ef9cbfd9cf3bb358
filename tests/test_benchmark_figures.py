"""The throughput harness's own figures: this machine's speed, the ceiling the suite's CPU per
alert puts on its rate, and each load's timeline (when each stage of the DNAs was published, the
broker's timestamps read back from the topics, and the cores each process used meanwhile: what
showed the outbox relay's lost wake, docs/perf/throughput-notes.md), as measured, printed and
written out."""

import importlib
import json
import platform
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from isp_common.testing import unique

ROOT = Path(__file__).resolve().parents[1]


def _throughput():
    if str(ROOT) not in sys.path:  # benchmarks/ is a top-level package, not installed
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks.throughput")


def test_machine_speed_is_measured_in_microseconds_of_cpu():
    speed = _throughput().machine_speed(events=50)
    assert set(speed) == {"sign", "check", "parse"}
    # an Ed25519 check costs more than a signature on any machine; neither is free or a second long
    assert 0 < speed["sign"] < speed["check"] < 100_000
    assert 0 < speed["parse"] < 100_000


def test_cpu_ceiling_is_the_cores_over_the_suites_cpu_per_alert():
    ceiling = _throughput().cpu_ceiling
    total, rate = ceiling(2, {"referrals": 0.5, "notifications": 1.0, "broker": 0.5})
    assert total == pytest.approx(2.0)
    assert rate == pytest.approx(1000.0)
    assert ceiling(2, {}) is None
    assert ceiling(0, {"referrals": 1.0}) is None


def test_summary_and_json_carry_the_machines_speed_and_the_ceiling(tmp_path):
    t = _throughput()
    report = t.Report(database="sqlite", quick=True, cpus=2, started_at="now", var_dir=str(tmp_path), suite_start_s=1.0)
    report.machine_us = {"sign": 40.0, "check": 120.0, "parse": 16.0}
    flat = t.LoadResult(
        name="flat out (10 people)", rate=None, people=10, prepared=10, delivered=10, audited=10,
        alerts_per_s=500.0, p50_s=1.0, p95_s=1.5, p99_s=2.0, publish_s=0.1, duplicates=0,
        cpu_ms_per_alert={"notifications": 1.5, "referrals": 0.8, "audit": 0.7, "broker": 1.0},
    )  # fmt: skip
    paced = t.LoadResult(
        name="offered 100/s (10 people)", rate=100.0, people=10, prepared=10, delivered=10, audited=10,
        alerts_per_s=100.0, p50_s=0.1, p95_s=0.1, p99_s=0.1, publish_s=0.1, duplicates=0,
        cpu_ms_per_alert={"notifications": 5.0},
    )  # fmt: skip
    report.loads = [paced, flat]
    lines = t.summary(report)
    assert (
        "this machine when measured (µs of CPU, one core): Ed25519 signature 40 made, 120 checked; an event parsed 16"
        in lines
    )
    ceilings = [line for line in lines if "cores allow at most" in line]
    # only the flat-out load: a paced load's CPU per alert says nothing of the most it could do
    expected = "the whole suite 4.00 ms of CPU per alert: 2 cores allow at most 500 alerts/s at that cost"
    assert ceilings == [f"flat out (10 people): {expected}"]
    assert json.loads(json.dumps(report.as_dict()))["machine_us"] == report.machine_us
    # which CPython ran it: its build moves every figure (README, "Which Python")
    assert lines[0] == f"python: {platform.python_version()} ({sys.base_prefix})"
    assert json.loads(json.dumps(report.as_dict()))["python"] == lines[0].removeprefix("python: ")


def test_the_suites_cpu_with_no_load_is_measured_per_process_printed_and_written_out(tmp_path):
    import asyncio
    import subprocess

    t = _throughput()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # a process that uses a whole core
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        cores = asyncio.run(t.idle_cores({"busy": busy.pid, "idle": idle.pid}, 1.0))
    finally:
        for process in (busy, idle):
            process.kill()
            process.wait()  # reaped: a later test that sums this process's family must not meet them
    assert set(cores) == {"busy", "idle"}
    assert cores["busy"] > 0.5  # about one core (on a loaded machine somewhat less)
    assert cores["idle"] < 0.05

    report = t.Report(database="sqlite", quick=True, cpus=2, started_at="now", var_dir=str(tmp_path), suite_start_s=1.0)
    report.idle_cores = {"referrals": 0.027, "notifications": 0.033, "broker": 0.14}
    assert "cores used with no load (10 s): 0.20: referrals 0.027, notifications 0.033, broker 0.140" in t.summary(
        report
    )
    assert json.loads(json.dumps(report.as_dict()))["idle_cores"] == report.idle_cores


def test_peak_resident_memory_is_read_beside_the_current_and_printed(tmp_path):
    import os
    from types import SimpleNamespace

    t = _throughput()
    suite = SimpleNamespace(processes={"me": SimpleNamespace(pid=os.getpid())})
    now, peak = t.resident_memory(suite)["me"], t.resident_memory(suite, "VmHWM")["me"]
    assert 0 < now <= peak  # the most since start is never less than now

    report = t.Report(database="sqlite", quick=True, cpus=2, started_at="now", var_dir=str(tmp_path), suite_start_s=1.0)
    report.memory_peak_mb = {"referrals": 171.4, "audit": 140.0}
    assert "peak resident memory since start: referrals 171 MB, audit 140 MB" in t.summary(report)
    assert json.loads(json.dumps(report.as_dict()))["memory_peak_mb"] == report.memory_peak_mb


def test_the_pages_of_mapped_files_are_read_as_part_of_resident_memory_and_printed(tmp_path):
    import os
    from types import SimpleNamespace

    t = _throughput()
    suite = SimpleNamespace(processes={"me": SimpleNamespace(pid=os.getpid())})
    files, now = t.resident_memory(suite, "RssFile")["me"], t.resident_memory(suite)["me"]
    assert 0 < files < now  # the interpreter's own pages are mapped from its files, and are not all it holds

    report = t.Report(database="sqlite", quick=True, cpus=2, started_at="now", var_dir=str(tmp_path), suite_start_s=1.0)
    report.memory_mb = {"referrals": 150.2}
    report.memory_file_mb = {"referrals": 21.6}
    assert "of which pages of mapped files (RssFile): referrals 22 MB" in t.summary(report)
    assert json.loads(json.dumps(report.as_dict()))["memory_file_mb"] == report.memory_file_mb


def test_each_load_carries_the_machines_speed_before_and_after_it(tmp_path):
    t = _throughput()
    report = t.Report(database="sqlite", quick=True, cpus=2, started_at="now", var_dir=str(tmp_path), suite_start_s=1.0)
    slowed = t.LoadResult(
        name="offered 500/s (10 people)", rate=500.0, people=10, prepared=10, delivered=10, audited=10,
        alerts_per_s=349.0, p50_s=1.7, p95_s=2.2, p99_s=2.3, publish_s=0.1, duplicates=0,
        machine_us_before={"sign": 26.0, "check": 61.0, "parse": 8.0},
        machine_us_after={"sign": 33.0, "check": 84.0, "parse": 11.4},
    )  # fmt: skip
    unmeasured = t.LoadResult(
        name="flat out (10 people)", rate=None, people=10, prepared=10, delivered=10, audited=10,
        alerts_per_s=600.0, p50_s=1.0, p95_s=1.5, p99_s=2.0, publish_s=0.1, duplicates=0,
    )  # fmt: skip
    report.loads = [slowed, unmeasured]
    lines = t.summary(report)
    speed = [line for line in lines if "this machine before / after" in line]
    assert speed == [
        "offered 500/s (10 people): this machine before / after (µs of CPU, one core): Ed25519 check 61 / 84, "
        "an event parsed 8 / 11"
    ]
    loads = json.loads(json.dumps(report.as_dict()))["loads"]
    assert loads[0]["machine_us_before"] == slowed.machine_us_before
    assert loads[0]["machine_us_after"] == slowed.machine_us_after
    assert loads[1]["machine_us_before"] == {} and loads[1]["machine_us_after"] == {}


def test_cores_per_bin_are_each_processs_ticks_between_samples_over_the_time_between():
    t = _throughput()
    samples = [
        (100.0, {"referrals": 10, "notifications": 0}),
        (100.1, {"referrals": 19, "notifications": 5}),  # 9 and 5 ticks in 0.1 s at 100 a second
        (100.3, {"referrals": 19, "notifications": 25}),  # none, then 20 ticks in 0.2 s
    ]
    timeline = t.cores_per_bin(samples, t0=99.95, ticks_per_s=100)
    assert timeline["t_s"] == [0.05, 0.15]
    assert timeline["referrals"] == pytest.approx([0.9, 0.0])
    assert timeline["notifications"] == pytest.approx([0.5, 1.0])
    assert t.cores_per_bin(samples[:1], t0=99.95, ticks_per_s=100) == {"t_s": []}


def test_stage_points_are_first_percentiles_and_last_from_the_first_miss():
    t = _throughput()
    times = [1000.0 + i / 100 for i in range(101)]  # 1,000.00 ... 1,001.00 (s since the epoch)
    points = t.stage_points(list(reversed(times)), t0=999.5)
    assert list(points) == ["first", "10 %", "50 %", "90 %", "last"]
    assert [round(v, 3) for v in points.values()] == [0.5, 0.6, 1.0, 1.4, 1.5]
    assert t.stage_points([1000.25], t0=1000.0) == dict.fromkeys(points, 0.25)


def test_summary_and_json_carry_each_stage_and_the_cores_timeline(tmp_path):
    t = _throughput()
    report = t.Report(database="sqlite", quick=True, cpus=2, started_at="now", var_dir=str(tmp_path), suite_start_s=1.0)
    flat = t.LoadResult(
        name="flat out (10 people)", rate=None, people=10, prepared=10, delivered=10, audited=10,
        alerts_per_s=500.0, p50_s=1.0, p95_s=1.5, p99_s=2.0, publish_s=0.1, duplicates=0,
        stages_s={
            # a stamp is whole milliseconds: the first may fall just before the start, printed as 0
            "miss": {"first": -0.0004, "10 %": 0.004, "50 %": 0.016, "90 %": 0.034, "last": 0.037},
            "alert": {"first": 0.326, "10 %": 0.624, "50 %": 1.306, "90 %": 2.036, "last": 2.049},
        },
        cores_timeline={"t_s": [0.0, 0.1], "notifications": [0.5, 1.0]},
    )  # fmt: skip
    report.loads = [flat]
    lines = [line for line in t.summary(report) if "each stage" in line]
    assert lines == [
        "flat out (10 people): each stage published, ms from the first miss (first / 10 % / 50 % / 90 % / last): "
        "miss 0 / 4 / 16 / 34 / 37; alert 326 / 624 / 1306 / 2036 / 2049"
    ]
    [load] = json.loads(json.dumps(report.as_dict()))["loads"]
    assert load["stages_s"] == flat.stages_s
    assert load["cores_timeline"] == flat.cores_timeline


@pytest.mark.integration
async def test_stage_times_are_the_brokers_timestamps_of_one_type_from_a_moment_on(broker_bootstrap):
    t = _throughput()
    topic, other = unique("test.timeline."), unique("test.timeline.")
    now_ms = int(time.time() * 1000)
    admin = AIOKafkaAdminClient(bootstrap_servers=broker_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1) for name in (topic, other)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=broker_bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        sends = [
            (topic, now_ms - 60_000, b"x.missed"),  # before the moment asked for
            (topic, now_ms + 10, b"x.missed"),
            (topic, now_ms + 20, b"x.booked"),  # another type on the same topic
            (topic, now_ms + 30, b"x.missed"),
            (other, now_ms + 40, b"x.alert"),
        ]
        for i, (to, stamp, kind) in enumerate(sends):
            key = f"k{i}".encode()  # spread over partitions: every partition is read
            await producer.send_and_wait(to, b"{}", key=key, timestamp_ms=stamp, headers=[("ce_type", kind)])
        # no ce_type header (as this harness publishes its misses): the event's own type says
        await producer.send_and_wait(topic, b'{"type": "x.missed"}', key=b"k9", timestamp_ms=now_ms + 50)
        await producer.send_and_wait(topic, b"not json", key=b"k8", timestamp_ms=now_ms + 60)
    finally:
        await producer.stop()
    stages = [("miss", topic, "x.missed"), ("alert", other, "x.alert"), ("none", unique("test.absent."), "x")]
    found = await t.stage_times(broker_bootstrap, since=now_ms / 1000, stages=stages)
    assert sorted(found["miss"]) == [(now_ms + 10) / 1000, (now_ms + 30) / 1000, (now_ms + 50) / 1000]
    assert found["alert"] == [(now_ms + 40) / 1000]
    assert found["none"] == []
