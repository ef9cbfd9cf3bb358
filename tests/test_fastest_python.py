"""``.ci/fastest_python.py``: which CPython ``make install`` builds ``.venv`` on."""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastest_python", ROOT / ".ci" / "fastest_python.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


fp = _load()
Candidate = fp.Candidate


def test_the_first_found_is_kept_when_none_is_clearly_faster() -> None:
    first = Candidate("/a/python3.11", (3, 11), 0.100)
    slightly = Candidate("/b/python3.11", (3, 11), 0.095)
    assert fp.choose([first, slightly]) == first


def test_a_clearly_faster_build_is_chosen() -> None:
    first = Candidate("/root/.pyenv/versions/3.11.7/bin/python3.11", (3, 11), 0.100)
    optimised = Candidate("/usr/bin/python3.11", (3, 11), 0.075)
    assert fp.choose([first, optimised]) == optimised


def test_only_supported_versions_are_chosen() -> None:
    old = Candidate("/usr/bin/python3.10", (3, 10), 0.010)
    new = Candidate("/usr/bin/python3.13", (3, 13), 0.010)
    supported = Candidate("/usr/bin/python3.12", (3, 12), 0.100)
    assert fp.choose([old, new, supported]) == supported
    assert fp.choose([old, new, None]) is None
    assert fp.choose([]) is None


def test_one_interpreter_reached_by_two_names_counts_once() -> None:
    """``python3`` and ``python3.11`` are often one interpreter: its first probe is the one kept."""
    first = Candidate("/usr/bin/python3.11", (3, 11), 0.100)
    again = Candidate("/usr/bin/python3.11", (3, 11), 0.050)  # the same one, timed on a quiet moment
    other = Candidate("/opt/python3.11", (3, 11), 0.095)
    assert fp.choose([first, again, other]) == first


@given(
    st.lists(
        st.builds(
            Candidate,
            st.sampled_from(["/a", "/b", "/c", "/d"]),
            st.sampled_from([(3, 10), (3, 11), (3, 12), (3, 13)]),
            st.floats(0.001, 1.0),
        )
        | st.none(),
        max_size=6,
    )
)
def test_the_choice_is_supported_and_never_clearly_slower_than_the_first(probed: list) -> None:
    chosen = fp.choose(probed)
    usable = [c for c in probed if c is not None and c.version in fp.SUPPORTED]
    if not usable:
        assert chosen is None
        return
    assert chosen is not None and chosen.version in fp.SUPPORTED
    first = usable[0]
    assert chosen == first or chosen.seconds <= fp.CLEARLY_FASTER * first.seconds


def test_commands_on_path_come_first_each_once(tmp_path: Path) -> None:
    for name in ("python3.11", "python3"):
        exe = tmp_path / name
        exe.write_text("#!/bin/sh\n")
        exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "python3.12").symlink_to(tmp_path / "python3.11")  # one file by two names
    found = fp.found_on_machine(path=str(tmp_path))
    assert found[:2] == [str(tmp_path / "python3.11"), str(tmp_path / "python3")]
    assert str(tmp_path / "python3.12") not in found
    assert len({os.path.realpath(command) for command in found}) == len(found)


def test_this_interpreter_is_probed() -> None:
    """The probe runs for real: this interpreter's path, version and a positive time."""
    candidate = fp.probe(sys.executable)
    assert candidate is not None
    assert candidate.executable == os.path.realpath(sys.executable)
    assert candidate.version == sys.version_info[:2]
    assert candidate.seconds > 0


def test_a_command_that_is_not_python_gives_no_candidate(tmp_path: Path) -> None:
    fake = tmp_path / "python3.11"
    fake.write_text("#!/bin/sh\necho not python\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    assert fp.probe(str(fake)) is None
    assert fp.probe(str(tmp_path / "absent")) is None


def test_main_prints_a_supported_interpreter(capsys: pytest.CaptureFixture[str]) -> None:
    assert fp.main([]) == 0
    printed = capsys.readouterr().out.strip()
    if printed:  # (a machine with no 3.11 or 3.12 on it prints nothing, and uv chooses)
        candidate = fp.probe(printed)
        assert candidate is not None and candidate.version in fp.SUPPORTED
