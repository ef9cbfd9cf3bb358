from datetime import date

import pytest
from isp_schemas import OrgId
from isp_schemas.people import Child, Person, make_nhs_number, nhs_check_digit, valid_nhs_number
from pydantic import BaseModel, TypeAdapter, ValidationError


@pytest.mark.parametrize("number", ["9434765919", "9434765870", "9990000018"])
def test_valid_nhs_numbers_pass_modulus_11(number):
    assert valid_nhs_number(number)
    assert Person(nhs_number=number).nhs_number == number


@pytest.mark.parametrize(
    "number",
    ["9434765918", "943476591", "94347659190", "943 476 5919", "943476591X", "", "abcdefghij"],
)
def test_invalid_nhs_numbers_are_rejected(number):
    assert not valid_nhs_number(number)
    with pytest.raises(ValidationError):
        Person(nhs_number=number)


def test_check_digit_of_ten_means_no_valid_number():
    # 4*10 + 8*2 = 56; 56 mod 11 = 1; 11 - 1 = 10: never issued
    assert nhs_check_digit("400000008") is None
    assert make_nhs_number("400000008") is None
    assert not any(valid_nhs_number(f"400000008{d}") for d in range(10))


def test_check_digit_of_eleven_becomes_zero():
    # 4*10 + 2*2 = 44; 44 mod 11 = 0; 11 - 0 = 11 -> 0
    assert nhs_check_digit("400000002") == 0
    assert valid_nhs_number("4000000020")


def test_make_nhs_number_completes_a_valid_number():
    assert make_nhs_number("943476591") == "9434765919"


def test_modulus_11_failure_message_names_the_check_not_the_number():
    with pytest.raises(ValidationError) as exc:
        Person(nhs_number="9434765918")
    message = exc.value.errors()[0]["msg"]
    assert "fails the modulus 11 check" in message
    assert "9434765918" not in message


def test_non_digit_nhs_number_message_says_ten_digits():
    with pytest.raises(ValidationError) as exc:
        Person(nhs_number="943 476 5919")
    assert "exactly 10 digits" in exc.value.errors()[0]["msg"]


def test_person_needs_only_an_nhs_number():
    person = Person(nhs_number="9434765919")
    assert person.given_name is None and person.date_of_birth is None


def test_unborn_child_has_a_due_date_and_no_birth_date():
    child = Child(expected_due_date=date(2026, 2, 1))
    assert child.unborn


def test_born_child_is_not_unborn():
    assert not Child(local_id="C1", date_of_birth=date(2019, 3, 14)).unborn


def test_child_with_both_birth_and_due_date_is_rejected():
    with pytest.raises(ValidationError, match="not both"):
        Child(local_id="C1", date_of_birth=date(2019, 3, 14), expected_due_date=date(2019, 3, 1))


def test_child_needs_an_identifier():
    with pytest.raises(ValidationError, match="at least one identifier"):
        Child(date_of_birth=date(2019, 3, 14))


@pytest.mark.parametrize(
    "child",
    [{"nhs_number": "9434765870"}, {"local_id": "C1"}, {"expected_due_date": "2026-02-01"}],
)
def test_any_one_identifier_identifies_a_child(child):
    Child.model_validate(child)


def test_child_nhs_number_is_checked():
    with pytest.raises(ValidationError, match="modulus 11"):
        Child(nhs_number="9434765871")


@pytest.mark.parametrize("org", ["CGL-WSX", "WSCC-CSC", "A1", "X" * 32])
def test_valid_org_ids(org):
    assert TypeAdapter(OrgId).validate_python(org) == org


@pytest.mark.parametrize("org", ["cgl-wsx", "-CGL", "A", "X" * 33, "CGL WSX", "CGL_WSX", ""])
def test_invalid_org_ids(org):
    with pytest.raises(ValidationError, match="not an organisation id"):
        TypeAdapter(OrgId).validate_python(org)


def test_unknown_fields_are_refused_by_name():
    class Holder(BaseModel):
        person: Person

    with pytest.raises(ValidationError) as exc:
        Holder.model_validate({"person": {"nhs_number": "9434765919", "pronouns": "they"}})
    assert [(e["loc"], e["type"]) for e in exc.value.errors()] == [(("person", "pronouns"), "extra_forbidden")]
