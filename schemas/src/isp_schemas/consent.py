"""Consent given and withdrawn, on ``isp.consent.v1`` (CONTRACT sections 4 and 6)."""

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
        if WHOLE_PARTNERSHIP in self.recipients and len(self.recipients) > 1:
            raise PydanticCustomError("recipients_star", 'recipients is either ["*"] or a list of organisation ids')
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


EVENTS: tuple[type[ConsentEvent], ...] = (ConsentGiven, ConsentWithdrawn)
