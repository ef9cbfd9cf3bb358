"""The partnership directory (CONTRACT section 9): one entry per organisation, and its updates on
the internal topic ``isp.directory.v1`` (keyed by organisation id).

``keys`` is a JWKS (RFC 7517) of the organisation's event-signing public keys (section 10). The
directory is public to every partner, so a key carrying private members is rejected.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import AfterValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from . import topics
from .envelope import EventData
from .people import OrgId, SchemaModel

OrganisationKind = Literal[
    "children_social_care",
    "treatment_provider",
    "health",
    "police",
    "education",
    "partnership",
    "other",
]
ORGANISATION_KINDS: tuple[str, ...] = get_args(OrganisationKind)

PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
"""JWK members that hold private or secret key material (RFC 7518 section 6)."""


def _check_jwks(value: dict[str, Any]) -> dict[str, Any]:
    keys = value.get("keys")
    if not isinstance(keys, list):
        raise PydanticCustomError("jwks_keys", 'a JWKS is an object with a "keys" list')
    kids: set[str] = set()
    for index, key in enumerate(keys):
        if not isinstance(key, dict):
            raise PydanticCustomError("jwks_key", "keys[{index}] is not an object", {"index": index})
        for member in ("kty", "kid"):
            if not isinstance(key.get(member), str) or not key[member]:
                raise PydanticCustomError(
                    "jwks_member", "keys[{index}] needs a string {member}", {"index": index, "member": member}
                )
        if PRIVATE_JWK_MEMBERS & key.keys():
            raise PydanticCustomError(
                "jwks_private", "keys[{index}] holds private key material: publish public keys only", {"index": index}
            )
        if key["kid"] in kids:
            raise PydanticCustomError("jwks_kid", "keys[{index}] repeats a kid", {"index": index})
        kids.add(key["kid"])
    return value


Jwks = Annotated[
    dict[str, Any],
    AfterValidator(_check_jwks),
    WithJsonSchema(
        {
            "type": "object",
            "required": ["keys"],
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kty", "kid"],
                        "properties": {"kty": {"type": "string"}, "kid": {"type": "string"}},
                    },
                }
            },
            "description": "A JWKS (RFC 7517) of public keys: each with kty and a kid unique in the set.",
            "examples": [{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "CGL-WSX-1", "x": "..."}]}],
        }
    ),
]
"""A JSON Web Key Set of public keys: ``{"keys": [{"kty": ..., "kid": ..., ...}]}``."""


def _empty_jwks() -> dict[str, Any]:
    return {"keys": []}


class Organisation(SchemaModel):
    """One organisation of the partnership: who it is, how to reach its DSL, its signing keys."""

    id: OrgId = Field(description="The organisation id (ODS-style code).")
    name: str = Field(min_length=1, max_length=200, description="Its name.")
    kind: OrganisationKind = Field(description="What kind of organisation it is; grounds and recipients read it.")
    dsl_contact: str = Field(
        min_length=1, max_length=320, description="How to reach its designated safeguarding lead (email or phone)."
    )
    out_of_hours: OrgId | None = Field(
        default=None, description="The organisation id of its emergency duty (out-of-hours) team, if any."
    )
    keys: Jwks = Field(default_factory=_empty_jwks, description="A JWKS of its event-signing public keys.")


class OrganisationUpdated(EventData, Organisation):
    """An organisation was added to the directory or changed: the whole entry as it now is."""

    event_type: ClassVar[str] = "uk.isp.directory.organisation.updated.v1"
    topic: ClassVar[str] = topics.DIRECTORY


EVENTS: tuple[type[EventData], ...] = (OrganisationUpdated,)
