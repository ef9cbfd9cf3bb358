"""Server-rendered pages for information-governance officers (Jinja2, no JavaScript needed).

Sign-in takes the same bearer token as the API and keeps it in a cookie that scripts cannot
read (HttpOnly) and other sites cannot send (SameSite=Strict; Secure outside the embedded
default). Every page answer goes through :class:`AuditQueries`, so it is recorded like the API.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from isp_common.auth import Caller, caller_from_cookie, token_verifier_of
from isp_common.problems import Problem

from . import query
from .service import AuditQueries

COOKIE = "isp_ig_token"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
FORM_FIELDS = ("person", "org", "since", "until", "basis", "decision", "purpose")


class SignInNeeded(Exception):
    pass


def _caller(request: Request) -> Caller:
    caller = caller_from_cookie(request, COOKIE, "ig_officer", "partnership_ig")
    if caller is None:
        raise SignInNeeded
    return caller


PageCaller = Annotated[Caller, Depends(_caller)]


async def on_sign_in_needed(_request: Request, _exc: Exception) -> Response:
    return RedirectResponse("/ig/login", status_code=303)


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def router(queries: AuditQueries, secure_cookie: bool) -> APIRouter:
    pages = APIRouter(prefix="/ig", include_in_schema=False)

    def answer(request: Request, caller: Caller, make: Callable[[], Response]) -> Response:
        try:
            return make()
        except Problem as problem:
            return _page(
                request,
                "search.html",
                problem.status,
                caller=caller,
                form={},
                result=None,
                bases=query.BASES,
                error=problem.detail or problem.title,
            )

    @pages.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return _page(request, "login.html", caller=None)

    @pages.post("/login")
    async def login(request: Request) -> Response:
        # an urlencoded form, read without python-multipart
        fields = parse_qs((await request.body()).decode("utf-8", "replace")[:10_000])
        token = (fields.get("token") or [""])[0].strip()
        try:
            caller = token_verifier_of(request.app).verify(token)
        except Problem as problem:
            return _page(request, "login.html", 401, caller=None, error=problem.detail)
        if not caller.has_role("ig_officer", "partnership_ig"):
            return _page(request, "login.html", 403, caller=None, error="This token has no IG role.")
        response = RedirectResponse("/ig/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure_cookie, path="/ig")
        return response

    @pages.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/ig/login", status_code=303)
        response.delete_cookie(COOKIE, path="/ig")
        return response

    def _filters(form: dict[str, str]) -> query.Filters:
        if form.get("basis") and form["basis"] not in query.BASES:
            raise Problem(422, detail="Choose a lawful basis from the list.")
        if form.get("decision") and form["decision"] not in ("shared", "withheld", "received"):
            raise Problem(422, detail="Choose a decision from the list.")
        try:
            return query.Filters(
                person=form.get("person"),
                org=form.get("org"),
                decision=form.get("decision"),
                basis=form.get("basis"),
                since=query.bound(form.get("since"), end=False),
                until=query.bound(form.get("until"), end=True),
            )
        except ValueError:
            raise Problem(422, detail="Dates are YYYY-MM-DD.") from None

    def _form(request: Request) -> dict[str, str]:
        return {k: v.strip() for k in FORM_FIELDS if (v := request.query_params.get(k, "")).strip()}

    @pages.get("/", response_class=HTMLResponse)
    def search(request: Request, caller: PageCaller) -> Response:
        form = _form(request)

        def make() -> Response:
            result = None
            if any(k != "purpose" for k in form) or "cursor" in request.query_params:
                cursor = request.query_params.get("cursor")
                result = queries.search(caller, _filters(form), 50, cursor, form.get("purpose"))
            return _page(
                request,
                "search.html",
                caller=caller,
                form=form,
                result=result,
                bases=query.BASES,
                query_string=urlencode(form),
            )

        return answer(request, caller, make)

    @pages.get("/disclosures.csv")
    def export(request: Request, caller: PageCaller) -> Response:
        form = _form(request)

        def make() -> Response:
            lines = queries.csv(caller, _filters(form), form.get("purpose"))
            headers = {"Content-Disposition": 'attachment; filename="disclosures.csv"'}
            return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)

        return answer(request, caller, make)

    @pages.get("/disclosures/{record_id}", response_class=HTMLResponse)
    def record(request: Request, caller: PageCaller, record_id: str) -> Response:
        return answer(
            request,
            caller,
            lambda: _page(request, "record.html", caller=caller, r=queries.get(caller, record_id, None)),
        )

    @pages.get("/verify", response_class=HTMLResponse)
    def verify_form(request: Request, caller: PageCaller) -> Response:
        return _page(request, "verify.html", caller=caller, verdict=None)

    @pages.post("/verify", response_class=HTMLResponse)
    def verify(request: Request, caller: PageCaller) -> Response:
        return _page(request, "verify.html", caller=caller, verdict=queries.verify(caller).as_dict())

    return pages
