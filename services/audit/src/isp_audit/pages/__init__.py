"""Server-rendered pages for information-governance officers (Jinja2, no JavaScript needed).

Sign-in is the common one (:mod:`isp_common.pages`): ``/ig/login`` takes the same bearer token
as the API and keeps it in the ``isp_ig_token`` cookie (HttpOnly, SameSite=Strict, Secure
outside the embedded default); ``/ig/logout`` is a form post. Every page answer goes through
:mod:`isp_audit.commands`, so it is recorded like the API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from isp_common.pages import PageSet

from . import trail, verify

PREFIX = "/ig"
COOKIE = "isp_ig_token"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
routers = (trail.router, verify.router)


def page_set(secure_cookie: bool) -> PageSet:
    """The IG pages: under ``/ig``, for ``ig_officer`` and ``partnership_ig``."""
    return PageSet(
        prefix=PREFIX,
        cookie=COOKIE,
        roles=("ig_officer", "partnership_ig"),
        home="/",
        templates=Jinja2Templates(directory=str(TEMPLATES)),
        wrong_role="This token has no IG role.",
        secure_cookie=secure_cookie,
    )
