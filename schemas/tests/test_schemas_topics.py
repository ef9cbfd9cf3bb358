import re

import pytest
from isp_schemas import examples, topics
from isp_schemas.envelope import CloudEvent


def test_alerts_topic_is_per_organisation():
    assert topics.alerts("WSCC-CSC") == "isp.alerts.WSCC-CSC.v1"


@pytest.mark.parametrize("org", ["wscc", "", "WSCC.CSC", "A"])
def test_alerts_topic_needs_a_valid_org(org):
    with pytest.raises(ValueError):
        topics.alerts(org)


def test_alerts_pattern_matches_alerts_topics_only():
    pattern = re.compile(topics.ALERTS_PATTERN)
    assert pattern.match(topics.alerts("CGL-WSX"))
    assert not any(pattern.match(t) for t in topics.STATIC_TOPICS)
    assert topics.alerts_org("isp.alerts.CGL-WSX.v1") == "CGL-WSX"
    assert topics.alerts_org(topics.TREATMENT) is None


def test_static_topics_are_the_fixed_names():
    assert set(topics.STATIC_TOPICS) == {
        "isp.treatment.v1",
        "isp.socialcare.v1",
        "isp.referrals.v1",
        "isp.consent.v1",
        "isp.register.v1",
        "isp.audit.v1",
        "isp.audit.checkpoints.v1",
        "isp.directory.v1",
        "isp.deadletter.v1",
    }
    assert set(topics.STATIC_TOPICS) <= set(topics.TOPICS)


def test_conference_events_are_keyed_by_conference_id():
    event = CloudEvent.create(
        "uk.isp.socialcare.conference.scheduled.v1",
        "WSCC-CSC",
        examples.EXAMPLES["uk.isp.socialcare.conference.scheduled.v1"],
        subject="9434765919",
    )
    assert topics.message_key(event) == "conf-1"


def test_other_events_are_keyed_by_subject_else_id():
    data = examples.EXAMPLES["uk.isp.treatment.episode.started.v1"]
    event = CloudEvent.create("uk.isp.treatment.episode.started.v1", "CGL-WSX", data)
    assert topics.message_key(event) == "9434765919"
    anonymous = CloudEvent.create("x.y", "CGL-WSX", {}, id="e1")
    assert topics.message_key(anonymous) == "e1"


def test_directory_events_are_keyed_by_organisation_id():
    data = examples.EXAMPLES["uk.isp.directory.organisation.updated.v1"]
    event = CloudEvent.create("uk.isp.directory.organisation.updated.v1", "CGL-WSX", data)
    assert event.subject is None
    assert topics.message_key(event) == data["id"]


def test_a_topic_is_made_with_the_deployments_partitions_unless_the_catalogue_gives_its_own():
    assert topics.TOPICS[topics.AUDIT_CHECKPOINTS].partitions == 1
    assert topics.partitions_for(topics.AUDIT_CHECKPOINTS, 3) == 1
    assert topics.partitions_for(topics.TREATMENT, 3) == 3
    assert topics.partitions_for(topics.alerts("WSCC-CSC"), 2) == 2
    assert topics.partitions_for(topics.TREATMENT) == topics.DEFAULT_PARTITIONS
