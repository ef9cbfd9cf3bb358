"""Consent given, withdrawn and refused, on ``isp.consent.v1`` (CONTRACT sections 4 and 6)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from . import topics
from .envelope import EventData
from .people import ORG_ID_PATTERN, EntityId, OrgId, Person, _check_org_id

DataCategory = Literal["referral", "attendance", "treatment_status", "risk", "conference", "register"]
DATA_CATEGORIES: tuple[str, ...] = get_args(DataCategory)
WHOLE_PARTNERSHIP = "*"


def _check_recipient(value: str) -> str:
    return value if value == WHOLE_PARTNERSHIP else _check_org_id(value)


def _check_star_alone(recipients: list[str] | None) -> None:
    if recipients is not None and WHOLE_PARTNERSHIP in recipients and len(recipients) > 1:
        raise PydanticCustomError("recipients_star", 'recipients is either ["*"] or a list of organisation ids')


Recipient = Annotated[
    str,
    AfterValidator(_check_recipient),
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [{"pattern": ORG_ID_PATTERN}, {"const": WHOLE_PARTNERSHIP}],
            "description": "An organisation id, or * (alone) for the whole partnership.",
        }
    ),
]


class ConsentEvent(EventData):
    topic: ClassVar[str] = topics.CONSENT


class ConsentGiven(ConsentEvent):
    """A service user consented to sharing: with whom, for what, which data, until when."""

    event_type: ClassVar[str] = "uk.isp.consent.given.v1"

    consent_id: EntityId = Field(description="The recording system's consent id.")
    person: Person = Field(description="The person who consented.")
    recorded_by: OrgId = Field(description="The organisation that recorded the consent.")
    recipients: list[Recipient] = Field(
        min_length=1,
        description='Organisations the person agreed may receive information, or ["*"].',
    )
    purposes: list[str] = Field(
        min_length=1, description="Purposes consented to, e.g. safeguarding (compared exactly)."
    )
    data_categories: list[DataCategory] = Field(
        min_length=1, description="Categories of information that may be shared."
    )
    given_on: date = Field(description="The date consent was given.")
    expires_on: date | None = Field(default=None, description="The last date the consent holds; none means no expiry.")

    @model_validator(mode="after")
    def _star_alone(self) -> ConsentGiven:
        _check_star_alone(self.recipients)
        if self.expires_on is not None and self.expires_on < self.given_on:
            raise PydanticCustomError("consent_expiry", "expires_on is before given_on")
        return self

    @property
    def whole_partnership(self) -> bool:
        return self.recipients == [WHOLE_PARTNERSHIP]


class ConsentWithdrawn(ConsentEvent):
    """A service user withdrew a consent."""

    event_type: ClassVar[str] = "uk.isp.consent.withdrawn.v1"

    consent_id: EntityId = Field(description="The consent being withdrawn.")
    person: Person = Field(description="The person who withdrew it.")
    withdrawn_on: date = Field(description="The date it was withdrawn.")


class ConsentRefused(ConsentEvent):
    """A service user said no to sharing (v1.1); a later consent given supersedes it.

    Shown to the sending organisation's DSL in withheld notices (``consent_refused_on``).
    """

    event_type: ClassVar[str] = "uk.isp.consent.refused.v1"

    consent_id: EntityId | None = Field(default=None, description="The recording system's id for the refusal, if any.")
    person: Person = Field(description="The person who refused.")
    recorded_by: OrgId = Field(description="The organisation that recorded the refusal.")
    recipients: list[Recipient] | None = Field(
        default=None,
        min_length=1,
        description='Organisations the person refused to let receive information, or ["*"]; none means any.',
    )
    refused_on: date = Field(description="The date consent was refused.")
    reason: str | None = Field(default=None, max_length=2000, description="Why, if recorded.")

    @model_validator(mode="after")
    def _star_alone(self) -> ConsentRefused:
        _check_star_alone(self.recipients)
        return self


EVENTS: tuple[type[ConsentEvent], ...] = (ConsentGiven, ConsentWithdrawn, ConsentRefused)
