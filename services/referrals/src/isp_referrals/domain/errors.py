"""What the referral rules refuse. Each class carries the status it is answered with (one handler
in the runtime turns them into problem+json); details name ids and states, never people."""

from __future__ import annotations

from isp_common.errors import Conflict, Forbidden, NotFound, Unprocessable


class ReferralNotFound(NotFound):
    """No referral with that id (404). The detail does not repeat the id: it is whatever the caller
    put in the path, an NHS number as easily as a referral id."""

    def __init__(self, referral_id: str) -> None:
        super().__init__("No referral with that id.")
        self.referral_id = referral_id


class NotYourReferral(Forbidden):
    """The caller's organisation is not the party that may do this (403)."""


class InvalidCommand(Unprocessable):
    """The command is well-formed but does not fit the referral (422)."""

    title = "Request does not fit the referral"


class ReferralRefused(Unprocessable):
    """The referral rules do not allow this referral (422), e.g. a threshold for social care on a
    referral to treatment.

    The problem body names the field (``field``, and ``errors`` in the shape of a validation
    error) so a partner's client can show it next to the input."""

    title = "Referral not allowed"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field, errors=[{"loc": ["body", field], "msg": reason}])
        self.field = field
        self.reason = reason


class OrganisationRefused(ReferralRefused):
    """The partnership directory does not allow the referral between these organisations (422)."""

    title = "Organisation not allowed"


class RoleRefused(Forbidden):
    """The caller's role does not fit its organisation's side of a referral (403): social care refers
    with role ``social_care``, the other partners with ``provider``. Names ``from_org``."""

    title = "Role not allowed"

    def __init__(self, reason: str) -> None:
        super().__init__(f"from_org: {reason}", field="from_org", errors=[{"loc": ["body", "from_org"], "msg": reason}])
        self.field = "from_org"
        self.reason = reason


class DuplicateReferral(Conflict):
    """The referral id is already in use by a different referral (409)."""

    def __init__(self) -> None:
        super().__init__("That referral_id is already used by a different referral.")


class ReferralChanged(Conflict):
    """Another transaction changed the referral first (optimistic lock) or made one with the same id (409)."""

    def __init__(self) -> None:
        super().__init__("The referral changed at the same time; read it again and retry.")


class IllegalTransition(Conflict):
    """A command not allowed in the referral's current state; says which are (409).

    The problem body carries ``state``, ``command`` and ``allowed``; an HTTP adapter adds
    ``allowed_requests`` (the request for each allowed command) with :meth:`with_requests`.
    """

    title = "Transition not allowed"

    def __init__(
        self, command: str, state: str, reason: str, allowed: list[str], allowed_requests: list[str] | None = None
    ) -> None:
        self.command = command
        self.state = state
        self.reason = reason
        self.allowed = allowed
        members: dict[str, object] = {"state": state, "command": command, "allowed": allowed}
        if allowed_requests is not None:
            members["allowed_requests"] = allowed_requests
        detail = f"{command} is not allowed: {reason}. Allowed now: {', '.join(allowed) or 'nothing'}."
        super().__init__(detail, **members)

    def with_requests(self, allowed_requests: list[str]) -> IllegalTransition:
        """The same refusal, saying which request makes each allowed command."""
        return IllegalTransition(self.command, self.state, self.reason, self.allowed, allowed_requests)
