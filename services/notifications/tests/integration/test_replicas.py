"""Several notifications replicas on one PostgreSQL database."""

from __future__ import annotations

import pytest
from isp_common.db import make_engine

pytestmark = pytest.mark.integration


def test_of_two_notifications_replicas_on_postgresql_only_one_posts_webhooks(postgres_url, make_runtime):
    engine = make_engine(postgres_url)
    first = make_runtime(engine=engine).context.delivery
    second = make_runtime(engine=engine).context.delivery
    assert first.leadership.held() and not second.leadership.held()
    first.leadership.release()  # the leader stops: the other takes over
    assert second.leadership.held() and not first.leadership.held()
    second.leadership.release()
