"""What the audit trail refuses, with the status and title each is answered with."""

from __future__ import annotations

from isp_common.errors import DomainError, Forbidden, NotFound


class InvalidFilter(DomainError):
    """A search filter that does not make sense (an unknown basis, a time without an offset)."""

    status = 422
    title = "Request is not valid"


class BadCursor(DomainError):
    """A paging cursor this service did not give."""

    status = 400
    title = "Bad cursor"


class NoIgRole(Forbidden):
    """The caller holds neither ``ig_officer`` nor ``partnership_ig``."""


class RecordNotFound(NotFound):
    """No disclosure record has that id."""


class NotYourRecord(Forbidden):
    """An ``ig_officer`` asked for a record its organisation neither disclosed nor received."""
