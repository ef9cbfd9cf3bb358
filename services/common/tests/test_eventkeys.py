"""Event-signing key files: one per signer, private to its owner, made only in the embedded default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from isp_common.eventkeys import KeyFileError, ensure_signer, public_keys_in
from isp_common.provenance import SIGNATURE_HEADER, Trust, check


def test_a_key_is_made_once_with_its_public_half_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "events" / "referrals.jwk"
    signer = ensure_signer(path, create=True)
    assert ensure_signer(path, create=True).kid == signer.kid
    assert path.stat().st_mode & 0o777 == 0o600
    keys = public_keys_in(tmp_path / "events")
    assert list(keys) == ["referrals"] and "d" not in keys["referrals"]["keys"][0]
    value = b"{}"
    trust = Trust(org_keys={}.get, service_keys=keys)
    headers = [(SIGNATURE_HEADER, signer.sign(value).encode())]
    assert check(value, headers, "CGL-WSX", "uk.isp.referral.accepted.v1", {}, trust) == "service"


def test_production_never_makes_a_key(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        ensure_signer(tmp_path / "gateway.jwk", create=False)


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gateway.jwk"
    ensure_signer(path, create=True)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        ensure_signer(path, create=True)


def test_no_key_directory_trusts_no_service(tmp_path: Path) -> None:
    assert public_keys_in(tmp_path / "absent") == {}
