"""Who events are about: adults (Person), children (Child), and the identifiers they carry.

The NHS number check is the NHS Data Dictionary's modulus 11 algorithm: weights 10..2 over
the first nine digits, check digit = 11 - (sum mod 11); 11 becomes 0; 10 means the number
was never issued and is invalid. Error messages never repeat the number itself, because they
end up in dead-letter headers and logs.
"""

from __future__ import annotations

import functools
import re
from datetime import date
from operator import mul
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

ORG_ID_PATTERN = r"^[A-Z0-9][A-Z0-9-]{1,31}$"
NHS_NUMBER_PATTERN = r"^[0-9]{10}$"
_NHS_DIGITS = re.compile(NHS_NUMBER_PATTERN)
_ORG_ID = re.compile(ORG_ID_PATTERN)


class StrictModel(BaseModel):
    """Refuses unknown fields: the one base of every event's data and every HTTP request body.

    A mistyped field (``consentId`` for ``consent_id``) silently dropped looks like success to the
    sender while the receiver acts without it, so an unknown field is an error naming its path
    (the generated JSON Schema says ``additionalProperties: false``). A publisher that needs a new
    field adds it here first: the schema gains it and every consumer knows it.
    """

    model_config = ConfigDict(extra="forbid")


class SchemaModel(StrictModel):
    """Base of every model in this package (strict: see :class:`StrictModel`)."""


_CHECK_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


@functools.lru_cache(maxsize=4096)
def nhs_check_digit(first_nine: str) -> int | None:
    """The modulus 11 check digit for nine digits, or None when no valid number has them.

    Remembered for the last 4,096 numbers (about 0.5 MB): a DNA's NHS number is checked each time a
    model holding it is built or parsed, five times across the suite."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("nhs_check_digit needs exactly nine digits")
    total: int = sum(map(mul, map(int, first_nine), _CHECK_WEIGHTS))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def valid_nhs_number(s: str) -> bool:
    """True when ``s`` is exactly ten digits and its last digit is the modulus 11 check digit."""
    if not isinstance(s, str) or not _NHS_DIGITS.match(s):
        return False
    return nhs_check_digit(s[:9]) == int(s[9])


def make_nhs_number(first_nine: str) -> str | None:
    """Complete nine digits into a valid NHS number (None if they cannot make one): for tests."""
    check = nhs_check_digit(first_nine)
    return None if check is None else f"{first_nine}{check}"


def _check_nhs_number(value: str) -> str:
    if not _NHS_DIGITS.match(value):
        raise PydanticCustomError("nhs_number_format", "NHS number must be exactly 10 digits, with no spaces")
    if nhs_check_digit(value[:9]) != int(value[9]):
        raise PydanticCustomError("nhs_number_check", "NHS number fails the modulus 11 check")
    return value


NhsNumber = Annotated[
    str,
    AfterValidator(_check_nhs_number),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": NHS_NUMBER_PATTERN,
            "description": "NHS number: 10 digits, the last a valid modulus 11 check digit.",
            "examples": ["9434765919"],
        }
    ),
]
"""An NHS number: ten digits whose last digit is a valid modulus 11 check digit."""


def _check_org_id(value: str) -> str:
    if not _ORG_ID.match(value):
        raise PydanticCustomError(
            "org_id",
            "not an organisation id: 2-32 upper-case letters, digits or hyphens (e.g. CGL-WSX)",
        )
    return value


OrgId = Annotated[
    str,
    AfterValidator(_check_org_id),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": ORG_ID_PATTERN,
            "description": "Organisation id (ODS-style code).",
            "examples": ["CGL-WSX", "WSCC-CSC"],
        }
    ),
]
"""An organisation id (ODS-style code), e.g. ``CGL-WSX``, ``WSCC-CSC``."""

EntityId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
"""An opaque identifier assigned by the publishing system (referral, appointment, ...)."""


class Person(SchemaModel):
    """An adult service user (usually a parent), identified by NHS number."""

    nhs_number: NhsNumber = Field(description="The person's NHS number (modulus 11 checked).")
    given_name: str | None = Field(default=None, description="Given name, if shared.")
    family_name: str | None = Field(default=None, description="Family name, if shared.")
    date_of_birth: date | None = Field(default=None, description="Date of birth, if shared.")


class Child(SchemaModel):
    """A child, or an unborn child (a pregnancy is recorded and shared like a child).

    Identified by at least one of ``nhs_number``, ``local_id`` (the publishing system's own
    id for the child) or, for an unborn child, ``expected_due_date``. ``date_of_birth`` alone
    does not identify a child. An unborn child has ``expected_due_date`` and no
    ``date_of_birth``; once born, publish ``date_of_birth`` and drop ``expected_due_date``.
    """

    nhs_number: NhsNumber | None = Field(default=None, description="The child's NHS number.")
    local_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The publishing system's own identifier for the child.",
    )
    date_of_birth: date | None = Field(default=None, description="Date of birth (born children).")
    expected_due_date: date | None = Field(
        default=None, description="Expected date of delivery: set only for an unborn child."
    )

    @model_validator(mode="after")
    def _identified_and_consistent(self) -> Child:
        if self.expected_due_date is not None and self.date_of_birth is not None:
            raise PydanticCustomError(
                "child_born_and_unborn",
                "a child has either date_of_birth (born) or expected_due_date (unborn), not both",
            )
        if self.nhs_number is None and self.local_id is None and self.expected_due_date is None:
            raise PydanticCustomError(
                "child_unidentified",
                "a child needs at least one identifier: nhs_number, local_id or expected_due_date",
            )
        return self

    @property
    def unborn(self) -> bool:
        """True for a pregnancy: an expected due date and no date of birth."""
        return self.expected_due_date is not None and self.date_of_birth is None
