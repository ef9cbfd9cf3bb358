"""What both page sets share: one design, one form reader with its Origin check, the security
headers, and one sign-in router.

A service with pages builds one :class:`PageSet` in its bootstrap (templates from
:func:`page_templates`, which extend ``isp_page.html``) and calls :func:`install_page_set`; its
page routes then ask for :data:`PageCallerDep` (the signed-in caller, or a redirect to the
sign-in page) and render through :meth:`PageSet.render`.

Sign-in takes the same bearer token as the API (pasted on ``<prefix>/login`` in the embedded
default) and keeps it in an HttpOnly, SameSite=Strict cookie scoped to the page set's prefix
(Secure outside the embedded default). Every request verifies it again, so an expired token
sends the user back to sign in.

Every form post goes through :data:`FormDep`: refused (403) unless its ``Origin`` (or, with no
``Origin``, its ``Referer``) is this site, ``Origin: null`` included; the sign-in cookie is
checked before the body is read. Every response under the prefix carries
:data:`SECURITY_HEADERS` (a CSP with no inline script, no framing, no caching).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, PackageLoader, PrefixLoader, select_autoescape
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import Caller, Role, caller_from_cookie, token_verifier_of
from .formatting import FILTERS, role_label
from .problems import Problem

MAX_FORM_BYTES = 256 * 1024
ASSETS = "/page-assets"
"""Where every page set serves the shared static files (govuk-frontend, isp.css)."""
SERVICE_NAME = "Information sharing partnership"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # not no-referrer: under no-referrer a browser sends `Origin: null` with every form post (Fetch
    # standard), which the Origin rule must refuse; same-origin still sends nothing to other sites
    "Referrer-Policy": "same-origin",
}
"""On every response under a page set's prefix: the pages show personal data."""


def template_environment(package: str) -> Environment:
    """Jinja for a page set: the service's own ``templates/``, then ``isp_page.html`` and the
    GOV.UK Frontend macros (``govuk_frontend_jinja/...``), with the :mod:`.formatting` filters."""
    env = Environment(
        loader=ChoiceLoader(
            [
                PackageLoader(package, "templates"),
                PackageLoader("isp_common", "templates"),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
            ]
        ),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def page_templates(package: str) -> Jinja2Templates:
    return Jinja2Templates(env=template_environment(package))


@dataclass(frozen=True)
class PageSet:
    """One service's pages: where they live, who may see them, how they are drawn."""

    prefix: str
    cookie: str
    roles: tuple[Role, ...]
    home: str
    templates: Jinja2Templates
    wrong_role: str
    secure_cookie: bool = False
    service_name: str = SERVICE_NAME
    navigation: tuple[tuple[str, str], ...] = ()
    """(label, path under the prefix) of each item in the header, shown when signed in."""

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        caller = context.get("caller")
        shared = {
            "prefix": self.prefix,
            "home": self.home,
            "service_name": self.service_name,
            "navigation": self.navigation,
            "roles": self.roles,
            "assets": ASSETS,
            "current": request.url.path,
            "role_label": self.role_label(caller) if isinstance(caller, Caller) else "",
        }
        return self.templates.TemplateResponse(request, name, {**shared, **context}, status_code=status)

    def role_label(self, caller: Caller) -> str:
        """The caller's roles that open these pages, in words."""
        return ", ".join(role_label(r) for r in self.roles if r in caller.roles)

    def redirect(self, path: str) -> RedirectResponse:
        """A 303 to ``path`` under this page set (so a refresh never re-submits a form)."""
        return RedirectResponse(f"{self.prefix}{path}", status_code=303)

    def covers(self, path: str) -> bool:
        return path == self.prefix or path.startswith(f"{self.prefix}/")


class SignInNeeded(Exception):
    """Raised by :data:`PageCallerDep`; answered with a redirect to the sign-in page."""


def page_set_of(request: Request) -> PageSet:
    page_set = request.app.state.page_set
    assert isinstance(page_set, PageSet)
    return page_set


PageSetDep = Annotated[PageSet, Depends(page_set_of)]


def page_caller(request: Request, page_set: PageSetDep) -> Caller:
    caller = caller_from_cookie(request, page_set.cookie, *page_set.roles)
    if caller is None:
        raise SignInNeeded
    return caller


PageCallerDep = Annotated[Caller, Depends(page_caller)]


def check_origin(request: Request) -> None:
    """Problem(403) unless the post comes from this site.

    ``Origin`` decides; without one, the ``Referer``'s host does. ``Origin: null`` (a sandboxed
    frame, a ``data:`` page, a redirect chain) is refused. A request with neither comes from no
    browser (every current browser sends ``Origin`` on a POST), and the SameSite=Strict cookie
    stays the second guard.
    """
    origin = request.headers.get("origin")
    source = origin if origin is not None else request.headers.get("referer")
    if source is None:
        return
    if source.strip() == "null" or urlsplit(source).netloc != request.url.netloc:
        raise Problem(403, "Forbidden", "This form was posted from another site.")


async def read_form(request: Request, page_set: PageSetDep) -> dict[str, str]:
    """An urlencoded form (last value of each field): from this site, from a signed-in user
    (except the sign-in form itself), read only after both are checked."""
    check_origin(request)
    if request.url.path != f"{page_set.prefix}/login":
        page_caller(request, page_set)
    content_type = request.headers.get("content-type", "application/x-www-form-urlencoded")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise Problem(415, "Unsupported Media Type", "A form is sent as application/x-www-form-urlencoded.")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Problem(413, "Content Too Large", f"A form is at most {MAX_FORM_BYTES // 1024} KiB.")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


FormDep = Annotated[dict[str, str], Depends(read_form)]

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def sign_in_page(request: Request, page_set: PageSetDep) -> HTMLResponse:
    return page_set.render(request, "login.html", caller=None)


@router.post("/login")
def sign_in(request: Request, page_set: PageSetDep, form: FormDep) -> Response:
    token = form.get("token", "").strip()
    try:
        caller = token_verifier_of(request.app).verify(token)
    except Problem as problem:
        return page_set.render(
            request, "login.html", 401, caller=None, error=problem.detail or "That token is not valid."
        )
    if not caller.has_role(*page_set.roles):
        return page_set.render(request, "login.html", 403, caller=None, error=page_set.wrong_role)
    response = page_set.redirect(page_set.home)
    response.set_cookie(
        page_set.cookie, token, httponly=True, samesite="strict", secure=page_set.secure_cookie, path=page_set.prefix
    )
    return response


@router.post("/logout")
def sign_out(page_set: PageSetDep, form: FormDep) -> Response:
    response = page_set.redirect("/login")
    response.delete_cookie(page_set.cookie, path=page_set.prefix)
    return response


class PageHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every response under the page set's prefix
    (pages, redirects, refusals and problems alike)."""

    def __init__(self, app: ASGIApp, page_set: PageSet) -> None:
        self.app, self.page_set = app, page_set
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.page_set.covers(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in self.headers}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *self.headers]}
            await send(message)

        await self.app(scope, receive, with_headers)


def install_page_set(app: FastAPI, page_set: PageSet) -> None:
    """Serve ``page_set``'s sign-in and sign-out and the shared static files at :data:`ASSETS`,
    put the security headers on its responses, and send the signed-out to sign in."""
    app.state.page_set = page_set
    app.include_router(router, prefix=page_set.prefix)
    app.mount(ASSETS, StaticFiles(packages=[("isp_common", "static")]), name="page-assets")
    # innermost of the app's own middleware (add_middleware would put it outermost, before the
    # body limit): it still sees the exception handlers' answers
    app.user_middleware.append(Middleware(PageHeaders, page_set=page_set))

    async def to_sign_in(_request: Request, _exc: Exception) -> Response:
        return page_set.redirect("/login")

    app.add_exception_handler(SignInNeeded, to_sign_in)
