"""What a running service trusts: organisations' keys from its directory, services' and the
gateway's keys from the event-keys directory, found even when they appear after start."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_common.db import make_engine
from isp_common.directory import private_jwk, public_jwk
from isp_common.eventkeys import ensure_signer
from isp_common.provenance import SIGNATURE_HEADER, SIGNED_FOR_HEADER, ProvenanceError, Signer, check
from isp_common.testing import migrated_engine, organisation, seed_directory
from isp_common.trust import trust_for

VALUE = b'{"id":"e-1"}'
TYPE = "uk.isp.consent.given.v1"


def signature(signer: Signer, **extra: str) -> list[tuple[str, bytes]]:
    return [(SIGNATURE_HEADER, signer.sign(VALUE).encode()), *((k, v.encode()) for k, v in extra.items())]


def test_an_organisations_key_in_the_directory_is_trusted_for_it_alone(tmp_path: Path) -> None:
    engine = migrated_engine("isp_notifications")
    key = Ed25519PrivateKey.generate()
    org = organisation(kind="treatment_provider", keys={"keys": [public_jwk(key.public_key())]})
    seed_directory(engine, org)
    trust = trust_for(engine, tmp_path / "events", allow_unsigned=True)
    signer = Signer.from_jwk(private_jwk(key))
    assert check(VALUE, signature(signer), org.id, TYPE, {}, trust) == "signed"
    with pytest.raises(ProvenanceError):
        check(VALUE, signature(signer), "CGL-WSX", TYPE, {}, trust)
    with pytest.raises(ProvenanceError, match="missing"):
        check(VALUE, [], org.id, TYPE, {}, trust)


def test_keys_made_after_start_are_found(tmp_path: Path) -> None:
    keys = tmp_path / "events"
    trust = trust_for(make_engine("sqlite://"), keys, allow_unsigned=False, rescan_every=0)
    referrals = ensure_signer(keys / "referrals.jwk", create=True)
    gateway = ensure_signer(keys / "gateway.jwk", create=True)
    assert check(VALUE, signature(referrals), "CGL-WSX", "uk.isp.referral.accepted.v1", {}, trust) == "service"
    signed_for = signature(gateway, **{SIGNED_FOR_HEADER: "CGL-WSX"})
    assert check(VALUE, signed_for, "CGL-WSX", TYPE, {}, trust) == "gateway"


def test_the_gateway_key_is_not_a_service_key(tmp_path: Path) -> None:
    keys = tmp_path / "events"
    gateway = ensure_signer(keys / "gateway.jwk", create=True)
    trust = trust_for(make_engine("sqlite://"), keys, allow_unsigned=False)
    with pytest.raises(ProvenanceError):
        check(VALUE, signature(gateway), "CGL-WSX", "uk.isp.audit.disclosure.v1", {}, trust)


def test_without_a_directory_only_services_and_the_embedded_default_speak(tmp_path: Path) -> None:
    engine = make_engine("sqlite://")
    assert check(VALUE, [], "CGL-WSX", TYPE, {}, trust_for(engine, tmp_path, allow_unsigned=True)) == "unsigned"
    with pytest.raises(ProvenanceError, match="missing"):
        check(VALUE, [], "CGL-WSX", TYPE, {}, trust_for(engine, tmp_path, allow_unsigned=False))


def test_an_organisations_keys_are_read_without_a_session_while_the_directory_read_is_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from isp_common import directory

    engine = migrated_engine("isp_notifications")
    key = Ed25519PrivateKey.generate()
    org = organisation(kind="treatment_provider", keys={"keys": [public_jwk(key.public_key())]})
    seed_directory(engine, org)
    trust = trust_for(engine, tmp_path / "events", allow_unsigned=True)
    assert trust.org_keys(org.id) == {"keys": [public_jwk(key.public_key())]}

    def no_session(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a session was opened for a fresh directory read")

    monkeypatch.setattr(directory, "Session", no_session)
    assert trust.org_keys(org.id) == {"keys": [public_jwk(key.public_key())]}
    assert trust.org_keys("NOT-LISTED") is None
    monkeypatch.setattr(directory, "KINDS_CACHE_SECONDS", 0.0)
    with pytest.raises(AssertionError, match="a session was opened"):
        trust.org_keys(org.id)
