"""Kafka ACLs from the directory: each organisation reads only its own alerts and writes only its
kind's partner topics; each service writes only what it publishes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from isp_common.acls import ALERTS_PREFIX, acls_for, organisation_acls, service_acls
from isp_common.directory import load_file
from isp_schemas import topics

DIRECTORY = Path(__file__).resolve().parents[3] / "deploy" / "directory.json"
INTERNAL = {topics.AUDIT, topics.AUDIT_CHECKPOINTS, topics.REGISTER, topics.DIRECTORY, topics.DEADLETTER}


def test_an_organisation_reads_only_its_own_alerts_topic() -> None:
    for org in load_file(DIRECTORY):
        reads = [acl for acl in organisation_acls(org.id, org.kind) if acl.operation == "Read"]
        assert {acl.name for acl in reads if acl.resource == "topic"} == {topics.alerts(org.id)}
        assert not any(acl.prefixed and acl.resource == "topic" for acl in reads)


def test_no_organisation_writes_alerts_or_internal_topics() -> None:
    for acl in acls_for(DIRECTORY):
        if acl.principal.startswith("User:isp-"):
            continue
        if acl.operation == "Write":
            assert acl.name not in INTERNAL and not acl.name.startswith(ALERTS_PREFIX)


def test_providers_and_social_care_write_their_own_partner_topics_only() -> None:
    provider = {a.name for a in organisation_acls("CGL-WSX", "treatment_provider") if a.operation == "Write"}
    csc = {a.name for a in organisation_acls("WSCC-CSC", "children_social_care") if a.operation == "Write"}
    assert provider == {topics.TREATMENT, topics.CONSENT, topics.REFERRALS}
    assert csc == {topics.SOCIALCARE, topics.CONSENT, topics.REFERRALS}
    assert not [a for a in organisation_acls("SXP-POL", "police") if a.operation == "Write"]


def test_only_the_disclosing_services_write_audit_records_and_only_the_audit_service_signs_checkpoints() -> None:
    writers = {a.principal for a in service_acls() if a.operation == "Write" and a.name == topics.AUDIT}
    assert writers == {"User:isp-referrals", "User:isp-notifications"}
    checkpoints = {a.principal for a in service_acls() if a.operation == "Write" and a.name == topics.AUDIT_CHECKPOINTS}
    assert checkpoints == {"User:isp-audit"}


def test_the_script_is_one_kafka_acls_command_per_acl() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "isp_common.acls", "--directory", str(DIRECTORY)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    commands = [line for line in out.splitlines() if line.startswith("kafka-acls.sh")]
    assert len(commands) == len(acls_for(DIRECTORY))
    assert f"--allow-principal User:CGL-WSX --operation Read --topic {topics.alerts('CGL-WSX')}" in out
