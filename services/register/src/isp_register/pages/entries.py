"""The entry pages: the list of all entries, open an entry, show it with its history and its
cross-area matches, and change, review or close it (closing asks for a reason and a confirmation)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse
from isp_common.errors import DomainError
from isp_common.pages import FormDep

from .. import commands, domain, views
from ..api.deps import RegisterDep
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


def _change(page: DslPage, entry_id: str, action: Callable[..., object], command: Any) -> tuple[int, int]:
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


@router.get("")
def list_page(page: DslPageDep, cursor: str | None = None) -> Response:
    """All of the organisation's entries, searched and filtered by the query string (a GET form)."""
    form = forms.list_form(page.request.query_params)
    context: dict[str, Any] = {
        "form": form,
        "categories": domain.CATEGORIES,
        "risks": forms.RISKS,
        "owner_options": [(o, o) for o in commands.owners(page.uow, page.caller.org)],
    }
    try:
        query = forms.entry_query(form, cursor, page.today)
    except forms.FormInvalid as exc:
        return page.render("entries.html", 422, errors=exc.errors, **context)
    found = commands.list_entries(page.uow, page.caller.org, query, page.today)
    items = [views.entry_list_item(e, page.today, e.id in found.matched).model_dump(mode="json") for e in found.entries]
    kept = {k: v for k, v in form.items() if v}
    previous = max(query.offset - query.limit, 0)
    return page.render(
        "entries.html",
        entries=items,
        total=found.total,
        first=query.offset + 1,
        last=query.offset + len(items),
        next_href=f"?{urlencode({**kept, 'cursor': found.next})}" if found.next else None,
        previous_href=f"?{urlencode({**kept, 'cursor': previous})}" if query.offset else None,
        **context,
    )


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


def _close_page(page: DslPage, entry_id: str, status: int = 200, **extra: Any) -> Response:
    try:
        entry = commands.own_entry(page.uow, page.caller.org, entry_id)
    except DomainError as exc:
        return page.refused(exc)
    if entry.status != "open":
        return page.redirect(f"/entries/{entry_id}")
    return page.render(
        "close.html", status, entry=views.entry_summary(entry, page.today).model_dump(mode="json"), **extra
    )


@router.get("/{entry_id}/close")
def confirm_close_page(entry_id: str, page: DslPageDep) -> Response:
    """The confirmation step: what closing means, and the reason, required."""
    return _close_page(page, entry_id)


@router.post("/{entry_id}/close")
def close_entry(entry_id: str, page: DslPageDep, form: FormDep) -> Response:
    try:
        _change(page, entry_id, commands.close_entry, forms.close_command(form))
    except forms.FormInvalid as exc:
        return _close_page(page, entry_id, 422, close_form=form, errors=exc.errors)
    except DomainError as exc:
        return _refused(page, entry_id, exc)
    return page.redirect(f"/entries/{entry_id}?done=closed")


@router.post("/{entry_id}/reviews")
def review_entry(entry_id: str, page: DslPageDep, form: FormDep) -> Response:
    try:
        _change(page, entry_id, commands.review_entry, forms.review_command(form))
    except forms.FormInvalid as exc:
        return _entry_page(page, entry_id, 422, form=form, review_errors=exc.errors)
    except domain.InvalidDate as exc:
        page.uow.rollback()
        return _entry_page(page, entry_id, 422, form=form, review_errors={"reviewed_on": str(exc)})
    except DomainError as exc:
        return _refused(page, entry_id, exc, form=form)
    return page.redirect(f"/entries/{entry_id}?done=reviewed")


@router.post("/{entry_id}/matches/{match_id}/contacts")
def record_match_contact(entry_id: str, match_id: str, page: DslPageDep, form: FormDep) -> Response:
    """That the DSL contacted the other organisation about a cross-area match: the notes are required."""
    try:
        _change(page, entry_id, partial(commands.record_contact, match_id=match_id), forms.contact_command(form))
    except forms.FormInvalid as exc:
        return _entry_page(page, entry_id, 422, contact_form=form, contact_errors=exc.errors, contact_match=match_id)
    except DomainError as exc:
        return _refused(page, entry_id, exc)
    return page.redirect(f"/entries/{entry_id}?done=contacted#match-{match_id}")
