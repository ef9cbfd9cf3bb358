"""isp_common.memory: the allocator settings every service process gets."""

from __future__ import annotations

import asyncio
import ctypes

import pytest
from isp_common import launcher, memory
from isp_common.db import make_engine
from isp_common.runtime import ServiceRuntime


class Recorded:
    """Stands in for subprocess.Popen: keeps each command's environment, starts nothing."""

    def __init__(self) -> None:
        self.envs: dict[str, dict[str, str]] = {}

    def __call__(self, args, env, **_kwargs):
        self.envs[args[-1]] = env
        return None


@pytest.fixture
def recorded(monkeypatch) -> Recorded:
    rec = Recorded()
    monkeypatch.setattr(launcher.subprocess, "Popen", rec)
    monkeypatch.setattr(launcher, "port_open", lambda *_a, **_k: False)
    return rec


def start_all(tmp_path, **env: str) -> launcher.Suite:
    suite = launcher.Suite(var_dir=tmp_path, bootstrap="127.0.0.1:1", env=dict(env))
    (tmp_path / "logs").mkdir()
    for name in suite.services:
        suite._start_service(name)
    return suite


def test_the_launcher_gives_every_service_the_allocator_settings(tmp_path, recorded, monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    start_all(tmp_path)
    assert set(recorded.envs) == {f"isp_{name}" for name in launcher.SERVICES}
    for env in recorded.envs.values():
        assert env["MALLOC_ARENA_MAX"] == memory.ALLOCATOR_ENV["MALLOC_ARENA_MAX"] == "2"
        assert env["ISP_ENVIRONMENT"]  # the rest of the environment is still there


def test_an_allocator_setting_the_operator_made_wins(tmp_path, recorded, monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    start_all(tmp_path)
    assert {env["MALLOC_ARENA_MAX"] for env in recorded.envs.values()} == {"4"}


def test_a_suite_setting_wins_too(tmp_path, recorded, monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    start_all(tmp_path, MALLOC_ARENA_MAX="1")
    assert {env["MALLOC_ARENA_MAX"] for env in recorded.envs.values()} == {"1"}


def test_with_allocator_settings_adds_only_what_is_missing():
    assert memory.with_allocator_settings({"A": "b"}) == {"A": "b", "MALLOC_ARENA_MAX": "2"}
    assert memory.with_allocator_settings({"MALLOC_ARENA_MAX": "8"}) == {"MALLOC_ARENA_MAX": "8"}


def resident_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.skipif(memory.heap_trimmer() is None, reason="the C library has no malloc_trim (not glibc)")
def test_the_trimmer_gives_back_what_the_heap_holds_free():
    # 400 blocks of 64 KiB (under glibc's mmap threshold: they come from the heap), written so they
    # are resident, then all freed but the last: it pins the heap's top, so glibc keeps the rest.
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    block = 64 * 1024
    blocks = [libc.malloc(block) for _ in range(400)]
    for address in blocks:
        ctypes.memset(address, 1, block)
    for address in blocks[:-1]:
        libc.free(address)
    held = resident_kib()
    trim = memory.heap_trimmer()
    assert trim is not None
    assert trim() is True
    assert held - resident_kib() > 20_000  # of the 25 MB freed
    libc.free(blocks[-1])


def test_a_runtime_trims_every_memory_trim_interval(monkeypatch, settings, clock):
    trims: list[int] = []
    timers: dict[str, tuple[float, object]] = {}
    monkeypatch.setattr(memory, "heap_trimmer", lambda: lambda: trims.append(1) or True)
    monkeypatch.setattr(ServiceRuntime, "every", lambda _rt, s, job, name=None: timers.update({job.__name__: (s, job)}))
    engine = make_engine("sqlite://")
    ServiceRuntime(settings.model_copy(update={"memory_trim_interval": 0.5}), title="t", engine=engine, clock=clock)
    seconds, job = timers["trim_heap"]
    assert seconds == 0.5
    asyncio.run(job())  # type: ignore[operator]
    assert trims == [1]


def test_no_trimming_at_interval_zero_or_without_glibc(monkeypatch, settings, clock):
    timers: list[str] = []
    monkeypatch.setattr(ServiceRuntime, "every", lambda _rt, s, job, name=None: timers.append(job.__name__))
    engine = make_engine("sqlite://")
    ServiceRuntime(settings.model_copy(update={"memory_trim_interval": 0}), title="t", engine=engine, clock=clock)
    monkeypatch.setattr(memory, "heap_trimmer", lambda: None)
    ServiceRuntime(settings.model_copy(update={"memory_trim_interval": 2}), title="t", engine=engine, clock=clock)
    assert "trim_heap" not in timers
