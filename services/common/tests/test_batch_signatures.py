"""One signature per batch on the topics CONTRACT §10 does not name: a Merkle tree head (RFC 9162)
signed once, each event proven on its own by its inclusion proof."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from isp_common import merkle, provenance
from isp_common.directory import private_jwk, public_jwk
from isp_common.outbox import PendingRow, signed_headers
from isp_common.provenance import (
    BATCH_PROOF_HEADER,
    BATCH_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    ProvenanceError,
    Signer,
    Trust,
    check,
    verify_batch_signature,
    verify_signature,
)
from isp_schemas import topics


def new_signer() -> tuple[Signer, dict[str, Any]]:
    key = Ed25519PrivateKey.generate()
    return Signer.from_jwk(private_jwk(key)), {"keys": [public_jwk(key.public_key())]}


NOTIFICATIONS, NOTIFICATIONS_KEYS = new_signer()
REGISTER, REGISTER_KEYS = new_signer()
PROVIDER, PROVIDER_KEYS = new_signer()
TRUST = Trust(
    org_keys={"CGL-WSX": PROVIDER_KEYS}.get,
    service_keys={"notifications": NOTIFICATIONS_KEYS, "register": REGISTER_KEYS},
)
RECORD = "uk.isp.audit.disclosure.v1"


def record(n: int) -> bytes:
    return json.dumps({"type": RECORD, "id": f"rec-{n}", "data": {"alert_id": f"a-{n}"}}).encode()


def as_headers(pairs: list[tuple[str, bytes]]) -> dict[str, str]:
    return {name: value.decode() for name, value in pairs}


def checked(value: bytes, headers: Sequence[tuple[str, bytes]], *, topic: str | None = topics.AUDIT) -> str:
    return check(value, headers, "WSCC-CSC", RECORD, {}, TRUST, topic=topic)


# -- the tree (RFC 9162 §2.1) ------------------------------------------------------------------------


def rfc_head(values: Sequence[bytes]) -> bytes:
    """MTH(D[n]) as RFC 9162 §2.1.1 defines it, recursively."""
    if len(values) == 1:
        return merkle.leaf_hash(values[0])
    k = 1 << (len(values) - 1).bit_length() - 1
    return merkle.node_hash(rfc_head(values[:k]), rfc_head(values[k:]))


def rfc_path(m: int, values: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) as RFC 9162 §2.1.3.1 defines it."""
    if len(values) == 1:
        return []
    k = 1 << (len(values) - 1).bit_length() - 1
    if m < k:
        return [*rfc_path(m, values[:k]), rfc_head(values[k:])]
    return [*rfc_path(m - k, values[k:]), rfc_head(values[:k])]


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=70))
def test_the_tree_head_and_every_proof_are_rfc_9162s(values: list[bytes]) -> None:
    head, proofs = merkle.tree(values)
    assert head == rfc_head(values)
    for m, value in enumerate(values):
        assert proofs[m] == rfc_path(m, values)
        assert merkle.head_from_proof(value, m, len(values), proofs[m]) == head


def test_the_rfc_9162_test_vector_of_the_empty_leaf() -> None:
    # RFC 6962's reference tree: the hash of a one-leaf tree over the empty string
    assert merkle.tree([b""])[0].hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


@given(st.lists(st.binary(max_size=20), min_size=2, max_size=40, unique=True), st.data())
def test_a_proof_leads_to_the_head_only_from_its_own_value_and_index(values: list[bytes], data: Any) -> None:
    head, proofs = merkle.tree(values)
    m = data.draw(st.integers(0, len(values) - 1))
    other = data.draw(st.integers(0, len(values) - 1).filter(lambda i: i != m))

    def leads(value: bytes, index: int, size: int, proof: list[bytes]) -> bool:
        try:
            return merkle.head_from_proof(value, index, size, proof) == head
        except merkle.ProofError:
            return False

    assert leads(values[m], m, len(values), proofs[m])
    assert not leads(values[other], m, len(values), proofs[m])
    assert not leads(values[m], other, len(values), proofs[m])
    assert not leads(values[m], m, len(values), proofs[m][:-1])
    assert not leads(values[m], m, len(values), [*proofs[m], head])
    # an interior node does not pass for a leaf (RFC 9162's 0x00 / 0x01 prefixes)
    assert not leads(proofs[m][0], m ^ 1, len(values), proofs[m][1:])


# -- signing and checking ----------------------------------------------------------------------------


def test_every_event_of_a_batch_is_proven_on_its_own_by_one_signature() -> None:
    values = [record(n) for n in range(7)]
    proven = NOTIFICATIONS.sign_batch(values)
    assert len({as_headers(h)[BATCH_SIGNATURE_HEADER] for h in proven}) == 1
    for value, headers in reversed(list(zip(values, proven, strict=True))):
        assert checked(value, headers) == "service"
        assert SIGNATURE_HEADER not in as_headers(headers)


def test_the_batch_signature_is_a_detached_jws_pyjwt_verifies_over_the_trees_size_and_head() -> None:
    values = [record(n) for n in range(3)]
    headers = as_headers(NOTIFICATIONS.sign_batch(values)[1])
    key = jwt.PyJWK(NOTIFICATIONS_KEYS["keys"][0], algorithm="EdDSA").key
    payload = b"3." + merkle.tree(values)[0].hex().encode()
    signature = headers[BATCH_SIGNATURE_HEADER]
    found = jwt.PyJWS().decode_complete(signature, key, algorithms=["EdDSA"], detached_payload=payload)
    assert found["header"]["isp-batch"] == "rfc9162-sha256"
    assert found["header"]["kid"] == NOTIFICATIONS.kid
    index, size, siblings = headers[BATCH_PROOF_HEADER].split(".")
    assert (index, size) == ("1", "3")
    assert len(base64.urlsafe_b64decode(siblings + "==")) == 2 * merkle.HASH_SIZE


@pytest.mark.parametrize("topic", [*sorted(provenance.PARTNER_TOPICS), None])
def test_a_batch_signature_is_refused_on_a_partner_topic_or_where_the_topic_is_not_known(topic: str | None) -> None:
    value = record(1)
    with pytest.raises(ProvenanceError, match="each event carries isp-signature"):
        checked(value, NOTIFICATIONS.sign_batch([value])[0], topic=topic)


@given(st.integers(0, 4), st.integers(0, 200), st.integers(1, 255))
def test_forgery_changing_any_byte_of_a_batched_event_is_refused(which: int, where: int, flip: int) -> None:
    values = [record(n) for n in range(5)]
    headers = NOTIFICATIONS.sign_batch(values)[which]
    checked(values[which], headers)  # the genuine one passes, so its tree head is known to be good
    forged = bytearray(values[which])
    forged[where % len(forged)] ^= flip
    with pytest.raises(ProvenanceError, match="does not verify over the tree head"):
        checked(bytes(forged), headers)


def test_forgery_another_events_proof_or_another_batchs_signature_is_refused() -> None:
    first = [record(n) for n in range(4)]
    second = [record(n) for n in range(10, 14)]
    a, b = NOTIFICATIONS.sign_batch(first), NOTIFICATIONS.sign_batch(second)
    for value, headers in zip(first + second, a + b, strict=True):
        checked(value, headers)
    with pytest.raises(ProvenanceError):
        checked(first[0], [a[0][0], a[1][1]])  # event 0 with event 1's proof
    with pytest.raises(ProvenanceError):
        checked(first[0], [b[0][0], a[0][1]])  # the first batch's proof under the second's signature


def test_forgery_a_proof_claiming_another_size_of_tree_is_refused() -> None:
    values = [record(n) for n in range(3)]
    signature, proof = NOTIFICATIONS.sign_batch(values)[0]
    index, size, siblings = proof[1].decode().split(".")
    checked(values[0], [signature, proof])
    # leaf 0 of 3 and of 4 take the same path up: the size is signed with the head
    with pytest.raises(ProvenanceError, match="does not verify over the tree head"):
        checked(values[0], [signature, (BATCH_PROOF_HEADER, f"{index}.4.{siblings}".encode())])


def test_forgery_a_batch_signed_with_a_key_no_service_or_organisation_has_is_refused() -> None:
    stranger, _keys = new_signer()
    value = record(1)
    with pytest.raises(ProvenanceError, match="kid is not a key of the source organisation"):
        checked(value, stranger.sign_batch([value])[0])


def test_forgery_a_batch_of_types_a_service_does_not_publish_is_refused() -> None:
    value = record(1)
    with pytest.raises(ProvenanceError, match="the register service does not publish"):
        checked(value, REGISTER.sign_batch([value])[0])


def test_a_per_message_signature_and_a_batch_signature_cannot_pass_for_each_other() -> None:
    value = record(1)
    head = b"1." + merkle.tree([value])[0].hex().encode()
    key = jwt.PyJWK(NOTIFICATIONS_KEYS["keys"][0], algorithm="EdDSA").key
    # a per-message signature over the bytes a batch signature signs is not a batch signature
    plain = NOTIFICATIONS.sign(head)
    with pytest.raises(ProvenanceError, match="must say isp-batch"):
        verify_batch_signature(value, plain, "0.1.", key)
    # nor is a batch signature a signature of the message
    batch = as_headers(NOTIFICATIONS.sign_batch([value])[0])[BATCH_SIGNATURE_HEADER]
    with pytest.raises(ProvenanceError, match="signs a tree head"):
        verify_signature(head, batch, key)
    with pytest.raises(ProvenanceError, match="signs a tree head"):
        checked(value, [(SIGNATURE_HEADER, batch.encode()), (BATCH_PROOF_HEADER, b"0.1.")])


@pytest.mark.parametrize(
    ("proof", "reason"),
    [
        (None, "without isp-batch-proof"),
        (b"0.1", "is not <index>.<size>"),
        (b"-1.2.AA", "is not <index>.<size>"),
        (b"2.2.", "outside the tree"),
        (b"0.2.AAAA", "not SHA-256 hashes"),
        (b"0.2.A", "not base64url"),
        (b"0.1." + b"A" * 43, "does not fit the tree"),
        (b"0.3." + b"A" * 43, "too short for the tree"),
    ],
)
def test_a_malformed_proof_is_refused_with_a_reason(proof: bytes | None, reason: str) -> None:
    value = record(1)
    signature = NOTIFICATIONS.sign_batch([value])[0][0]
    headers = [signature] if proof is None else [signature, (BATCH_PROOF_HEADER, proof)]
    with pytest.raises(ProvenanceError, match=reason):
        checked(value, headers)


def test_a_batchs_tree_head_is_verified_once_and_each_event_still_by_its_proof(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [record(n) for n in range(50)]
    proven = NOTIFICATIONS.sign_batch(values)
    verified: list[bytes] = []
    real = provenance._verify_jws

    def counting(payload: bytes, *args: Any) -> None:
        verified.append(payload)
        real(payload, *args)

    monkeypatch.setattr(provenance, "_verify_jws", counting)
    for value, headers in zip(values, proven, strict=True):
        checked(value, headers)
    assert len(verified) == 1
    with pytest.raises(ProvenanceError):
        checked(record(99), proven[0])  # a cached head does not let another event through
    assert len(verified) == 2


# -- the relay -----------------------------------------------------------------------------------


def row(n: int, topic: str) -> PendingRow:
    return PendingRow(n, topic, "k", f"e-{n}", RECORD, record(n), None, datetime.now(UTC))


def test_the_relay_signs_partner_topic_rows_one_by_one_and_the_others_as_one_batch() -> None:
    rows = [
        row(1, topics.AUDIT),
        row(2, topics.REFERRALS),
        row(3, "isp.alerts.WSCC-CSC.v1"),
        row(4, topics.AUDIT),
        row(5, topics.CONSENT),
    ]
    headers = [as_headers(h) for h in signed_headers(rows, NOTIFICATIONS)]
    partner = [h for r, h in zip(rows, headers, strict=True) if r.topic in provenance.PARTNER_TOPICS]
    others = [h for r, h in zip(rows, headers, strict=True) if r.topic not in provenance.PARTNER_TOPICS]
    assert all(SIGNATURE_HEADER in h and BATCH_SIGNATURE_HEADER not in h for h in partner)
    assert all(SIGNATURE_HEADER not in h for h in others)
    assert len({h[BATCH_SIGNATURE_HEADER] for h in others}) == 1
    assert [h[BATCH_PROOF_HEADER].split(".")[:2] for h in others] == [["0", "3"], ["1", "3"], ["2", "3"]]
    for r, h in zip(rows, headers, strict=True):
        assert h["ce_id"] == r.event_id
        pairs = [(name, value.encode()) for name, value in h.items()]
        assert checked(r.value, pairs, topic=r.topic) == "service"


def test_without_a_signer_the_relay_signs_nothing() -> None:
    headers = signed_headers([row(1, topics.AUDIT), row(2, topics.REFERRALS)], None)
    for found in map(as_headers, headers):
        assert not {SIGNATURE_HEADER, BATCH_SIGNATURE_HEADER, BATCH_PROOF_HEADER} & set(found)
