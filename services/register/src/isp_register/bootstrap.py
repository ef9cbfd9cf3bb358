"""The composition root: the only place that builds the register's runtime and wires its parts.

Collaborators are parameters, so tests call the same ``build`` with an in-memory engine and a
fixed clock, and never reach into private attributes.
"""

from __future__ import annotations

from typing import Unpack

from fastapi.templating import Jinja2Templates
from isp_common.bootstrap import Collaborators
from isp_common.pages import PageSet, install_page_set
from isp_common.runtime import ServiceRuntime

from . import agents, api, pages
from .context import Register
from .settings import Settings


def build(settings: Settings | None = None, **collaborators: Unpack[Collaborators]) -> ServiceRuntime:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        title="ISP safeguarding register",
        description="Each service's safeguarding register, monthly reviews, the DSL's weekly review, cross-area flags.",
        **collaborators,
    )
    runtime.context = Register(
        partnership_key=settings.partnership_key.encode(), review_reminder_days=settings.review_reminder_days
    )
    agents.subscribe(runtime, settings.review_reminder_days)
    runtime.api.include_router(api.entries.router)
    runtime.api.include_router(api.weekly.router)
    install_page_set(runtime.api, page_set(settings))
    runtime.api.include_router(pages.worklist.router)
    runtime.api.include_router(pages.entries.router)
    return runtime


def page_set(settings: Settings) -> PageSet:
    """The DSL's pages under ``/register``: sign-in cookie scoped there, Secure in production."""
    return PageSet(
        prefix=pages.PREFIX,
        cookie=pages.COOKIE,
        roles=("dsl",),
        home="/worklist",
        templates=Jinja2Templates(env=pages.template_environment()),
        wrong_role=pages.WRONG_ROLE,
        secure_cookie=settings.environment == "production",
        service_name=pages.SERVICE_NAME,
        navigation=pages.NAVIGATION,
    )
