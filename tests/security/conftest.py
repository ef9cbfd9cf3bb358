"""The forgery suite's partnership: see :mod:`.forgery`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .forgery import Forgery, start


@pytest.fixture
def forgery_in(tmp_path: Path) -> Callable[[str], Forgery]:
    """The partnership trusting as ``mode`` (``embedded`` or ``production``) does."""
    return lambda mode: start(tmp_path, mode)
