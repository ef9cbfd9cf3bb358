"""Domain errors: what a rule refuses, said once, answered the same way everywhere.

A service's domain raises a subclass of :class:`DomainError`; the class carries the HTTP
status and the problem ``type`` it is answered with, so the domain stays free of HTTP and the
runtime needs one exception handler (:func:`isp_common.problems.install_problem_handlers`).
Extension members for the problem body go in ``extra`` (ids, allowed transitions: never
personal data, since error bodies end up in partners' logs).
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A refusal by a rule. Subclasses set ``status``, ``title`` and ``problem_type``."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad Request"
    problem_type: ClassVar[str] = "about:blank"

    def __init__(self, detail: str = "", **extra: Any) -> None:
        self.detail = detail
        self.extra = extra
        super().__init__(detail)


class NotFound(DomainError):
    status = 404
    title = "Not Found"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Unprocessable(DomainError):
    """The request is well formed but does not fit the thing it is about."""

    status = 422
    title = "Unprocessable Content"
