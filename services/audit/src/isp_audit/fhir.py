"""A disclosure record as a FHIR R4 ``AuditEvent``, shaped after the IHE Basic Audit Log
Patterns (BALP) privacy-disclosure profiles: ``PrivacyDisclosure.Source`` for a share or a
withholding (recorded by the discloser's side), ``PrivacyDisclosure.Recipient`` for a
recipient's acknowledgement (``received``).

A share that replaces a withheld record (``supersedes``, v1.1) carries one more entity: ``what``
references the withheld record's own AuditEvent (``AuditEvent/<id>``, served at
``/v1/disclosures/<id>/fhir``), ``type`` is the FHIR resource type ``AuditEvent`` and
``description`` is ``supersedes``. A professional-judgement basis (v1.1) is an entity of type
``professional_judgement`` in ``urn:isp:lawful-basis`` naming the releasing DSL's user id (``by``),
with the DSL's reason in ``detail`` until it is erased with the personal fields.
"""

from __future__ import annotations

from typing import Any

DCM = "http://dicom.nema.org/resources/ontology/DCM"
BALP = "https://profiles.ihe.net/ITI/BALP"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ISP = "urn:isp"


def _org_agent(org: str, role_code: str, role_display: str, requestor: bool) -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": DCM, "code": role_code, "display": role_display}]},
        "who": {"identifier": {"system": ODS, "value": org}, "display": org},
        "requestor": requestor,
    }


def _basis_entity(basis: dict[str, Any]) -> dict[str, Any]:
    if basis.get("kind") == "professional_judgement":
        entity: dict[str, Any] = {
            "what": {"identifier": {"system": f"{ISP}:user", "value": basis.get("by", "")}},
            "type": {"system": f"{ISP}:lawful-basis", "code": "professional_judgement"},
            "description": f"professional judgement: {basis.get('by')}",
        }
        if basis.get("reason"):
            entity["detail"] = [{"type": "reason", "valueString": basis["reason"]}]
        return entity
    if basis.get("kind") == "consent":
        what = {"identifier": {"system": f"{ISP}:consent", "value": basis["consent_id"]}, "type": "Consent"}
        return {
            "what": what,
            "type": {"system": "http://hl7.org/fhir/resource-types", "code": "Consent"},
            "description": "consent",
        }
    return {
        "what": {"identifier": {"system": f"{ISP}:statutory-ground", "value": basis.get("ground", "")}},
        "type": {"system": f"{ISP}:lawful-basis", "code": "statutory"},
        "description": f"statutory: {basis.get('ground')}",
    }


PERSON_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"}
PATIENT_ROLE = {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"}
APPLICATION_SERVER = {
    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
    "code": "4",
    "display": "Application Server",
}


def _child_entity(child: dict[str, Any]) -> dict[str, Any]:
    ident = child.get("nhs_number") and {"system": NHS_NUMBER, "value": child["nhs_number"]}
    ident = ident or {"system": f"{ISP}:child-local-id", "value": child.get("local_id") or "unborn"}
    return {"what": {"identifier": ident}, "type": PERSON_TYPE, "description": "child"}


def _entities(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The person, the children, the alert, the lawful basis, the superseded record and the trace, in that order."""
    entities: list[dict[str, Any]] = []
    if record.get("person"):
        person = {"identifier": {"system": NHS_NUMBER, "value": record["person"]}}
        entities.append({"what": person, "type": PERSON_TYPE, "role": PATIENT_ROLE})
    entities.extend(_child_entity(child) for child in record.get("children") or [])
    entities.append(
        {
            "what": {"identifier": {"system": f"{ISP}:alert", "value": record["alert_id"]}},
            "type": {"system": f"{ISP}:event-type", "code": record.get("alert_type") or "alert"},
            "description": "data categories: " + ", ".join(record["data_categories"]),
        }
    )
    if record.get("lawful_basis"):
        entities.append(_basis_entity(record["lawful_basis"]))
    if record.get("supersedes"):
        entities.append(
            {
                "what": {"reference": f"AuditEvent/{record['supersedes']}"},
                "type": {"system": "http://hl7.org/fhir/resource-types", "code": "AuditEvent"},
                "description": "supersedes",
            }
        )
    if record.get("trace_id"):
        entities.append(
            {
                "what": {"identifier": {"value": record["trace_id"]}},
                "type": {"system": f"{BALP}/CodeSystem/BasicAuditEntityType", "code": "XrequestId"},
            }
        )
    return entities


def audit_event(record: dict[str, Any]) -> dict[str, Any]:
    received = record["decision"] == "received"
    kind = ("Recipient", "110107", "Import") if received else ("Source", "110106", "Export")
    return {
        "resourceType": "AuditEvent",
        "id": record["id"],
        "meta": {"profile": [f"{BALP}/StructureDefinition/IHE.BasicAudit.PrivacyDisclosure.{kind[0]}"]},
        "type": {"system": DCM, "code": kind[1], "display": kind[2]},
        "action": "R",
        "period": {"start": record["shared_at"], "end": record["shared_at"]},
        "recorded": record["recorded_at"],
        "outcome": "4" if record["decision"] == "withheld" else "0",
        "outcomeDesc": record["decision"],
        "purposeOfEvent": [
            {"coding": [{"system": f"{ISP}:purpose", "code": record["purpose"]}], "text": record["purpose"]}
        ],
        "agent": [
            _org_agent(record["discloser"], "110153", "Source Role ID", requestor=not received),
            _org_agent(record["recipient"], "110152", "Destination Role ID", requestor=received),
        ],
        "source": {"site": "ISP audit", "observer": {"display": "ISP audit service"}, "type": [APPLICATION_SERVER]},
        "entity": _entities(record),
    }
