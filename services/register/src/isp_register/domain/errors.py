"""What the register's rules refuse. Each class carries its HTTP answer (see isp_common.errors);
the API answers them as problem+json and the pages show them on the form."""

from __future__ import annotations

from typing import ClassVar

from isp_common.errors import Conflict, Unprocessable


class RuleBroken(Conflict):
    """A command the register's state does not allow: a closed entry, a person already open."""


class InvalidDate(Unprocessable):
    """An opening or review dated in the future, or a review before the entry was opened or
    last reviewed."""

    title: ClassVar[str] = "Request is not valid"
