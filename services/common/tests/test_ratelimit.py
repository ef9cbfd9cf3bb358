"""The per-organisation rate limit (isp_common.ratelimit): a token bucket counted in units of work."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from isp_common.ratelimit import RateLimit


def test_a_burst_is_allowed_then_the_rate_applies_and_says_when_to_retry() -> None:
    limit = RateLimit(rate=10, burst=20)
    assert limit.take("CGL-WSX", 20, now=0.0) is None
    wait = limit.take("CGL-WSX", 5, now=0.0)
    assert wait is not None and abs(wait - 0.5) < 1e-9
    assert limit.take("CGL-WSX", 5, now=0.5) is None


def test_organisations_have_their_own_buckets() -> None:
    limit = RateLimit(rate=1, burst=5)
    assert limit.take("CGL-WSX", 5, now=0.0) is None
    assert limit.take("WSCC-CSC", 5, now=0.0) is None
    assert limit.take("CGL-WSX", 1, now=0.0) is not None


def test_a_request_larger_than_the_burst_can_never_pass() -> None:
    assert RateLimit(rate=100, burst=10).take("CGL-WSX", 11, now=0.0) == float("inf")


@given(st.lists(st.tuples(st.floats(min_value=0, max_value=5), st.integers(min_value=1, max_value=30)), max_size=60))
def test_never_more_than_the_burst_plus_the_rate_over_time(requests: list[tuple[float, int]]) -> None:
    limit = RateLimit(rate=7, burst=25)
    now, allowed = 0.0, 0
    for gap, events in requests:
        now += gap
        if limit.take("CGL-WSX", events, now) is None:
            allowed += events
    assert allowed <= 25 + 7 * now + 1e-6
