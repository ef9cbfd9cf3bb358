"""The test servers' own plumbing (``isp_common.testing.fixtures``): asking whether Docker is there
leaves nothing open behind it."""

from __future__ import annotations

import gc
import warnings

import pytest
from isp_common.testing import fixtures


def test_asking_for_docker_where_there_is_none_leaves_no_socket_open(monkeypatch, tmp_path):
    """docker's client, asked for an engine whose socket is not there, left the socket it had made
    unclosed: a ``ResourceWarning`` that surfaced in whichever test the collector next ran in."""
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(fixtures, "DOCKER_SOCKET", str(tmp_path / "docker.sock"))
    pytest.importorskip("docker")
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert fixtures._docker_available() is False
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
