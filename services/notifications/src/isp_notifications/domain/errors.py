"""What the service refuses, as :class:`isp_common.errors.DomainError` subclasses: the runtime
answers each as problem+json with the class's status. Details carry ids and category names,
never personal data."""

from __future__ import annotations

from collections.abc import Iterable

from isp_common.errors import Conflict, NotFound, Unprocessable


class UnknownAlertTypes(Unprocessable):
    """A subscription asked for alert types that do not exist."""

    def __init__(self, unknown: Iterable[str]) -> None:
        super().__init__(f"Unknown alert types: {', '.join(unknown)}.")


class InvalidWebhookUrl(Unprocessable):
    """The URL may not be used for webhooks; :attr:`reason` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Webhook URL refused: {reason}.")


class SubscriptionUnnamed(Unprocessable):
    """A replay needs the subscription named when the organisation has none or several."""

    def __init__(self) -> None:
        super().__init__("Name the subscription (subscription_id) to replay.")


class BadCursor(Unprocessable):
    """A ``cursor`` this service did not give (pass a page's ``next`` back unchanged)."""

    def __init__(self) -> None:
        super().__init__("cursor: not one this service gave; pass a page's next unchanged.", field="cursor")


class CursorWithReplay(Unprocessable):
    """A replay (``after``) pages by the running count, not by ``cursor``."""

    def __init__(self) -> None:
        super().__init__("cursor: a replay pages with after (pass a page's next as after), not cursor.", field="cursor")


class ReasonRequired(Unprocessable):
    """A sender said it has not told the service user, without saying why."""

    def __init__(self) -> None:
        super().__init__("A decision not to tell the service user needs its reason.")


class NotInvited(NotFound):
    """The organisation was not sent an invitation to that conference."""

    def __init__(self, conference_id: str) -> None:
        self.conference_id = conference_id
        super().__init__(f"Your organisation has no invitation to {conference_id}.")


class NotWithheld(NotFound):
    """No withheld share of the caller's organisation has that alert id."""

    def __init__(self, alert_id: str) -> None:
        super().__init__(f"Your organisation has no withheld alert {alert_id}.")


class NoLongerOpen(Conflict):
    """The withheld share was already released, or its time for a decision has passed."""

    def __init__(self, alert_id: str, state: str) -> None:
        self.state = state
        super().__init__(f"Withheld alert {alert_id} is no longer open to a decision ({state}).")
