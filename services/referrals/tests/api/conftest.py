"""The API tests' fixture: the service built in process (see :mod:`.client`)."""

from __future__ import annotations

import pytest
from isp_common.db import make_engine
from isp_common.testing import FixedClock
from isp_referrals.bootstrap import build
from isp_referrals.settings import Settings

from .client import Service


@pytest.fixture
def service(tmp_path) -> Service:
    clock = FixedClock()
    return Service(build(Settings(var_dir=tmp_path), engine=make_engine("sqlite://"), clock=clock), clock)
