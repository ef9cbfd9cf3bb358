"""Make the compose stack's key files once (the ``isp-keys`` service of docker-compose.yml), one file
per purpose and each where only its owner reads it:

- each service's private event-signing key ``<private-root>/<service>/events/<service>.jwk`` (0600, in
  that service's own volume), and its public half in the shared, read-only ``<public>`` directory that
  every service trusts (ISP_EVENT_KEYS_DIR);
- the audit checkpoint key's directory ``<checkpoint-dir>`` made private (0700; the audit service
  makes the key itself).

Existing keys are kept. ``python deploy/keys.py --private-root R --public P --checkpoint-dir C``
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from isp_common.eventkeys import ensure_signer, public_path

SERVICES = ("referrals", "register", "notifications", "audit", "gateway")


def make(private_root: Path, public: Path, checkpoint_dir: Path, services: tuple[str, ...] = SERVICES) -> None:
    public.mkdir(parents=True, exist_ok=True)
    for service in services:
        events = private_root / service / "events"
        events.mkdir(parents=True, exist_ok=True)
        (private_root / service).chmod(0o700)
        events.chmod(0o700)
        key = events / f"{service}.jwk"
        ensure_signer(key, create=True)
        shared = public / public_path(key).name
        shutil.copyfile(public_path(key), shared)
        shared.chmod(0o644)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_dir.chmod(0o700)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--private-root", type=Path, required=True)
    parser.add_argument("--public", type=Path, required=True)
    parser.add_argument("--checkpoint-dir", type=Path, required=True)
    args = parser.parse_args()
    make(args.private_root, args.public, args.checkpoint_dir)
    print(f"keys ready: {', '.join(SERVICES)}")
