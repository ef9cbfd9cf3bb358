"""HTTP adapter for referrals: validate -> command -> view. Thin on purpose.

Every change commits the referral, its history, its due dates and its event (outbox) in one
transaction; nothing is published to Kafka from here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Response
from isp_common.auth import Caller, require_roles
from isp_common.db import UnitOfWork
from isp_common.problems import Problem, problem_responses
from isp_common.runtime import ServiceRuntime
from isp_schemas.referrals import ReferralRequested
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from . import commands, domain, handlers
from .commands import Actor
from .domain import DueRules
from .models import (
    AcceptBody,
    ActivateBody,
    AllocateBody,
    AmendBody,
    CancelBody,
    CloseBody,
    DeclineBody,
    JointVisitBody,
    ReferralCreate,
    ReferralList,
    ReferralState,
    ReferralView,
    Stamped,
    SummaryBody,
)
from .tables import Referral
from .views import referral_view, referrals_of

PATHS: dict[str, str] = {
    "amend": "/amend",
    "cancel": "/cancel",
    "accept": "/accept",
    "decline": "/decline",
    "allocate": "/allocate",
    "book_joint_visit": "/joint-visit",
    "record_joint_visit": "/joint-visit/done",
    "open_workbook": "/workbook",
    "activate": "/activate",
    "record_summary": "/summaries",
    "close": "/close",
}
"""Each command's endpoint under ``/v1/referrals/{id}``."""

ReferralId = Annotated[str, Path(description="The referral id.")]
Practitioner = Annotated[Caller, Depends(require_roles("social_care", "provider"))]
Reader = Annotated[Caller, Depends(require_roles("social_care", "provider", "dsl", "admin"))]
ERRORS = problem_responses(400, 401, 403, 404, 409, 422)


def _at(body: Any) -> datetime | None:
    return body.at if body is not None else None


def _actor(caller: Caller) -> Actor:
    return Actor(sub=caller.sub, org=caller.org)


def _problem(exc: Exception, referral_id: str | None = None) -> Problem:
    if isinstance(exc, domain.ReferralNotFound):
        return Problem(404, "Not Found", f"No referral {referral_id}.")
    if isinstance(exc, domain.NotYourReferral):
        return Problem(403, "Forbidden", str(exc))
    if isinstance(exc, domain.IllegalTransition):
        allowed = exc.allowed
        return Problem(
            409,
            "Transition not allowed",
            f"{exc.command} is not allowed: {exc.reason}. Allowed now: {', '.join(allowed) or 'nothing'}.",
            state=exc.state,
            command=exc.command,
            allowed=allowed,
            allowed_requests=[f"POST /v1/referrals/{referral_id}{PATHS[c]}" for c in allowed],
        )
    if isinstance(exc, domain.InvalidCommand):
        return Problem(422, "Request does not fit the referral", str(exc))
    if isinstance(exc, domain.DuplicateReferral):
        return Problem(409, "Conflict", "That referral_id is already used by a different referral.")
    if isinstance(exc, StaleDataError | IntegrityError):
        return Problem(409, "Conflict", "The referral changed at the same time; read it again and retry.")
    raise exc


REFUSALS = (
    domain.ReferralNotFound,
    domain.NotYourReferral,
    domain.IllegalTransition,
    domain.InvalidCommand,
    domain.DuplicateReferral,
    StaleDataError,
    IntegrityError,
)


def install(runtime: ServiceRuntime, rules: DueRules) -> None:
    api = runtime.api

    def run(referral_id: str, change: Callable[[UnitOfWork, datetime], Referral]) -> ReferralView:
        now = datetime.now(UTC)
        try:
            with runtime.uow() as uow:
                referral = change(uow, now)
                uow.commit()
                return referral_view(uow.session, referral, now)
        except REFUSALS as exc:
            raise _problem(exc, referral_id) from None

    @api.post(
        "/v1/referrals",
        tags=["referrals"],
        summary="Make a referral (either direction)",
        status_code=201,
        response_model=ReferralView,
        responses={200: {"description": "The same referral was already made (idempotent retry)."}, **ERRORS},
    )
    def create_referral(body: ReferralCreate, caller: Practitioner, response: Response) -> ReferralView:
        """Make a referral to treatment (from social care: a priority referral) or to children's
        social care (with a threshold). ``from_org`` must be the caller's organisation. It is
        validated exactly as a ``uk.isp.referral.requested.v1`` event, and published as one."""
        if body.from_org != caller.org:
            raise Problem(403, "Forbidden", "from_org must be your own organisation.")
        fields = body.model_dump(exclude={"referral_id"})
        data = ReferralRequested.model_validate({**fields, "referral_id": body.referral_id or f"ref-{uuid.uuid4()}"})
        now = datetime.now(UTC)
        try:
            with runtime.uow() as uow:
                existing = uow.session.get(Referral, data.referral_id)
                if existing is not None and handlers.same_request(existing, data):
                    response.status_code = 200
                    return referral_view(uow.session, existing, now)
                referral = handlers.make_referral(uow, data, Actor(caller.sub, caller.org), now, rules)
                uow.commit()
                response.headers["Location"] = f"/v1/referrals/{referral.id}"
                return referral_view(uow.session, referral, now)
        except REFUSALS as exc:
            raise _problem(exc, data.referral_id) from None

    @api.get(
        "/v1/referrals",
        tags=["referrals"],
        summary="Your organisation's referrals, sent or received",
        response_model=ReferralList,
        responses=ERRORS,
    )
    def list_referrals(
        caller: Reader,
        status: Annotated[ReferralState | None, Query(description="Only referrals in this state.")] = None,
        due_before: Annotated[
            date | None, Query(description="Only referrals with an open due date strictly before this date.")
        ] = None,
        role: Annotated[
            Literal["sent", "received"] | None, Query(description="sent (you referred) or received; both if absent.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 100,
    ) -> ReferralList:
        now = datetime.now(UTC)
        with Session(runtime.engine) as session:
            found = referrals_of(session, caller.org, state=status, due_before=due_before, role=role, limit=limit)
            return ReferralList(items=[referral_view(session, r, now) for r in found])

    @api.get(
        "/v1/referrals/{referral_id}",
        tags=["referrals"],
        summary="A referral with its state, due dates and history",
        response_model=ReferralView,
        responses=ERRORS,
    )
    def get_referral(referral_id: ReferralId, caller: Reader) -> ReferralView:
        with Session(runtime.engine) as session:
            referral = session.get(Referral, referral_id)
            if referral is None:
                raise Problem(404, "Not Found", f"No referral {referral_id}.")
            if caller.org not in (referral.from_org, referral.to_org):
                raise Problem(403, "Forbidden", "This is not your organisation's referral.")
            return referral_view(session, referral, datetime.now(UTC))

    _install_commands(api, run, rules)


def _install_commands(api: Any, run: Callable[..., ReferralView], rules: DueRules) -> None:
    def route(command: str, summary: str):
        return api.post(
            "/v1/referrals/{referral_id}" + PATHS[command],
            tags=["referral transitions"],
            summary=summary,
            response_model=ReferralView,
            responses=ERRORS,
        )

    @route("amend", "The sender amends the referral (until it is accepted)")
    def amend(referral_id: ReferralId, body: AmendBody, caller: Practitioner) -> ReferralView:
        changes = body.model_dump(mode="json", exclude_unset=True)
        return run(
            referral_id, lambda uow, now: commands.amend(uow, referral_id, _actor(caller), changes, now, rules=rules)
        )

    api.patch(
        "/v1/referrals/{referral_id}",
        tags=["referral transitions"],
        summary="Same as POST .../amend",
        response_model=ReferralView,
        responses=ERRORS,
    )(amend)

    @route("cancel", "The sender withdraws the referral (until it is accepted)")
    def cancel(referral_id: ReferralId, body: CancelBody | None = None, *, caller: Practitioner) -> ReferralView:
        return run(
            referral_id,
            lambda uow, now: commands.cancel(uow, referral_id, _actor(caller), (body.reason if body else None), now),
        )

    @route("accept", "The receiver accepts the referral after triage")
    def accept(referral_id: ReferralId, body: AcceptBody | None = None, *, caller: Practitioner) -> ReferralView:
        return run(
            referral_id,
            lambda uow, now: commands.accept(
                uow, referral_id, _actor(caller), now, rules=rules, rag=(body.rag if body else None), at=_at(body)
            ),
        )

    @route("decline", "The receiver declines the referral, saying why")
    def decline(referral_id: ReferralId, body: DeclineBody, caller: Practitioner) -> ReferralView:
        return run(
            referral_id,
            lambda uow, now: commands.decline(uow, referral_id, _actor(caller), body.reason, now, at=_at(body)),
        )

    @route("allocate", "Allocate to a practitioner: joint visit due in 3 working days, workbook in 2")
    def allocate(referral_id: ReferralId, body: AllocateBody, caller: Practitioner) -> ReferralView:
        return run(
            referral_id,
            lambda uow, now: commands.allocate(
                uow, referral_id, _actor(caller), body.practitioner, now, rules=rules, at=_at(body)
            ),
        )

    @route("book_joint_visit", "Book (or rebook) the initial joint visit with the social worker")
    def book_joint_visit(referral_id: ReferralId, body: JointVisitBody, caller: Practitioner) -> ReferralView:
        return run(
            referral_id,
            lambda uow, now: commands.book_joint_visit(uow, referral_id, _actor(caller), body.scheduled_for, now),
        )

    @route("record_joint_visit", "Record that the initial joint visit took place")
    def joint_visit_done(referral_id: ReferralId, body: Stamped | None = None, *, caller: Practitioner) -> ReferralView:
        return run(
            referral_id,
            lambda uow, now: commands.record_joint_visit(uow, referral_id, _actor(caller), now, at=_at(body)),
        )

    @route("open_workbook", "Record that the family's workbook was opened")
    def open_workbook(referral_id: ReferralId, body: Stamped | None = None, *, caller: Practitioner) -> ReferralView:
        return run(
            referral_id, lambda uow, now: commands.open_workbook(uow, referral_id, _actor(caller), now, at=_at(body))
        )

    @route("activate", "Active work begins (joint visit done, workbook open): monthly summaries due")
    def activate(referral_id: ReferralId, body: ActivateBody | None = None, *, caller: Practitioner) -> ReferralView:
        return run(
            referral_id,
            lambda uow, now: commands.activate(
                uow,
                referral_id,
                _actor(caller),
                now,
                rules=rules,
                episode_id=(body.episode_id if body else None),
                at=_at(body),
            ),
        )

    @route("record_summary", "Record the monthly summary (due before group supervision)")
    def record_summary(
        referral_id: ReferralId, body: SummaryBody | None = None, *, caller: Practitioner
    ) -> ReferralView:
        return run(
            referral_id,
            lambda uow, now: commands.record_summary(
                uow, referral_id, _actor(caller), now, rules=rules, period=(body.period if body else None), at=_at(body)
            ),
        )

    @route("close", "Close the referral with its outcome")
    def close(referral_id: ReferralId, body: CloseBody, caller: Practitioner) -> ReferralView:
        return run(
            referral_id,
            lambda uow, now: commands.close(
                uow, referral_id, _actor(caller), body.outcome, now, reason=body.reason, at=_at(body)
            ),
        )
