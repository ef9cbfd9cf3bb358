"""The chaos harness's reconciliation (benchmarks/chaos.py), on hand-made histories: no processes."""

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a top-level package, not installed
    sys.path.insert(0, str(ROOT))
chaos = importlib.import_module("benchmarks.chaos")

REF, DNA = chaos.RECEIVED, chaos.DNA
EXPECTED = [
    chaos.Expected("ev-r1", REF, "ref-1", "CGL-WSX"),
    chaos.Expected("ev-r2", REF, "ref-2", "CGL-WSX"),
    chaos.Expected("ev-m1", DNA, "apt-1", "WSCC-CSC"),
]


def _clean():
    decisions = [
        chaos.Decision("a-r1", REF, "ref-1", "CGL-WSX"),
        chaos.Decision("a-r2", REF, "ref-2", "CGL-WSX"),
        chaos.Decision("a-m1", DNA, "apt-1", "WSCC-CSC"),
    ]
    audit = [chaos.AuditRecord(f"rec-{d.alert_id}", d.alert_id, "shared") for d in decisions]
    topic = [chaos.TopicAlert(d.alert_id, d.alert_type, d.key, d.recipient) for d in decisions]
    return decisions, audit, topic


def _counts(checks):
    return [(c.name.split(" (")[0], len(c.lost), len(c.duplicated), len(c.unexpected)) for c in checks]


def test_a_clean_history_has_nothing_lost_duplicated_or_unexpected():
    checks = chaos.reconcile(EXPECTED, *_clean())
    assert _counts(checks) == [
        ("one decision per input", 0, 0, 0),
        ("one audit record per input", 0, 0, 0),
        ("at most one alert per recipient", 0, 0, 0),
    ]
    assert not any(c.failed for c in checks)


def test_a_missing_decision_is_lost_in_every_check_that_follows_it():
    decisions, audit, topic = _clean()
    checks = chaos.reconcile(EXPECTED, decisions[1:], audit[1:], topic[1:])
    assert [c.lost for c in checks] == [["ev-r1"], ["ev-r1"], ["ev-r1"]]
    assert all(c.failed for c in checks)


def test_two_alert_ids_for_one_input_are_a_duplicate_and_a_foreign_alert_is_unexpected():
    decisions, audit, topic = _clean()
    decisions.append(chaos.Decision("a-r1-again", REF, "ref-1", "CGL-WSX"))
    decisions.append(chaos.Decision("a-other", "uk.isp.alert.referral_status.v1", None, "WSCC-CSC"))
    audit.append(chaos.AuditRecord("rec-again", "a-r1-again", "shared"))
    topic.append(chaos.TopicAlert("a-r1-again", REF, "ref-1", "CGL-WSX"))
    checks = chaos.reconcile(EXPECTED, decisions, audit, topic)
    assert [c.duplicated for c in checks] == [["ev-r1"], ["ev-r1"], ["ev-r1"]]
    assert checks[0].unexpected == ["a-other"]
    assert checks[1].unexpected == [] and checks[2].unexpected == []


def test_a_copy_of_the_same_alert_id_on_a_topic_is_counted_but_is_not_a_duplicate():
    decisions, audit, topic = _clean()
    checks = chaos.reconcile(EXPECTED, decisions, audit, [*topic, topic[0], topic[0]])
    assert checks[2].copies == 2
    assert not checks[2].failed


def test_a_withheld_share_released_later_is_one_decision_and_one_audited_decision():
    decisions, audit, topic = _clean()
    decisions.append(chaos.Decision("a-m1", DNA, "apt-1", "WSCC-CSC", withheld=True))
    audit = [r for r in audit if r.alert_id != "a-m1"] + [
        chaos.AuditRecord("rec-w", "a-m1", "withheld"),
        chaos.AuditRecord("rec-s", "a-m1", "shared", supersedes="rec-w"),
        chaos.AuditRecord("rec-ack", "a-m1", "received"),  # an acknowledgement is not a decision
    ]
    checks = chaos.reconcile(EXPECTED, decisions, audit, topic)
    assert not any(c.failed for c in checks), [c.line() for c in checks]


def test_an_audit_record_of_an_alert_nobody_decided_is_unexpected():
    decisions, audit, topic = _clean()
    checks = chaos.reconcile(EXPECTED, decisions, [*audit, chaos.AuditRecord("rec-x", "a-x", "shared")], topic)
    assert checks[1].unexpected == ["rec-x"]


def test_the_kill_schedule_is_read_in_order_of_when_it_fires():
    kills = chaos.parse_kills("0.8:referrals,0.3:notifications,0.5:relay-leader:notifications")
    assert [(k.at_fraction, k.target) for k in kills] == [
        (0.3, "notifications"),
        (0.5, "relay-leader:notifications"),
        (0.8, "referrals"),
    ]


def test_an_alert_names_the_input_it_answers_by_its_referral_or_appointment_id():
    assert chaos.key_of(REF, {"referral_id": "ref-1", "appointment_id": "x"}) == "ref-1"
    assert chaos.key_of(DNA, {"referral_id": "ref-1", "appointment_id": "apt-1"}) == "apt-1"
    assert chaos.key_of("uk.isp.alert.referral_status.v1", {"referral_id": "ref-1"}) is None
