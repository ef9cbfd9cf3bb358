"""Issue 11's findings, each with the test that proves it closed: an index from the finding (quoted)
to test node ids, checked here so that a test renamed or removed breaks the index, not silently the
proof. Findings played on the bus are tested in this directory (:mod:`.test_bus_forgery`); the
others where their fix lives. A finding with no test yet is a strict xfail naming it, so adding its
test and forgetting the index fails too.

Run ``python -m tests.security.test_index`` for the table (finding, tests) in markdown.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUS = "tests/security/test_bus_forgery.py"
SETTINGS = "services/common/tests/test_settings.py"
WEBHOOKS = "services/notifications/tests/api/test_webhook_audience_api.py"
ADDRESSES = "services/notifications/tests/unit/test_webhook_addresses.py"
PAGES = "services/common/tests/test_pages.py"

FINDINGS: dict[str, tuple[str, list[str]]] = {
    # -- The broker trusts everyone ---------------------------------------------------------
    "consent_widened": (
        'Anyone who can publish can widen another organisation\'s consent to ["*"]',
        [f"{BUS}::test_finding_consent_widened", f"{BUS}::test_finding_consent_widened_by_a_partner_signing_as_itself"],
    ),
    "consent_withdrawn": (
        "... or withdraw it",
        [
            f"{BUS}::test_finding_consent_withdrawn",
            f"{BUS}::test_finding_consent_withdrawn_by_a_partner_signing_as_itself",
        ],
    ),
    "s47_enquiry_or_plan_closed": (
        "close another organisation's s47 enquiry or plan",
        [
            f"{BUS}::test_finding_s47_enquiry_or_plan_closed",
            f"{BUS}::test_finding_s47_enquiry_or_plan_closed_by_a_partner_signing_as_itself",
        ],
    ),
    "emergency_referral_planted": (
        "plant an open emergency referral on any NHS number, which is a standing significant_harm ground",
        [f"{BUS}::test_finding_emergency_referral_planted"],
    ),
    "appointment_forged": (
        "rebook, or mark missed, another provider's appointment (the referrals handlers never compare the "
        "publisher with referral.to_org)",
        [f"{BUS}::test_finding_appointment_forged", f"{BUS}::test_finding_appointment_of_another_provider"],
    ),
    "audit_record_preempted": (
        "pre-empt a genuine audit record by publishing a forged one with the same (deterministic, uuid5) alert id",
        [f"{BUS}::test_finding_audit_record_preempted"],
    ),
    # -- Self-asserted grounds over HTTP ----------------------------------------------------
    "self_asserted_emergency": (
        "A provider user can POST a referral to_treatment at threshold emergency and so become the social care "
        "organisation working with any parent",
        [
            "services/referrals/tests/api/test_referral_authority.py::"
            "test_a_provider_referring_to_treatment_at_emergency_is_refused_naming_the_threshold",
        ],
    ),
    # -- One oversized row stops a service --------------------------------------------------
    "oversized_row": (
        "A referral with a 2 MB summary makes the relay's send raise MessageSizeTooLargeError on the same first "
        "row for ever",
        [
            "services/common/tests/test_outbox_quarantine.py::"
            "test_a_2mb_row_is_quarantined_and_the_rows_behind_it_audit_records_included_are_published_in_order",
            "services/common/tests/test_limits.py::test_a_string_over_20000_characters_is_invalid_and_named_not_shown",
        ],
    ),
    # -- Production fails open -------------------------------------------------------------
    "no_jwks": (
        "Without a JWKS URL it only logs a warning",
        [
            f"{SETTINGS}::test_production_fails_closed_naming_what_to_change",
            f"{SETTINGS}::test_a_service_in_production_with_a_problem_refuses_to_start",
        ],
    ),
    "aud_iss_optional": (
        "aud and iss are checked only if configured",
        [
            f"{SETTINGS}::test_production_fails_closed_naming_what_to_change",
            "services/common/tests/test_auth.py::test_audience_and_issuer_are_checked_when_configured",
        ],
    ),
    "default_partnership_key": (
        "compose's default partnership key passes the settings check (pseudonyms reversible)",
        [
            f"{SETTINGS}::test_production_fails_closed_naming_what_to_change",
            f"{SETTINGS}::test_production_refuses_the_public_embedded_partnership_key",
        ],
    ),
    "shared_key_directory": (
        "the JWT private key and the audit checkpoint key share a directory on a volume mounted in all four containers",
        [
            "services/audit/tests/unit/test_production_settings.py::"
            "test_the_audit_checkpoint_key_is_kept_apart_and_private",
            "services/common/tests/test_eventkeys.py::test_a_key_others_can_read_is_refused",
            "services/gateway/tests/api/test_events_api.py::test_the_gateway_key_is_private_to_its_owner",
        ],
    ),
    "postgres_superuser": (
        "every service connects as the PostgreSQL superuser, so any of them can drop the audit triggers",
        [
            f"{SETTINGS}::test_production_fails_closed_naming_what_to_change",
            "services/common/tests/test_pgroles.py::"
            "test_each_service_works_as_its_runtime_role_and_cannot_change_its_schema",
            "services/audit/tests/integration/test_pg_privileges.py::"
            "test_the_runtime_role_inserts_reads_and_erases_records_but_may_not_change_them",
        ],
    ),
    "environment_defaults_to_embedded": (
        "ISP_ENVIRONMENT defaults to embedded",
        [
            f"{SETTINGS}::test_a_service_never_assumes_where_it_runs",
            f"{SETTINGS}::test_a_service_process_refuses_to_start_before_touching_anything",
            "tests/test_deployment.py::test_compose_environment_names_are_settings_the_code_reads",
        ],
    ),
    # -- Webhooks ----------------------------------------------------------------------------
    "heartbeat_address": (
        "Heartbeats skip the per-attempt address check",
        [f"{ADDRESSES}::test_a_heartbeat_checks_the_address_too"],
    ),
    "is_private": (
        "the check uses is_private (100.64.0.0/10 passes)",
        [f"{ADDRESSES}::test_in_production_an_address_that_is_not_globally_routable_is_refused"],
    ),
    "no_pinning": (
        "httpx resolves again without pinning",
        [f"{ADDRESSES}::test_the_transport_connects_to_the_address_it_resolved_keeping_the_host_name"],
    ),
    "attempts_oracle": (
        "the attempts API shows the subscriber status, error and duration (a port-scan oracle)",
        [f"{WEBHOOKS}::test_the_delivery_log_shows_only_when_which_event_and_delivered_or_failed"],
    ),
    "plain_secrets": (
        "secrets are stored in plain text",
        [f"{WEBHOOKS}::test_a_secret_is_stored_sealed_never_in_plain_text"],
    ),
    "secret_rotation": (
        "[secrets] cannot be rotated",
        [f"{WEBHOOKS}::test_a_rotated_secret_signs_beside_the_new_one_until_the_overlap_ends"],
    ),
    "subscription_cap": (
        "no cap on subscriptions per organisation",
        [f"{WEBHOOKS}::test_an_organisation_has_at_most_its_cap_of_subscriptions"],
    ),
    # -- Audience ----------------------------------------------------------------------------
    "dsl_alerts_any_role": (
        "Any role in an organisation reads its DSL's alerts (register_cross_area, disclosure_withheld, escalations)",
        [f"{WEBHOOKS}::test_the_dsls_alerts_exist_only_for_role_dsl"],
    ),
    "route_everything": (
        'and can route all of them to any URL with types: ["*"]',
        [f"{WEBHOOKS}::test_only_a_dsl_subscribes_to_the_dsls_types_and_anyone_elses_star_leaves_them_out"],
    ),
    "admin_subscribes": (
        "admin may subscribe",
        [f"{WEBHOOKS}::test_an_admin_or_ig_officer_cannot_subscribe"],
    ),
    # -- Audit ------------------------------------------------------------------------------
    "erase_before_now": (
        "isp audit erase --before now erases every record's personal fields and verify still passes",
        [
            "services/audit/tests/unit/test_erasure_chain.py::"
            "test_the_cli_refuses_erase_before_now_and_a_retention_below_the_setting",
            "services/audit/tests/unit/test_erasure_chain.py::"
            "test_a_premature_erasure_written_directly_to_the_database_fails_verify_naming_it",
        ],
    ),
    "erasures_unchained": (
        "erasures are not chained",
        [
            "services/audit/tests/unit/test_erasure_chain.py::test_erasures_past_retention_chain_and_verify",
            "services/audit/tests/unit/test_erasure_chain.py::test_tampering_with_an_erasure_fails_verify_naming_it",
        ],
    ),
    # -- Personal data in the wrong places ---------------------------------------------------
    "error_text": (
        "str(exc) of handler errors goes into the isp-error header and the log: pydantic errors carry the input values",
        [
            "services/common/tests/test_event_batches.py::"
            "test_a_handler_errors_personal_data_never_reaches_the_dead_letter_reason",
            "tests/e2e/test_no_personal_data.py::test_no_personal_data_in_any_dead_letter_header",
            "tests/e2e/test_no_personal_data.py::test_no_personal_data_in_any_log_line",
        ],
    ),
    "sql_parameters": (
        "SQLAlchemy errors carry parameters (hide_parameters is not set)",
        [
            "services/common/tests/test_event_batches.py::"
            "test_a_handler_errors_personal_data_never_reaches_the_dead_letter_reason"
        ],
    ),
    # -- Pages -------------------------------------------------------------------------------
    "ig_origin": (
        "The /ig form posts have no Origin check",
        ["services/audit/tests/api/test_pages.py::test_sign_out_is_a_form_post_from_this_site_only"],
    ),
    "origin_null": (
        "the register pages accept Origin: null",
        [
            f"{PAGES}::test_a_post_from_anywhere_but_this_site_is_refused",
            "services/register/tests/api/test_dsl_pages.py::test_a_post_from_another_site_is_refused",
        ],
    ),
    "page_headers": (
        "no CSP, no-store or frame-ancestors on pages that show personal data",
        [
            f"{PAGES}::test_every_page_response_carries_the_security_headers",
            "services/audit/tests/api/test_pages.py::test_every_ig_page_carries_the_security_headers",
        ],
    ),
    "docs_cdn": (
        "/docs loads scripts from a CDN on the pages' origin",
        [
            "services/common/tests/test_docs.py::test_the_api_documentation_loads_every_asset_from_the_service_itself",
            "services/common/tests/test_docs.py::"
            "test_the_api_documentation_renders_in_a_browser_with_no_request_leaving_the_service",
        ],
    ),
    "body_before_token": (
        "Bodies are parsed before the token is checked",
        [
            f"{PAGES}::test_the_sign_in_is_checked_before_the_form_is_read",
            "services/referrals/tests/api/test_body_limit.py::"
            "test_every_service_refuses_an_oversized_body_before_the_token_is_checked",
        ],
    ),
    "body_size": (
        "no body-size limit",
        [
            "services/common/tests/test_limits.py::test_a_declared_body_over_the_limit_is_refused_before_the_route_reads_it",
            "services/common/tests/test_limits.py::test_a_chunked_body_over_the_limit_is_cut_off_and_refused",
        ],
    ),
    "verify_rate_limit": (
        "/v1/verify has no rate limit",
        [
            "services/audit/tests/api/test_verify_retention.py::test_whole_chain_verification_is_rate_limited_per_organisation"
        ],
    ),
}
"""Each finding of issue 11 by short name: its words, and the tests that fail on the code as it was
and pass now (an empty list: no test yet)."""

MISSING: dict[str, str] = {}


@functools.cache
def _defined(path: str) -> frozenset[str]:
    """The test functions a module defines (``name`` or ``Class::name``)."""
    tree = ast.parse((ROOT / path).read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return frozenset(names)


def _cases() -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=MISSING[name])) if name in MISSING else name
        for name in FINDINGS
    ]


@pytest.mark.parametrize("finding", _cases())
def test_finding_has_a_test(finding: str) -> None:
    """Every finding names at least one test, and each named test exists (file and function)."""
    _words, node_ids = FINDINGS[finding]
    assert node_ids, f"{finding}: no test names this finding"
    for node_id in node_ids:
        path, _, name = node_id.partition("::")
        assert (ROOT / path).is_file(), f"{finding}: {path} does not exist"
        assert name in _defined(path), f"{finding}: {path} defines no {name}"


def test_finding_the_bus_tests_are_all_indexed() -> None:
    """Every ``test_finding_`` of the bus suite is named by a finding (none is left out of the index)."""
    named = {node_id.partition("::")[2] for _words, ids in FINDINGS.values() for node_id in ids}
    suite = {name for name in _defined(BUS) if name.startswith("test_finding_")}
    assert suite and suite <= named, sorted(suite - named)


def markdown() -> str:
    """The index as a markdown table (finding, tests)."""
    lines = ["| finding | tests |", "|---|---|"]
    for name, (words, node_ids) in FINDINGS.items():
        tests = "<br>".join(f"`{node_id}`" for node_id in node_ids) or f"none yet ({MISSING.get(name, '')})"
        lines.append(f"| {words} | {tests} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
