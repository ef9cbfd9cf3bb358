"""Event provenance (CONTRACT §10): signatures over the message bytes, keys from the directory,
organisation fields bound to ``source``, services limited to the types they own."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from isp_common.directory import private_jwk, public_jwk
from isp_common.provenance import (
    SIGNATURE_HEADER,
    SIGNED_FOR_HEADER,
    ProvenanceError,
    Signer,
    Trust,
    check,
    signature_kid,
)


def new_signer() -> tuple[Signer, dict[str, Any]]:
    key = Ed25519PrivateKey.generate()
    return Signer.from_jwk(private_jwk(key)), {"keys": [public_jwk(key.public_key())]}


PROVIDER, PROVIDER_KEYS = new_signer()
OTHER, OTHER_KEYS = new_signer()
GATEWAY, GATEWAY_KEYS = new_signer()
REFERRALS, REFERRALS_KEYS = new_signer()
DIRECTORY: dict[str, Mapping[str, Any]] = {"CGL-WSX": PROVIDER_KEYS, "WSCC-CSC": OTHER_KEYS, "NOKEY-ORG": {"keys": []}}


def trust(allow_unsigned: bool = False) -> Trust:
    return Trust(
        org_keys=DIRECTORY.get,
        service_keys={"referrals": REFERRALS_KEYS},
        gateway_keys=GATEWAY_KEYS,
        allow_unsigned=allow_unsigned,
    )


VALUE = b'{"type":"uk.isp.consent.given.v1","source":"urn:isp:org:CGL-WSX","data":{"recorded_by":"CGL-WSX"}}'
CONSENT = "uk.isp.consent.given.v1"


def signed(signer: Signer, value: bytes = VALUE, **extra: str) -> list[tuple[str, bytes]]:
    return [(SIGNATURE_HEADER, signer.sign(value).encode()), *((k, v.encode()) for k, v in extra.items())]


def test_an_event_signed_by_its_source_organisation_is_signed() -> None:
    assert check(VALUE, signed(PROVIDER), "CGL-WSX", CONSENT, {"recorded_by": "CGL-WSX"}, trust()) == "signed"


def test_the_signature_is_a_compact_jws_with_a_detached_payload_naming_its_kid() -> None:
    signature = PROVIDER.sign(VALUE)
    header, payload, _ = signature.split(".")
    assert payload == ""
    assert signature_kid(signature) == PROVIDER.kid


def test_a_signature_over_other_bytes_does_not_verify() -> None:
    headers = signed(PROVIDER, VALUE.replace(b"CGL-WSX", b"CGL-WSY"))
    with pytest.raises(ProvenanceError, match="does not verify"):
        check(VALUE, headers, "CGL-WSX", CONSENT, {}, trust())


@given(st.binary(min_size=1, max_size=200), st.integers(min_value=0))
def test_changing_any_byte_of_a_signed_message_breaks_the_signature(value: bytes, where: int) -> None:
    headers = signed(PROVIDER, value)
    index = where % len(value)
    tampered = value[:index] + bytes([value[index] ^ 0x01]) + value[index + 1 :]
    with pytest.raises(ProvenanceError):
        check(tampered, headers, "CGL-WSX", CONSENT, {}, trust())


# -- the forgeries of issue 11: anyone who can publish ---------------------------------------


def test_forgery_widening_another_organisations_consent_with_its_own_key_is_refused() -> None:
    """WSCC-CSC signs a consent that claims to come from CGL-WSX: the kid is not CGL-WSX's."""
    with pytest.raises(ProvenanceError, match="not a key of the source organisation"):
        check(VALUE, signed(OTHER), "CGL-WSX", CONSENT, {"recorded_by": "CGL-WSX"}, trust())


def test_forgery_an_organisation_speaking_for_another_in_its_data_is_refused() -> None:
    """Signed by CGL-WSX, but recorded_by names WSCC-CSC (closing its enquiry, its consent)."""
    with pytest.raises(ProvenanceError, match="recorded_by must name the source organisation"):
        check(VALUE, signed(PROVIDER), "CGL-WSX", CONSENT, {"recorded_by": "WSCC-CSC"}, trust())


def test_forgery_planting_a_referral_from_another_organisation_is_refused() -> None:
    data = {"from_org": "WSCC-CSC", "to_org": "CGL-WSX"}
    with pytest.raises(ProvenanceError, match="from_org"):
        check(VALUE, signed(PROVIDER), "CGL-WSX", "uk.isp.referral.requested.v1", data, trust())


def test_forgery_an_unsigned_event_is_refused_in_production() -> None:
    with pytest.raises(ProvenanceError, match="missing"):
        check(VALUE, [], "NOKEY-ORG", CONSENT, {}, trust(allow_unsigned=False))


def test_embedded_default_lets_an_organisation_with_no_key_publish_unsigned_but_only_for_itself() -> None:
    assert check(VALUE, [], "NOKEY-ORG", CONSENT, {"recorded_by": "NOKEY-ORG"}, trust(True)) == "unsigned"
    with pytest.raises(ProvenanceError, match="recorded_by"):
        check(VALUE, [], "NOKEY-ORG", CONSENT, {"recorded_by": "CGL-WSX"}, trust(True))


def test_embedded_default_takes_an_unsigned_service_type_as_a_service_would_send_it() -> None:
    data = {"from_org": "WSCC-CSC", "to_org": "NOKEY-ORG"}
    missed = "uk.isp.referral.assessment_missed.v1"
    assert check(VALUE, [], "NOKEY-ORG", missed, data, trust(True)) == "unsigned"
    with pytest.raises(ProvenanceError, match="missing"):
        check(VALUE, [], "NOKEY-ORG", missed, data, trust(False))


def test_an_organisation_with_a_key_must_use_it_even_in_the_embedded_default() -> None:
    with pytest.raises(ProvenanceError, match="missing"):
        check(VALUE, [], "CGL-WSX", CONSENT, {"recorded_by": "CGL-WSX"}, trust(True))


def test_forgery_publishing_an_audit_record_as_a_service_that_does_not_disclose_is_refused() -> None:
    """A forged disclosure record needs a disclosing service's key; the register's would not do."""
    register, register_keys = new_signer()
    with_register = Trust(org_keys=DIRECTORY.get, service_keys={"register": register_keys})
    record = "uk.isp.audit.disclosure.v1"
    with pytest.raises(ProvenanceError, match="register service does not publish"):
        check(VALUE, signed(register), "CGL-WSX", record, {}, with_register)
    with pytest.raises(ProvenanceError, match="not a key of the source organisation"):
        check(VALUE, signed(PROVIDER), "CGL-WSX", record, {}, Trust(org_keys={}.get))


def test_a_disclosing_service_may_publish_audit_records_and_state_other_organisations() -> None:
    data = {"from_org": "WSCC-CSC"}
    record = "uk.isp.audit.disclosure.v1"
    assert check(VALUE, signed(REFERRALS), "CGL-WSX", record, data, trust()) == "service"
    assert check(VALUE, signed(REFERRALS), "CGL-WSX", "uk.isp.referral.accepted.v1", data, trust()) == "service"


# -- the events gateway ------------------------------------------------------------------------


def test_the_gateway_signs_for_the_organisation_it_authenticated() -> None:
    headers = signed(GATEWAY, **{SIGNED_FOR_HEADER: "CGL-WSX"})
    assert check(VALUE, headers, "CGL-WSX", CONSENT, {"recorded_by": "CGL-WSX"}, trust()) == "gateway"


def test_the_gateway_cannot_sign_for_an_organisation_other_than_the_source() -> None:
    headers = signed(GATEWAY, **{SIGNED_FOR_HEADER: "WSCC-CSC"})
    with pytest.raises(ProvenanceError, match="does not name the source"):
        check(VALUE, headers, "CGL-WSX", CONSENT, {}, trust())


def test_signed_for_with_an_organisation_key_is_refused() -> None:
    headers = signed(PROVIDER, **{SIGNED_FOR_HEADER: "CGL-WSX"})
    with pytest.raises(ProvenanceError, match="not the gateway's"):
        check(VALUE, headers, "CGL-WSX", CONSENT, {}, trust())


@pytest.mark.parametrize(
    "signature",
    ["", "abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..c2ln", "eyJhbGciOiJFZERTQSJ9..c2ln", "%%%..x"],
)
def test_a_malformed_signature_is_refused_with_a_reason(signature: str) -> None:
    with pytest.raises(ProvenanceError) as refused:
        check(VALUE, [(SIGNATURE_HEADER, signature.encode())], "CGL-WSX", CONSENT, {}, trust())
    assert "isp-signature" in str(refused.value) or "kid" in str(refused.value)


def test_a_private_jwk_without_d_is_not_a_signer() -> None:
    with pytest.raises(ProvenanceError):
        Signer.from_jwk(PROVIDER_KEYS["keys"][0])


# -- PyJWT makes and reads the JWS; libsodium does the arithmetic ----------------------------
def _segment(obj: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()


@given(st.binary(max_size=300))
def test_a_signature_is_byte_for_byte_the_one_pyjwt_makes_and_pyjwt_verifies_it(value: bytes) -> None:
    mine = PROVIDER.sign(value)
    pyjwt = jwt.PyJWS().encode(
        value, PROVIDER.key, algorithm="EdDSA", headers={"kid": PROVIDER.kid}, is_payload_detached=True
    )
    assert mine == pyjwt
    public = PROVIDER.key.public_key()
    jwt.PyJWS().decode_complete(mine, public, algorithms=["EdDSA"], detached_payload=value)


def test_a_signature_made_by_pyjwt_alone_verifies_the_first_time_and_after() -> None:
    signer, keys = new_signer()
    directory = {"CGL-WSX": keys}
    for value in (VALUE, VALUE + b" "):
        signature = jwt.PyJWS().encode(
            value, signer.key, algorithm="EdDSA", headers={"kid": signer.kid}, is_payload_detached=True
        )
        headers = [(SIGNATURE_HEADER, signature.encode())]
        assert check(value, headers, "CGL-WSX", CONSENT, {}, Trust(org_keys=directory.get)) == "signed"


def test_once_a_header_is_accepted_a_signature_under_it_is_still_checked() -> None:
    signer, keys = new_signer()
    forger, _ = new_signer()
    forged_as = Signer(key=forger.key, kid=signer.kid)  # the same header, another key
    directory = {"CGL-WSX": keys}
    assert check(VALUE, signed(signer), "CGL-WSX", CONSENT, {}, Trust(org_keys=directory.get)) == "signed"
    for headers, value in (
        (signed(forged_as), VALUE),
        (signed(signer), VALUE + b" "),
        (signed(signer, VALUE + b" "), VALUE),
    ):
        with pytest.raises(ProvenanceError, match="does not verify"):
            check(value, headers, "CGL-WSX", CONSENT, {}, Trust(org_keys=directory.get))


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "EdDSA", "kid": "{kid}"},  # b64 left true: the payload would have to be encoded
        {"alg": "EdDSA", "b64": False, "kid": "{kid}"},  # b64 false but not critical (RFC 7797 §3)
        {
            "alg": "EdDSA",
            "b64": False,
            "crit": ["b64", "urn:example:unknown"],
            "kid": "{kid}",
        },  # an extension nobody here knows
    ],
)
def test_a_header_pyjwt_refuses_is_refused_however_often_it_comes(header: dict[str, Any]) -> None:
    signer, keys = new_signer()
    protected = _segment({k: (signer.kid if v == "{kid}" else v) for k, v in header.items()})
    signature = base64.urlsafe_b64encode(signer.key.sign(protected.encode() + b"." + VALUE)).rstrip(b"=").decode()
    headers = [(SIGNATURE_HEADER, f"{protected}..{signature}".encode())]
    directory = {"CGL-WSX": keys}
    assert check(VALUE, signed(signer), "CGL-WSX", CONSENT, {}, Trust(org_keys=directory.get)) == "signed"
    for _ in range(2):
        with pytest.raises(ProvenanceError):
            check(VALUE, headers, "CGL-WSX", CONSENT, {}, Trust(org_keys=directory.get))


def test_a_padded_or_mangled_signature_segment_is_read_by_pyjwt() -> None:
    signer, keys = new_signer()
    directory = {"CGL-WSX": keys}
    good = signer.sign(VALUE)
    assert check(VALUE, signed(signer), "CGL-WSX", CONSENT, {}, Trust(org_keys=directory.get)) == "signed"
    padded = [(SIGNATURE_HEADER, (good + "==").encode())]
    assert check(VALUE, padded, "CGL-WSX", CONSENT, {}, Trust(org_keys=directory.get)) == "signed"  # as PyJWT reads it
    for mangled in (good[:-1] + "!", good[:-2], good + "A", good.replace("..", ".x.")):
        with pytest.raises(ProvenanceError):
            check(VALUE, [(SIGNATURE_HEADER, mangled.encode())], "CGL-WSX", CONSENT, {}, Trust(org_keys=directory.get))
