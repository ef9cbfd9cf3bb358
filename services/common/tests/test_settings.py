"""Settings: bank-holiday overrides, and production's refusal of embedded secrets."""

from __future__ import annotations

from datetime import date

import pytest
from isp_common.settings import ServiceSettings
from pydantic import ValidationError


def test_settings_add_and_remove_bank_holidays_declared_at_short_notice(monkeypatch):
    monkeypatch.setenv("ISP_EXTRA_BANK_HOLIDAYS", '["2026-11-23"]')
    monkeypatch.setenv("ISP_REMOVED_BANK_HOLIDAYS", '["2026-12-28"]')
    calendar = ServiceSettings().working_calendar()
    assert not calendar.is_working_day(date(2026, 11, 23))
    assert calendar.is_working_day(date(2026, 12, 28))
    assert calendar.working_days_after(date(2026, 11, 20), 1) == date(2026, 11, 24)


def test_production_refuses_the_public_embedded_partnership_key(monkeypatch):
    monkeypatch.setenv("ISP_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="ISP_PARTNERSHIP_KEY"):
        ServiceSettings()
    monkeypatch.setenv("ISP_PARTNERSHIP_KEY", "a-real-secret-from-the-vault")
    assert ServiceSettings().partnership_key == "a-real-secret-from-the-vault"
