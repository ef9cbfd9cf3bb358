"""The entry pages: open an entry, show it with its history, and change, review or close it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse
from isp_common.errors import DomainError
from isp_common.pages import FormDep

from .. import commands, domain
from ..api.deps import RegisterDep
from ..tables import RegisterEntry
from . import forms
from .page import PREFIX, DslPage, DslPageDep

router = APIRouter(prefix=f"{PREFIX}/entries", include_in_schema=False)


def _open_form(page: DslPage, status: int = 200, form: dict[str, str] | None = None, **extra: Any) -> HTMLResponse:
    form = form or {}
    return page.render(
        "open.html",
        status,
        categories=domain.CATEGORIES,
        risks=forms.RISKS,
        today=page.today.isoformat(),
        form=form,
        child_rows=forms.row_count(form, "children", forms.CHILD_ROWS),
        agency_rows=forms.row_count(form, "agency", forms.AGENCY_ROWS),
        **extra,
    )


def _entry_page(page: DslPage, entry_id: str, status: int = 200, **extra: Any) -> HTMLResponse:
    try:
        entry = commands.own_entry(page.uow, page.caller.org, entry_id)
    except DomainError as exc:
        return page.refused(exc)
    today = page.today
    detail = commands.entry_detail(page.uow, entry, today).model_dump(mode="json")
    update_form = extra.pop("update_form", None) or forms.update_values(detail)
    return page.render(
        "entry.html",
        status,
        categories=domain.CATEGORIES,
        risks=forms.RISKS,
        update_form=update_form,
        child_rows=forms.row_count(update_form, "children", 1 + len(detail["children"])),
        agency_rows=forms.row_count(update_form, "agency", 1 + len(detail["agency_contacts"])),
        entry=detail,
        today=today.isoformat(),
        **extra,
    )


def _change(page: DslPage, entry_id: str, action: Callable[..., RegisterEntry], command: Any) -> tuple[int, int]:
    """Run one of the API's commands on the caller's entry and commit; its version before and after."""
    entry = commands.own_entry(page.uow, page.caller.org, entry_id)
    before = entry.version
    action(page.uow, entry, by=page.caller.sub, command=command, now=page.clock.now())
    page.uow.commit()
    return before, entry.version


def _refused(page: DslPage, entry_id: str, error: DomainError, **kept: Any) -> HTMLResponse:
    """A change the rules refused, on the entry page with the form as posted; an entry that is
    not the caller's, on the error page."""
    page.uow.rollback()
    if isinstance(error, domain.RuleBroken | domain.InvalidDate):
        return _entry_page(page, entry_id, error.status, error=str(error), **kept)
    return page.refused(error)


@router.get("/new")
def new_entry_page(page: DslPageDep) -> Response:
    return _open_form(page)


@router.post("/new")
def open_entry(page: DslPageDep, register: RegisterDep, form: FormDep) -> Response:
    by, org, key = page.caller.sub, page.caller.org, register.partnership_key
    try:
        command = forms.open_command(form)
        entry = commands.open_entry(
            page.uow, org=org, by=by, command=command, now=page.clock.now(), partnership_key=key
        )
    except forms.FormInvalid as exc:
        return _open_form(page, 422, form=form, errors=exc.errors)
    except domain.InvalidDate as exc:
        return _open_form(page, 422, form=form, errors={"opened_on": str(exc)})
    except domain.RuleBroken as exc:
        return _open_form(page, 409, form=form, error=str(exc))
    page.uow.commit()
    return page.redirect(f"/entries/{entry.id}?done=opened")


@router.get("/{entry_id}")
def show_entry(entry_id: str, page: DslPageDep, done: str | None = None) -> Response:
    return _entry_page(page, entry_id, done=done)


@router.post("/{entry_id}/update")
def update_entry(entry_id: str, page: DslPageDep, form: FormDep) -> Response:
    try:
        before, after = _change(page, entry_id, commands.update_entry, forms.update_command(form))
    except forms.FormInvalid as exc:
        return _entry_page(page, entry_id, 422, update_form=form, update_errors=exc.errors)
    except DomainError as exc:
        return _refused(page, entry_id, exc, update_form=form)
    return page.redirect(f"/entries/{entry_id}?done={'updated' if after != before else 'unchanged'}")


@router.post("/{entry_id}/close")
def close_entry(entry_id: str, page: DslPageDep, form: FormDep) -> Response:
    try:
        _change(page, entry_id, commands.close_entry, forms.close_command(form))
    except forms.FormInvalid as exc:
        return _entry_page(page, entry_id, 422, close_form=form, close_errors=exc.errors)
    except DomainError as exc:
        return _refused(page, entry_id, exc, close_form=form)
    return page.redirect(f"/entries/{entry_id}?done=closed")


@router.post("/{entry_id}/reviews")
def review_entry(entry_id: str, page: DslPageDep, form: FormDep) -> Response:
    try:
        command = forms.review_command(form)
    except ValueError:
        return _entry_page(page, entry_id, 422, error="Check the review's date and risk.", form=form)
    try:
        _change(page, entry_id, commands.review_entry, command)
    except DomainError as exc:
        return _refused(page, entry_id, exc, form=form)
    return page.redirect(f"/entries/{entry_id}?done=reviewed")
