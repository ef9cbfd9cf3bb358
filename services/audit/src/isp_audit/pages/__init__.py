"""Server-rendered pages for information-governance officers (the shared design of
:mod:`isp_common.pages`; no JavaScript needed).

Sign-in is the common one: ``/ig/login`` takes the same bearer token as the API and keeps it in
the ``isp_ig_token`` cookie (HttpOnly, SameSite=Strict, Secure outside the embedded default);
``/ig/logout`` is a form post. Every page answer goes through :mod:`isp_audit.commands`, so it
is recorded like the API.
"""

from __future__ import annotations

import re

from isp_common.pages import PageSet, page_templates

from . import trail, verify

PREFIX = "/ig"
COOKIE = "isp_ig_token"
SERVICE_NAME = "Audit trail"
NAVIGATION = (("Search", "/"), ("Verify the chain", "/verify"))
routers = (trail.router, verify.router)


def words(value: str | None) -> str:
    """An identifier as words: ``did_not_attend`` → ``Did not attend``."""
    return (value or "").replace("_", " ").capitalize()


def alert_words(alert_type: str | None) -> str:
    """An alert's event type as words: ``uk.isp.alert.did_not_attend.v1`` → ``Did not attend``."""
    return words(re.sub(r"^uk\.isp\.alert\.|\.v\d+$", "", alert_type or "")) or "Not recorded"


def page_set(secure_cookie: bool) -> PageSet:
    """The IG pages: under ``/ig``, for ``ig_officer`` and ``partnership_ig``."""
    templates = page_templates("isp_audit")
    templates.env.filters.update(words=words, alert_words=alert_words)
    return PageSet(
        prefix=PREFIX,
        cookie=COOKIE,
        roles=("ig_officer", "partnership_ig"),
        home="/",
        templates=templates,
        wrong_role="This token has no IG role.",
        secure_cookie=secure_cookie,
        service_name=SERVICE_NAME,
        navigation=NAVIGATION,
    )
