"""What every DSL page has: the templates, and one request's page (who, when, its unit of work)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from isp_common import pages
from isp_common.auth import Caller
from isp_common.clock import Clock
from isp_common.db import UnitOfWork
from isp_common.deps import ClockDep, UowDep
from isp_common.errors import DomainError
from isp_common.pages import PageCallerDep, PageSet, PageSetDep
from isp_common.workingdays import london_date
from jinja2 import Environment

from .. import domain

PREFIX = "/register"
COOKIE = "isp_register_token"
WRONG_ROLE = "This page is for designated safeguarding leads (role dsl)."
SERVICE_NAME = "Safeguarding register"
NAVIGATION = (("Weekly worklist", "/worklist"), ("All entries", "/entries"), ("Open an entry", "/entries/new"))
ACTIONS = {"opened": "Opened", "reviewed": "Reviewed", "updated": "Changed", "closed": "Closed"}
"""How the history names each action (the API's words are the keys)."""


def template_environment() -> Environment:
    """The shared page design (:func:`isp_common.pages.template_environment`: ``isp_page.html``,
    the GOV.UK macros, UK dates and spaced NHS numbers) and the register's own words."""
    env = pages.template_environment("isp_register")
    env.filters["category_label"] = lambda c: domain.CATEGORY_LABELS.get(c, c)
    env.filters["category_option"] = lambda c: (c, domain.CATEGORY_LABELS.get(c, c))
    env.filters["risk_option"] = lambda r: (r, r.capitalize())
    env.filters["action_label"] = lambda a: ACTIONS.get(a, a)
    return env


@dataclass
class DslPage:
    """One request of a signed-in DSL: renders with the caller, runs commands in ``uow``."""

    request: Request
    pages: PageSet
    caller: Caller
    uow: UnitOfWork
    clock: Clock

    @property
    def today(self) -> date:
        return london_date(self.clock.now())

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self.pages.render(self.request, name, status, caller=self.caller, **context)

    def refused(self, error: DomainError) -> HTMLResponse:
        """The error page, for what no form can put right (an unknown entry, another org's)."""
        return self.render("error.html", error.status, title=error.title, detail=error.detail)

    def redirect(self, path: str) -> RedirectResponse:
        return self.pages.redirect(path)


def dsl_page(request: Request, caller: PageCallerDep, pages: PageSetDep, uow: UowDep, clock: ClockDep) -> DslPage:
    return DslPage(request, pages, caller, uow, clock)


DslPageDep = Annotated[DslPage, Depends(dsl_page)]
"""Declare it before :data:`~isp_common.pages.FormDep`: the sign-in is checked before the form."""
