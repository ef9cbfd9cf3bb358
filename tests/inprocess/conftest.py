"""The partnership of services under test: see :mod:`partnership`."""

from __future__ import annotations

from pathlib import Path

import pytest

from .partnership import Partnership, start_partnership


@pytest.fixture
def partnership(tmp_path: Path) -> Partnership:
    return start_partnership(tmp_path)
