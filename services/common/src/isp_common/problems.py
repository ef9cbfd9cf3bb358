"""Errors as RFC 9457 problem details (``application/problem+json``), CONTRACT §2.

A domain raises :class:`isp_common.errors.DomainError` (its class says the status and
problem type); adapters may raise :class:`Problem` directly. :func:`install_problem_handlers`
also turns FastAPI's own errors into problem details, so a partner's client has
one error shape to parse.

Two hazards are avoided on purpose:

- Validation errors list only ``loc`` and ``msg``, never the rejected ``input``:
  the input may be an NHS number or a name, and error bodies end up in partners'
  logs.
- Unhandled exceptions answer a bare 500 with no message or traceback. Starlette
  re-raises the exception after this handler has answered, so the server still
  logs it once.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import DomainError

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


class ProblemDetails(BaseModel):
    """The body of an error response (RFC 9457), for the OpenAPI document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field("about:blank", description="URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(None, description="What went wrong this time, for a person.")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class Problem(Exception):
    """An error answered as problem+json. ``extra`` becomes extension members of the body."""

    def __init__(
        self,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        *,
        type: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.status = status
        self.title = title or _phrase(status)
        self.detail = detail
        self.type = type
        self.headers = dict(headers or {})
        self.extra = extra
        super().__init__(f"{status} {self.title}" + (f": {detail}" if detail else ""))

    def body(self) -> dict[str, Any]:
        return problem_body(self.status, self.title, self.detail, type=self.type, **self.extra)

    def response(self) -> ProblemResponse:
        return ProblemResponse(self.body(), status_code=self.status, headers=self.headers or None)


def problem_body(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    type: str = "about:blank",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {**jsonable_encoder(extra), "type": type}
    body["title"] = title or _phrase(status)
    body["status"] = status
    if detail is not None:
        body["detail"] = detail
    return body


def problem_response(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    type: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response; ``extra`` keyword arguments become extension members."""
    return Problem(status, title, detail, type=type, headers=headers, **extra).response()


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router, documenting its problem+json answers."""
    return {
        status: {
            "model": ProblemDetails,
            "description": _phrase(status),
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return exc.response()


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(exc.status, exc.title, exc.detail or None, type=exc.problem_type, **exc.extra)


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    extra: dict[str, Any] = {}
    detail: str | None = None
    if isinstance(exc.detail, str):
        detail = exc.detail if exc.detail != _phrase(exc.status_code) else None
    elif exc.detail is not None:
        extra["context"] = exc.detail
    return problem_response(exc.status_code, None, detail, headers=exc.headers, **extra)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(error.get("loc", ())), "msg": error.get("msg", "")} for error in exc.errors()]
    return problem_response(
        422,
        "Request is not valid",
        f"{len(errors)} field(s) failed validation; see errors.",
        errors=errors,
    )


async def _on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(500, "Internal Server Error", "Something went wrong on our side.")


def install_problem_handlers(app: FastAPI) -> None:
    """Answer domain errors, Problem, HTTP errors, validation errors and crashes as problem+json."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unhandled)
