"""Print the CPython that ``.venv`` should be built on: the fastest 3.11 or 3.12 on this machine.

How a CPython was built moves this suite's speed as much as any change to its code. A build with
profile-guided and link-time optimisation (Debian's and Ubuntu's ``python3``, the official Docker
images the deployment uses, python.org's and uv's managed builds) runs plain Python 20-30 % faster
than one configured without ``--enable-optimizations`` and linked against a shared ``libpython``
(pyenv's default build); the services, whose C extensions (SQLite, pydantic-core, libsodium) are the
same either way, use 7-14 % less CPU per event (docs/perf/throughput-notes.md). ``make install``
asks this script, which times a short probe on each candidate (the best of several tries, on one
core) and prints the fastest one's path. Nothing printed (no candidate works) leaves the choice to
uv.

Candidates: ``python3.11``, ``python3.12`` and ``python3`` on ``PATH`` and in the usual system
directories, within the project's ``requires-python`` (3.11 or 3.12). The first one found on
``PATH`` is kept unless another is clearly faster (:data:`CLEARLY_FASTER`), so the choice does not
flip between two equal builds from one run to the next. ``make install PYTHON_FOR_VENV=...``
chooses by hand. Only the standard library: it runs before anything is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NAMES = ("python3.11", "python3.12", "python3")
SYSTEM_DIRS = ("/usr/local/bin", "/usr/bin")
SUPPORTED = ((3, 11), (3, 12))
CLEARLY_FASTER = 0.9
"""Another candidate is chosen over the first found only when it takes at most this share of the
first one's time (the probe varies by a few per cent between runs on a busy machine)."""

PROBE = """
import json, sys, time
class Node:
    __slots__ = ("left", "right", "value")
    def __init__(self, left, right, value):
        self.left, self.right, self.value = left, right, value
def build(depth):
    return Node(build(depth - 1), build(depth - 1), depth) if depth else None
def walk(node):
    return 0 if node is None else node.value + walk(node.left) + walk(node.right)
DOC = {"id": "a1", "items": [{"name": "x" * 12, "n": i, "ok": True, "at": 1.5} for i in range(20)]}
def work():
    total = walk(build(12))
    for _ in range(150):
        total += len(json.loads(json.dumps(DOC))["items"])
    seen = {}
    for i in range(20000):
        seen[f"k{i % 211}"] = i
    return total + len(seen)
def timed():
    started = time.process_time()
    work()
    return time.process_time() - started
print(sys.executable, sys.version_info[0], sys.version_info[1], min(timed() for _ in range(7)))
"""
"""What the services' Python does most, in small: objects made and walked, calls, JSON written and
read, strings formatted into dictionary keys. The best of seven tries of about 10 ms."""


@dataclass(frozen=True)
class Candidate:
    executable: str
    version: tuple[int, int]
    seconds: float


def found_on_machine(path: str | None = None) -> list[str]:
    """Interpreter commands to try, those on ``PATH`` first, each file once (``/usr/bin/python3``
    is a link to ``python3.11``: probed once, not twice)."""
    commands: list[str] = []
    for name in NAMES:
        on_path = shutil.which(name, path=path)
        if on_path:
            commands.append(on_path)
    for directory in SYSTEM_DIRS:
        for name in NAMES:
            candidate = os.path.join(directory, name)
            if os.access(candidate, os.X_OK):
                commands.append(candidate)
    by_file: dict[str, str] = {}
    for command in commands:
        by_file.setdefault(os.path.realpath(command), command)
    return list(by_file.values())


def probe(command: str, timeout: float = 30.0) -> Candidate | None:
    """The interpreter ``command`` runs (a pyenv shim names another), its version and its time."""
    try:
        done = subprocess.run([command, "-c", PROBE], capture_output=True, text=True, timeout=timeout, check=True)
        executable, major, minor, seconds = done.stdout.split()
        return Candidate(os.path.realpath(executable), (int(major), int(minor)), float(seconds))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def choose(candidates: Iterable[Candidate | None]) -> Candidate | None:
    """The supported candidate to build on: the first one, unless another is clearly faster."""
    usable: dict[str, Candidate] = {}  # by executable: one interpreter's first probe
    for candidate in candidates:
        if candidate is not None and candidate.version in SUPPORTED:
            usable.setdefault(candidate.executable, candidate)
    if not usable:
        return None
    first, fastest = next(iter(usable.values())), min(usable.values(), key=lambda c: c.seconds)
    return fastest if fastest.seconds <= CLEARLY_FASTER * first.seconds else first


def main(argv: Sequence[str] | None = None) -> int:
    verbose = "--verbose" in (argv if argv is not None else sys.argv[1:])
    probed = [probe(command) for command in found_on_machine()]
    if verbose:
        for candidate in probed:
            if candidate is not None:
                version = ".".join(map(str, candidate.version))
                print(f"{candidate.executable} ({version}): {1000 * candidate.seconds:.1f} ms", file=sys.stderr)
    chosen = choose(probed)
    if chosen is not None:
        print(chosen.executable)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
