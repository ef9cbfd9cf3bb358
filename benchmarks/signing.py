"""Signing and verifying cost per event (CONTRACT §10): events/s on one core, for a DNA event
(``appointment.missed``), through :mod:`isp_common.provenance` exactly as the relay and consumers call it."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_common.directory import private_jwk, public_jwk
from isp_common.provenance import SIGNATURE_HEADER, Signer, Trust, check
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES
from isp_schemas.registry import parse_event

DNA_TYPE = "uk.isp.treatment.appointment.missed.v1"


def costs(events: int = 5_000) -> dict[str, float]:
    """Events a second on one core (CPU time, so a busy machine's other work does not count):
    signed, checked (key lookup included) and parsed and validated as a consumer does."""
    key = Ed25519PrivateKey.generate()
    signer = Signer.from_jwk(private_jwk(key))
    keys = {"CGL-WSX": {"keys": [public_jwk(key.public_key())]}}
    trust = Trust(org_keys=keys.get)
    data = EXAMPLES[DNA_TYPE]
    value = CloudEvent.create(DNA_TYPE, "CGL-WSX", data).to_json_bytes()
    started = time.process_time()
    signatures = [signer.sign(value) for _ in range(events)]
    signed_s = time.process_time() - started
    started = time.process_time()
    for signature in signatures:
        check(value, [(SIGNATURE_HEADER, signature.encode())], "CGL-WSX", "t", data, trust)
    verified_s = time.process_time() - started
    started = time.process_time()
    for _ in range(events):
        parse_event(value)
    parsed_s = time.process_time() - started
    return {
        "bytes": len(value),
        "sign_per_s": events / signed_s,
        "verify_per_s": events / verified_s,
        "parse_per_s": events / parsed_s,
    }


def run(events: int = 5_000) -> dict[str, float]:
    result = costs(events)
    print(
        f"signing ({result['bytes']} B events, one core): sign {result['sign_per_s']:,.0f}/s "
        f"({1e6 / result['sign_per_s']:.0f} µs each), verify incl. key lookup {result['verify_per_s']:,.0f}/s "
        f"({1e6 / result['verify_per_s']:.0f} µs each), parse and validate {result['parse_per_s']:,.0f}/s "
        f"({1e6 / result['parse_per_s']:.0f} µs each)",
        flush=True,
    )
    return result


if __name__ == "__main__":
    run()
