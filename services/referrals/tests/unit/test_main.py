"""``python -m isp_referrals``: what the process sets before it serves."""

from __future__ import annotations

import gc
import runpy
from collections.abc import Callable
from typing import Any

import pytest
from isp_common import serve


def test_the_process_collects_young_garbage_less_often_and_serves_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Callable[..., Any]] = []
    monkeypatch.setattr(serve, "serve", served.append)
    before = gc.get_threshold()
    try:
        runpy.run_module("isp_referrals", run_name="__main__")
        assert gc.get_threshold() == (10_000, *before[1:])
    finally:
        gc.set_threshold(*before)
    assert [build.__module__ for build in served] == ["isp_referrals.bootstrap"]
