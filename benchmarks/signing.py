"""Signing and verifying cost per event (CONTRACT §10): events/s on one core, for a DNA event
(``appointment.missed``), through :mod:`isp_common.provenance` exactly as the relay and consumers call it."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_common.directory import private_jwk, public_jwk
from isp_common.provenance import SIGNATURE_HEADER, Signer, Trust, check
from isp_schemas.envelope import CloudEvent
from isp_schemas.examples import EXAMPLES


def run(events: int = 5_000) -> dict[str, float]:
    key = Ed25519PrivateKey.generate()
    signer = Signer.from_jwk(private_jwk(key))
    keys = {"CGL-WSX": {"keys": [public_jwk(key.public_key())]}}
    trust = Trust(org_keys=keys.get)
    data = EXAMPLES["uk.isp.treatment.appointment.missed.v1"]
    value = CloudEvent.create("uk.isp.treatment.appointment.missed.v1", "CGL-WSX", data).to_json_bytes()
    started = time.perf_counter()
    signatures = [signer.sign(value) for _ in range(events)]
    signed_s = time.perf_counter() - started
    started = time.perf_counter()
    for signature in signatures:
        check(value, [(SIGNATURE_HEADER, signature.encode())], "CGL-WSX", "t", data, trust)
    verified_s = time.perf_counter() - started
    result = {"bytes": len(value), "sign_per_s": events / signed_s, "verify_per_s": events / verified_s}
    print(
        f"signing ({result['bytes']} B events, one core): sign {result['sign_per_s']:,.0f}/s "
        f"({1e6 / result['sign_per_s']:.0f} µs each), verify incl. key lookup {result['verify_per_s']:,.0f}/s "
        f"({1e6 / result['verify_per_s']:.0f} µs each)",
        flush=True,
    )
    return result


if __name__ == "__main__":
    run()
