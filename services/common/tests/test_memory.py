"""isp_common.memory: the allocator settings every service process gets."""

from __future__ import annotations

import pytest
from isp_common import launcher, memory


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
