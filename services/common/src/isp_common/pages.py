"""What both page sets share: the form reader with its Origin check, and one sign-in router.

A service with pages builds one :class:`PageSet` in its bootstrap and calls
:func:`install_page_set`; its page routes then ask for :data:`PageCallerDep` (the signed-in
caller, or a redirect to the sign-in page) and render through :meth:`PageSet.render`.

Sign-in takes the same bearer token as the API (pasted on ``<prefix>/login`` in the embedded
default) and keeps it in an HttpOnly, SameSite=Strict cookie scoped to the page set's prefix
(Secure outside the embedded default). Every request verifies it again, so an expired token
sends the user back to sign in. Form posts whose ``Origin`` is another site are refused, on top
of the SameSite cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from .auth import Caller, Role, caller_from_cookie, token_verifier_of
from .problems import Problem

MAX_FORM_BYTES = 256 * 1024


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

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self.templates.TemplateResponse(request, name, {"prefix": self.prefix, **context}, status_code=status)

    def redirect(self, path: str) -> RedirectResponse:
        """A 303 to ``path`` under this page set (so a refresh never re-submits a form)."""
        return RedirectResponse(f"{self.prefix}{path}", status_code=303)


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


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form (last value of each field), refused if posted from another site."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        raise Problem(403, "Forbidden", "This form was posted from another site.")
    body = (await request.body())[:MAX_FORM_BYTES]
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


def install_page_set(app: FastAPI, page_set: PageSet) -> None:
    """Serve ``page_set``'s sign-in and sign-out, and send the signed-out to sign in."""
    app.state.page_set = page_set
    app.include_router(router, prefix=page_set.prefix)

    async def to_sign_in(_request: Request, _exc: Exception) -> Response:
        return page_set.redirect("/login")

    app.add_exception_handler(SignInNeeded, to_sign_in)
