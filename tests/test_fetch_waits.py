"""Which consumers poll the broker how often: the services on an alert's way to its recipient
(referrals, notifications) at the shared ``ISP_CONSUMER_FETCH_MAX_WAIT_MS``, the others (audit,
register, the gateway) at their own, longer, wait."""

import pytest
from isp_audit.settings import Settings as AuditSettings
from isp_common.settings import OFF_THE_ALERT_PATH_FETCH_WAIT_MS
from isp_gateway.settings import Settings as GatewaySettings
from isp_notifications.settings import Settings as NotificationsSettings
from isp_referrals.settings import Settings as ReferralsSettings
from isp_register.settings import Settings as RegisterSettings

ON_THE_PATH = {"referrals": ReferralsSettings, "notifications": NotificationsSettings}
OFF_THE_PATH = {"audit": AuditSettings, "register": RegisterSettings, "gateway": GatewaySettings}


@pytest.fixture(autouse=True)
def no_fetch_settings(monkeypatch):
    own = [f"ISP_{service.upper()}_CONSUMER_FETCH_MAX_WAIT_MS" for service in OFF_THE_PATH]
    for name in ["ISP_CONSUMER_FETCH_MAX_WAIT_MS", *own]:
        monkeypatch.delenv(name, raising=False)


def test_by_default_only_the_alerts_path_polls_at_fifty_ms():
    assert {name: cls().consumer_fetch_max_wait_ms for name, cls in ON_THE_PATH.items()} == {
        "referrals": 50,
        "notifications": 50,
    }
    assert {cls().consumer_fetch_max_wait_ms for cls in OFF_THE_PATH.values()} == {OFF_THE_ALERT_PATH_FETCH_WAIT_MS}
    assert OFF_THE_ALERT_PATH_FETCH_WAIT_MS > 50


def test_the_shared_setting_tunes_the_alerts_path_only(monkeypatch):
    monkeypatch.setenv("ISP_CONSUMER_FETCH_MAX_WAIT_MS", "20")
    assert {cls().consumer_fetch_max_wait_ms for cls in ON_THE_PATH.values()} == {20}
    assert {cls().consumer_fetch_max_wait_ms for cls in OFF_THE_PATH.values()} == {OFF_THE_ALERT_PATH_FETCH_WAIT_MS}


@pytest.mark.parametrize("service", sorted(OFF_THE_PATH))
def test_a_service_off_the_path_has_a_variable_of_its_own(service, monkeypatch):
    monkeypatch.setenv(f"ISP_{service.upper()}_CONSUMER_FETCH_MAX_WAIT_MS", "300")
    assert OFF_THE_PATH[service]().consumer_fetch_max_wait_ms == 300
    assert ReferralsSettings().consumer_fetch_max_wait_ms == 50
    monkeypatch.setenv(f"ISP_{service.upper()}_CONSUMER_FETCH_MAX_WAIT_MS", "0")
    with pytest.raises(ValueError, match="consumer_fetch_max_wait_ms"):
        OFF_THE_PATH[service]()
