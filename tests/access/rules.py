"""The declared access rule of every route of every service: who may call it, and on whose data.

The matrix test (:mod:`.test_matrix`) fails when an app has a route this table does not declare,
or the table declares one the app lacks, so a new route cannot ship without a rule.

A rule maps each allowed role to a *scope*:

- ``ALL``: the partnership's data, whoever's it is (the directory, the audit trail for
  ``partnership_ig``, dead letters for ``admin``);
- ``MINE``: a collection, or an action, limited to the caller's organisation; another
  organisation's caller is served, but never sees the owner's data;
- ``OWNER``: one resource of an organisation (in the path, or named in the body); another
  organisation's caller gets 403 or 404;
- ``SENDER`` / ``RECEIVER``: one referral, for the referring / receiving organisation only.

A route with no roles is public (no token needed). A page route (``page=True``) reads its token
from the page set's cookie: signed out, or signed in with a role the pages do not serve, it
redirects to the sign-in page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Scope = Literal["all", "mine", "owner", "sender", "receiver"]
ALL: Scope = "all"
MINE: Scope = "mine"
OWNER: Scope = "owner"
SENDER: Scope = "sender"
RECEIVER: Scope = "receiver"
MOUNT = "MOUNT"
"""The "method" of a mounted sub-application (static files)."""


@dataclass(frozen=True)
class Rule:
    roles: Mapping[str, Scope] = field(default_factory=dict)
    page: bool = False

    @property
    def public(self) -> bool:
        return not self.roles

    def __or__(self, other: Rule) -> Rule:
        return Rule({**self.roles, **other.roles}, self.page or other.page)


def allow(*roles: str, scope: Scope = MINE) -> Rule:
    return Rule(dict.fromkeys(roles, scope))


def page(*roles: str, scope: Scope = MINE) -> Rule:
    return Rule(dict.fromkeys(roles, scope), page=True)


PUBLIC = Rule()
PUBLIC_PAGE = Rule(page=True)
Route = tuple[str, str]

COMMON: dict[Route, Rule] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    (MOUNT, "/docs/assets"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/schemas/"): PUBLIC,
    ("GET", "/schemas/events"): PUBLIC,
    ("GET", "/schemas/{name}"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
}


def sign_in(prefix: str) -> dict[Route, Rule]:
    """The common sign-in routes of a page set, and its static files."""
    return {
        ("GET", f"{prefix}/login"): PUBLIC_PAGE,
        ("POST", f"{prefix}/login"): PUBLIC_PAGE,
        ("POST", f"{prefix}/logout"): PUBLIC_PAGE,  # signing out needs no one signed in
        (MOUNT, "/page-assets"): PUBLIC,
    }


PRACTITIONER = ("social_care", "provider")
MEMBER = ("social_care", "provider", "dsl", "admin")
IG = ("ig_officer", "partnership_ig")
REF = "/v1/referrals/{referral_id}"

REFERRALS: dict[Route, Rule] = {
    **COMMON,
    # from_org must be the caller's, and the role its side's: the owner here is a provider, so social_care
    # (which refers from a children's social care organisation) is refused
    ("POST", "/v1/referrals"): allow("provider", scope=OWNER),
    ("GET", "/v1/referrals"): allow(*MEMBER),
    ("GET", REF): allow(*MEMBER, scope=SENDER),
    ("POST", f"{REF}/amend"): allow(*PRACTITIONER, scope=SENDER),
    ("PATCH", REF): allow(*PRACTITIONER, scope=SENDER),
    ("POST", f"{REF}/cancel"): allow(*PRACTITIONER, scope=SENDER),
    **{
        ("POST", f"{REF}/{step}"): allow(*PRACTITIONER, scope=RECEIVER)
        for step in (
            "accept",
            "decline",
            "allocate",
            "joint-visit",
            "joint-visit/done",
            "workbook",
            "activate",
            "summaries",
            "close",
        )
    },
}

ENTRY = "/v1/register/entries/{entry_id}"
PAGE_ENTRY = "/register/entries/{entry_id}"
REGISTER: dict[Route, Rule] = {
    **COMMON,
    ("POST", "/v1/register/entries"): allow("dsl"),
    ("GET", "/v1/register/entries"): allow("dsl"),
    ("GET", ENTRY): allow("dsl", scope=OWNER),
    ("POST", f"{ENTRY}/reviews"): allow("dsl", scope=OWNER),
    ("PATCH", ENTRY): allow("dsl", scope=OWNER),
    ("POST", f"{ENTRY}/close"): allow("dsl", scope=OWNER),
    ("POST", f"{ENTRY}/matches/{{match_id}}/contacts"): allow("dsl", scope=OWNER),
    ("GET", "/v1/register/worklist"): allow("dsl"),
    ("POST", "/v1/register/weekly-reviews"): allow("dsl"),
    ("GET", "/v1/register/weekly-reviews"): allow("dsl"),
    **sign_in("/register"),
    ("GET", "/register/"): PUBLIC_PAGE,  # a redirect to the worklist
    ("GET", "/register/worklist"): page("dsl"),
    ("POST", "/register/weekly-reviews"): page("dsl"),
    ("GET", "/register/entries"): page("dsl"),
    ("GET", "/register/entries/new"): page("dsl"),
    ("POST", "/register/entries/new"): page("dsl"),
    ("GET", PAGE_ENTRY): page("dsl", scope=OWNER),
    ("POST", f"{PAGE_ENTRY}/update"): page("dsl", scope=OWNER),
    ("GET", f"{PAGE_ENTRY}/close"): page("dsl", scope=OWNER),
    ("POST", f"{PAGE_ENTRY}/close"): page("dsl", scope=OWNER),
    ("POST", f"{PAGE_ENTRY}/reviews"): page("dsl", scope=OWNER),
    ("POST", f"{PAGE_ENTRY}/matches/{{match_id}}/contacts"): page("dsl", scope=OWNER),
}

SUBSCRIBERS = ("social_care", "provider", "dsl")  # CONTRACT §5; not admin (issue 11 item 3)
NOTIFICATIONS: dict[Route, Rule] = {
    **COMMON,
    ("POST", "/v1/subscriptions"): allow(*SUBSCRIBERS),
    ("GET", "/v1/subscriptions"): allow(*MEMBER),
    ("DELETE", "/v1/subscriptions/{subscription_id}"): allow(*MEMBER, scope=OWNER),
    ("GET", "/v1/subscriptions/{subscription_id}/attempts"): allow(*MEMBER, scope=OWNER),
    ("POST", "/v1/subscriptions/{subscription_id}/secret"): allow(*SUBSCRIBERS, scope=OWNER),
    ("GET", "/v1/alerts"): allow(*MEMBER),
    ("GET", "/v1/alerts/{alert_id}"): allow(*MEMBER, scope=OWNER),
    ("POST", "/v1/alerts/{alert_id}/ack"): allow(*MEMBER, scope=OWNER),
    ("POST", "/v1/conferences/{conference_id}/responses"): allow(*MEMBER, scope=OWNER),
    ("POST", "/v1/conferences/{conference_id}/report"): allow(*MEMBER, scope=OWNER),
    ("GET", "/v1/consents/{consent_id}"): allow(*MEMBER, scope=OWNER),
    ("POST", "/v1/informing"): allow(*MEMBER),
    ("GET", "/v1/directory"): allow(*MEMBER, *IG, scope=ALL),
    ("GET", "/v1/directory/{org}"): allow(*MEMBER, *IG, scope=ALL),
    ("PUT", "/v1/directory/{org}"): allow("admin", scope=ALL),
    ("GET", "/v1/withheld"): allow("dsl"),
    ("POST", "/v1/withheld/{alert_id}/release"): allow("dsl", scope=OWNER),
}

RECORD = "/v1/disclosures/{record_id}"
AUDIT: dict[Route, Rule] = {
    **COMMON,
    ("GET", "/v1/disclosures"): allow("ig_officer") | allow("partnership_ig", scope=ALL),
    ("GET", "/v1/disclosures.csv"): allow("ig_officer") | allow("partnership_ig", scope=ALL),
    ("GET", RECORD): allow("ig_officer", scope=OWNER) | allow("partnership_ig", scope=ALL),
    ("GET", f"{RECORD}/fhir"): allow("ig_officer", scope=OWNER) | allow("partnership_ig", scope=ALL),
    ("GET", "/v1/verify"): allow(*IG, scope=ALL),
    ("GET", "/v1/reconciliation"): allow("partnership_ig", scope=ALL),
    ("GET", "/v1/rejections"): allow(*MEMBER, *IG),
    ("GET", "/v1/deadletters"): allow("admin", scope=ALL),
    ("GET", "/v1/deadletters/{rejection_id}"): allow("admin", scope=ALL),
    ("POST", "/v1/deadletters/replay"): allow("admin", scope=ALL),
    **sign_in("/ig"),
    ("GET", "/ig/"): page("ig_officer") | page("partnership_ig", scope=ALL),
    ("GET", "/ig/disclosures.csv"): page("ig_officer") | page("partnership_ig", scope=ALL),
    ("GET", "/ig/disclosures/{record_id}"): page("ig_officer", scope=OWNER) | page("partnership_ig", scope=ALL),
    ("GET", "/ig/verify"): page(*IG, scope=ALL),
    ("POST", "/ig/verify"): page(*IG, scope=ALL),
}

GATEWAY: dict[Route, Rule] = {
    **COMMON,
    ("POST", "/v1/events"): allow(*MEMBER, scope=OWNER),  # each event's source must be the caller's
    ("GET", "/v1/events/types"): allow(*MEMBER, scope=ALL),
}

RULES: dict[str, dict[Route, Rule]] = {
    "referrals": REFERRALS,
    "register": REGISTER,
    "notifications": NOTIFICATIONS,
    "audit": AUDIT,
    "gateway": GATEWAY,
}

KNOWN_GAPS: dict[tuple[str, str, str], str] = {}
"""(service, method, path) -> the exact finding, for a route whose rule the app breaks today (the
test is marked xfail(strict=True), so it fails again once the app is fixed: then delete the line)."""
