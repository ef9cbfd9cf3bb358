"""The designated safeguarding lead's pages: server-rendered HTML (Jinja2), no JavaScript.

Log-in takes the same bearer token as the API (pasted on ``/register/login`` in the
embedded default) and keeps it in an HttpOnly, SameSite=Strict cookie scoped to
``/register``; every request verifies it again, so an expired token sends the DSL back to
log in. Forms post back and redirect (303), so a refresh never re-submits. Posts whose
``Origin`` is another site are refused, on top of the SameSite cookie.

Opening, changing, reviewing and closing an entry run the same handlers as the API, with
the API's own command models (built from the posted fields by :mod:`forms`); a mistake is
shown on the form, field by field, with what was typed kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from isp_common.auth import Caller, caller_from_cookie, token_verifier_of
from isp_common.problems import Problem
from isp_common.runtime import ServiceRuntime
from isp_common.workingdays import london_date
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from . import domain, forms, handlers, reviews, views
from .api import Clock, detail, own_entry
from .models import EntryReview, WeeklyReviewCreate
from .tables import RegisterEntry

COOKIE = "isp_register_token"
PREFIX = "/register"


def template_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("isp_register", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["category_label"] = lambda c: domain.CATEGORY_LABELS.get(c, c)
    env.filters["category_option"] = lambda c: (c, domain.CATEGORY_LABELS.get(c, c))
    env.filters["risk_option"] = lambda r: (r, r.capitalize())
    env.filters["when"] = lambda iso: (iso or "")[:16].replace("T", " ")
    return env


class LoginRequired(Exception):
    pass


def install(runtime: ServiceRuntime, clock: Clock) -> None:
    env = template_environment()
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    secure = runtime.settings.environment == "production"
    key = runtime.settings.partnership_key.encode()

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(prefix=PREFIX, **context), status_code=status)

    def caller_of(request: Request) -> Caller:
        caller = caller_from_cookie(request, COOKIE, "dsl")
        if caller is None:
            raise LoginRequired
        return caller

    async def form_of(request: Request) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
            raise Problem(403, "Forbidden", "This form was posted from another site.")
        fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[-1] for name, values in fields.items()}

    def to_login() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)

    @router.get("/")
    def home() -> Response:
        return RedirectResponse(f"{PREFIX}/worklist", status_code=303)

    @router.get("/login")
    def login_page() -> HTMLResponse:
        return render("login.html", caller=None)

    @router.post("/login")
    async def login(request: Request) -> Response:
        token = (await form_of(request)).get("token", "").strip()
        try:
            caller = token_verifier_of(request.app).verify(token)
        except Problem as exc:
            return render("login.html", 401, caller=None, error=exc.detail or "That token is not valid.")
        if not caller.has_role("dsl"):
            return render(
                "login.html", 403, caller=None, error="This page is for designated safeguarding leads (role dsl)."
            )
        response = RedirectResponse(f"{PREFIX}/worklist", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure, path=PREFIX)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        await form_of(request)
        response = to_login()
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    @router.get("/worklist")
    async def worklist_page(request: Request) -> Response:
        try:
            caller = caller_of(request)
        except LoginRequired:
            return to_login()

        def load() -> dict[str, Any]:
            with runtime.uow() as uow:
                return views.worklist_view(reviews.worklist(uow, caller.org, clock()))

        work = await run_in_threadpool(load)
        return render("worklist.html", caller=caller, work=work, recorded=request.query_params.get("recorded"))

    @router.post("/weekly-reviews")
    async def weekly_review(request: Request) -> Response:
        try:
            caller = caller_of(request)
        except LoginRequired:
            return to_login()
        command = WeeklyReviewCreate(notes=(await form_of(request)).get("notes", "")[:20000])

        def record() -> None:
            with runtime.uow() as uow:
                reviews.record_weekly_review(uow, org=caller.org, by=caller.sub, notes=command.notes, now=clock())
                uow.commit()

        await run_in_threadpool(record)
        return RedirectResponse(f"{PREFIX}/worklist?recorded=1", status_code=303)

    def open_form(caller: Caller, status: int = 200, **extra: Any) -> HTMLResponse:
        form = extra.pop("form", {})
        return render(
            "open.html",
            status,
            caller=caller,
            categories=domain.CATEGORIES,
            risks=forms.RISKS,
            today=london_date(clock()).isoformat(),
            form=form,
            child_rows=forms.row_count(form, "children", forms.CHILD_ROWS),
            agency_rows=forms.row_count(form, "agency", forms.AGENCY_ROWS),
            **extra,
        )

    @router.get("/entries/new")
    def new_entry_page(request: Request) -> Response:
        try:
            caller = caller_of(request)
        except LoginRequired:
            return to_login()
        return open_form(caller)

    @router.post("/entries/new")
    async def open_entry(request: Request) -> Response:
        try:
            caller = caller_of(request)
        except LoginRequired:
            return to_login()
        form = await form_of(request)
        try:
            command = forms.open_command(form)
        except forms.FormInvalid as exc:
            return open_form(caller, 422, form=form, errors=exc.errors)

        def record() -> str:
            with runtime.uow() as uow:
                entry = handlers.open_entry(
                    uow, org=caller.org, by=caller.sub, command=command, now=clock(), partnership_key=key
                )
                uow.commit()
                return entry.id

        try:
            entry_id = await run_in_threadpool(record)
        except domain.InvalidDate as exc:
            return open_form(caller, 422, form=form, errors={"opened_on": str(exc)})
        except domain.RuleBroken as exc:
            return open_form(caller, 409, form=form, error=str(exc))
        return RedirectResponse(f"{PREFIX}/entries/{entry_id}?done=opened", status_code=303)

    def entry_context(caller: Caller, entry_id: str) -> dict[str, Any]:
        with runtime.uow() as uow:
            now = clock()
            return {"entry": detail(uow, own_entry(uow, caller, entry_id), now), "today": london_date(now).isoformat()}

    async def entry_page(caller: Caller, entry_id: str, status: int = 200, **extra: Any) -> Response:
        try:
            context = await run_in_threadpool(entry_context, caller, entry_id)
        except Problem as exc:
            return render("error.html", exc.status, caller=caller, title=exc.title, detail=exc.detail)
        update_form = extra.pop("update_form", None) or forms.update_values(context["entry"])
        return render(
            "entry.html",
            status,
            caller=caller,
            categories=domain.CATEGORIES,
            risks=forms.RISKS,
            update_form=update_form,
            child_rows=forms.row_count(update_form, "children", 1 + len(context["entry"]["children"])),
            agency_rows=forms.row_count(update_form, "agency", 1 + len(context["entry"]["agency_contacts"])),
            **context,
            **extra,
        )

    @router.get("/entries/{entry_id}")
    async def show_entry(request: Request, entry_id: str) -> Response:
        try:
            caller = caller_of(request)
        except LoginRequired:
            return to_login()
        return await entry_page(caller, entry_id, done=request.query_params.get("done"))

    async def entry_action(
        caller: Caller, entry_id: str, action: Callable[..., RegisterEntry], command: Any
    ) -> tuple[int, int]:
        """Run one of the API's handlers on an entry; the entry's version before and after."""

        def record() -> tuple[int, int]:
            with runtime.uow() as uow:
                entry = own_entry(uow, caller, entry_id)
                before = entry.version
                action(uow, entry, by=caller.sub, command=command, now=clock())
                uow.commit()
                return before, entry.version

        return await run_in_threadpool(record)

    @router.post("/entries/{entry_id}/update")
    async def update(request: Request, entry_id: str) -> Response:
        try:
            caller = caller_of(request)
        except LoginRequired:
            return to_login()
        form = await form_of(request)
        try:
            command = forms.update_command(form)
            before, after = await entry_action(caller, entry_id, handlers.update_entry, command)
        except forms.FormInvalid as exc:
            return await entry_page(caller, entry_id, 422, update_form=form, update_errors=exc.errors)
        except domain.RuleBroken as exc:
            return await entry_page(caller, entry_id, 409, error=str(exc), update_form=form)
        except Problem as exc:
            return render("error.html", exc.status, caller=caller, title=exc.title, detail=exc.detail)
        done = "updated" if after != before else "unchanged"
        return RedirectResponse(f"{PREFIX}/entries/{entry_id}?done={done}", status_code=303)

    @router.post("/entries/{entry_id}/close")
    async def close(request: Request, entry_id: str) -> Response:
        try:
            caller = caller_of(request)
        except LoginRequired:
            return to_login()
        form = await form_of(request)
        try:
            command = forms.close_command(form)
            await entry_action(caller, entry_id, handlers.close_entry, command)
        except forms.FormInvalid as exc:
            return await entry_page(caller, entry_id, 422, close_form=form, close_errors=exc.errors)
        except domain.RuleBroken as exc:
            return await entry_page(caller, entry_id, 409, error=str(exc), close_form=form)
        except Problem as exc:
            return render("error.html", exc.status, caller=caller, title=exc.title, detail=exc.detail)
        return RedirectResponse(f"{PREFIX}/entries/{entry_id}?done=closed", status_code=303)

    @router.post("/entries/{entry_id}/reviews")
    async def review(request: Request, entry_id: str) -> Response:
        try:
            caller = caller_of(request)
        except LoginRequired:
            return to_login()
        form = await form_of(request)
        try:
            command = EntryReview(
                notes=form.get("notes", ""),
                reviewed_on=date.fromisoformat(form["reviewed_on"]) if form.get("reviewed_on") else None,
                risk=form.get("risk") or None,
            )
        except (ValidationError, ValueError):
            return await entry_page(caller, entry_id, 422, error="Check the review's date and risk.", form=form)

        def record() -> None:
            with runtime.uow() as uow:
                entry = own_entry(uow, caller, entry_id)
                handlers.review_entry(uow, entry, by=caller.sub, command=command, now=clock())
                uow.commit()

        try:
            await run_in_threadpool(record)
        except domain.InvalidDate as exc:
            return await entry_page(caller, entry_id, 422, error=str(exc), form=form)
        except domain.RuleBroken as exc:
            return await entry_page(caller, entry_id, 409, error=str(exc), form=form)
        except Problem as exc:
            return render("error.html", exc.status, caller=caller, title=exc.title, detail=exc.detail)
        return RedirectResponse(f"{PREFIX}/entries/{entry_id}?done=reviewed", status_code=303)

    runtime.api.include_router(router)
