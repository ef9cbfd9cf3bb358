"""Conference rules (DOMAIN rule 5): notice in working days, and when a written report is expected.

The notice follows :func:`isp_common.workingdays.notice` (London dates, England's bank holidays
with the deployment's overrides): ``notice_working_days`` are the working days after the issue
date up to and including the conference date; ``short_notice`` when the conference is before the
5th working day after issue; ``report_due`` is the last working day before the conference. A
short-notice invitation still goes, flagged, and asks for a written report.

Invitees answer ``attending``, ``written_report`` or ``cannot_attend`` (protocol: a treatment
service that cannot attend submits a written report). A report is expected when asked for
(short notice) or promised (``written_report``/``cannot_attend``); one not received by the end
of ``report_due`` (London) is overdue.
"""

from __future__ import annotations

from typing import Literal

from isp_common.workingdays import Notice, WorkingCalendar, notice

Response = Literal["attending", "written_report", "cannot_attend"]
RESPONSES: tuple[Response, ...] = ("attending", "written_report", "cannot_attend")
REPORT_PROMISED: tuple[str, ...] = ("written_report", "cannot_attend")

__all__ = ["RESPONSES", "Notice", "Response", "WorkingCalendar", "notice", "report_expected"]


def report_expected(report_requested: bool, response: str | None) -> bool:
    """A written report is expected when it was asked for (short notice) or promised."""
    return report_requested or response in REPORT_PROMISED
