"""The designated safeguarding lead's pages: server-rendered HTML (Jinja2), no JavaScript.

Sign-in is the common one (:mod:`isp_common.pages`): the same bearer token as the API, kept in
an HttpOnly, SameSite=Strict cookie scoped to ``/register``, verified on every request; posts
from another site are refused. Forms post back and redirect (303), so a refresh never
re-submits.

Opening, changing, reviewing and closing an entry run the same commands as the API, with the
API's own command models (built from the posted fields by :mod:`.forms`); a mistake is shown on
the form, field by field, with what was typed kept.
"""

from . import entries, worklist
from .page import COOKIE, NAVIGATION, PREFIX, SERVICE_NAME, WRONG_ROLE, template_environment

__all__ = [
    "COOKIE",
    "NAVIGATION",
    "PREFIX",
    "SERVICE_NAME",
    "WRONG_ROLE",
    "entries",
    "template_environment",
    "worklist",
]
