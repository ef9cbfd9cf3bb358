"""Kafka ACLs from the partnership directory (issue 11; CONTRACT §10): who may read and write which topic.

Every client logs in as its own principal (SASL SCRAM over TLS):

- each **service** (``User:isp-<service>``) reads the topics it consumes and writes only the topics it
  publishes to (its outbox's topics, and the dead-letter topic);
- each **organisation** (``User:<ORG>``) reads only its own alerts topic ``isp.alerts.<ORG>.v1`` (with
  consumer groups named ``<ORG>.…``) and writes only the partner topics its kind publishes to;
- the **events gateway** (``User:isp-gateway``) writes the partner topics on partners' behalf
  (signing each event for the organisation it authenticated).

``python -m isp_common.acls [--directory FILE] [--format shell|markdown]`` prints the ``kafka-acls.sh``
commands that grant exactly this (Apache Kafka denies whatever no ACL allows once
``allow.everyone.if.no.acl.found=false``), or the table ``docs/security.md`` shows.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from isp_schemas import topics

from .directory import load_file

Operation = Literal["Read", "Write", "Create", "Describe"]
ALERTS_PREFIX = "isp.alerts."

SERVICE_READS: dict[str, tuple[str, ...]] = {
    "referrals": (topics.REFERRALS, topics.TREATMENT, topics.AUDIT, topics.DIRECTORY),
    "register": (topics.REGISTER, topics.DIRECTORY),
    "notifications": (topics.CONSENT, topics.SOCIALCARE, topics.REFERRALS, topics.TREATMENT, topics.REGISTER),
    "audit": (topics.AUDIT, topics.DEADLETTER, ALERTS_PREFIX),
    "gateway": (),
}
"""What each service consumes (its handlers' topics; the audit service also keeps the dead letters and
reads every alerts topic for reconciliation)."""

REPLAYABLE = (topics.TREATMENT, topics.SOCIALCARE, topics.REFERRALS, topics.CONSENT, topics.REGISTER, topics.DIRECTORY)
"""Topics whose dead letters an admin may replay (``isp deadletter replay``): the audit service, which
keeps the dead letters, publishes the original bytes and headers (signature included) again."""

SERVICE_WRITES: dict[str, tuple[str, ...]] = {
    "referrals": (topics.REFERRALS, topics.AUDIT, topics.DEADLETTER),
    "register": (topics.REGISTER, topics.DEADLETTER),
    "notifications": (topics.AUDIT, topics.DIRECTORY, ALERTS_PREFIX, topics.DEADLETTER),
    "audit": (
        topics.AUDIT_CHECKPOINTS,
        ALERTS_PREFIX,
        topics.DEADLETTER,
        *REPLAYABLE,
    ),
    "gateway": (topics.TREATMENT, topics.SOCIALCARE, topics.REFERRALS, topics.CONSENT),
}
"""What each service publishes (its outbox's topics; notifications and audit write alerts, so they may
also create each organisation's alerts topic when first used; the audit service replays dead letters)."""

KIND_WRITES: dict[str, tuple[str, ...]] = {
    "treatment_provider": (topics.TREATMENT, topics.CONSENT, topics.REFERRALS),
    "children_social_care": (topics.SOCIALCARE, topics.CONSENT, topics.REFERRALS),
}
"""The partner topics an organisation of each kind publishes to; other kinds only receive alerts."""


@dataclass(frozen=True, order=True)
class Acl:
    principal: str
    operation: Operation
    resource: Literal["topic", "group"]
    name: str
    prefixed: bool = False

    def shell(self) -> str:
        pattern = " --resource-pattern-type prefixed" if self.prefixed else ""
        return (
            f'kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --add '
            f"--allow-principal {self.principal} --operation {self.operation} --{self.resource} {self.name}{pattern}"
        )


def _topic_acls(principal: str, operation: Operation, names: Iterable[str]) -> list[Acl]:
    return [Acl(principal, operation, "topic", name, prefixed=name.endswith(".")) for name in names]


def service_acls() -> list[Acl]:
    acls: list[Acl] = []
    for service in SERVICE_READS:
        principal = f"User:isp-{service}"
        reads, writes = SERVICE_READS[service], SERVICE_WRITES[service]
        acls += _topic_acls(principal, "Read", reads)
        acls += _topic_acls(principal, "Write", writes)
        acls += _topic_acls(principal, "Describe", sorted(set(reads) | set(writes)))
        acls += _topic_acls(principal, "Create", [name for name in writes if name == ALERTS_PREFIX])
        if reads:
            acls.append(Acl(principal, "Read", "group", f"isp-{service}", prefixed=True))
            # faust's own topics (its assignor's leader topic, changelogs): isp-<service>-…
            internal = f"isp-{service}-"
            acls += [
                Acl(principal, op, "topic", internal, prefixed=True) for op in ("Create", "Describe", "Read", "Write")
            ]
    return acls


def organisation_acls(org_id: str, kind: str) -> list[Acl]:
    principal = f"User:{org_id}"
    own_alerts = topics.alerts(org_id)
    writes = KIND_WRITES.get(kind, ())
    return [
        Acl(principal, "Read", "topic", own_alerts),
        Acl(principal, "Describe", "topic", own_alerts),
        Acl(principal, "Read", "group", f"{org_id}.", prefixed=True),
        *_topic_acls(principal, "Write", writes),
        *_topic_acls(principal, "Describe", writes),
    ]


def acls_for(directory_file: Path) -> list[Acl]:
    """Every ACL the partnership needs: the services', then each organisation's in the directory."""
    acls = service_acls()
    for org in load_file(directory_file):
        acls += organisation_acls(org.id, org.kind)
    return acls


def markdown(acls: Iterable[Acl]) -> str:
    rows = ["| principal | operation | resource |", "|---|---|---|"]
    for acl in acls:
        name = f"`{acl.name}*`" if acl.prefixed else f"`{acl.name}`"
        rows.append(f"| `{acl.principal}` | {acl.operation} | {acl.resource} {name} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m isp_common.acls", description=__doc__.split("\n\n")[0])
    parser.add_argument("--directory", type=Path, default=Path("deploy/directory.json"))
    parser.add_argument("--format", choices=["shell", "markdown"], default="shell")
    args = parser.parse_args(argv)
    acls = acls_for(args.directory)
    if args.format == "markdown":
        print(markdown(acls))
        return
    print("#!/bin/sh\n# Generated by python -m isp_common.acls from the partnership directory; do not edit.")
    print('set -eu\n: "${BOOTSTRAP:?}" "${ADMIN_CONFIG:?}"')
    for acl in acls:
        print(acl.shell())


if __name__ == "__main__":
    main()
