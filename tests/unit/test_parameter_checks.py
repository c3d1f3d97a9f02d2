"""The compiled parameter checks (uapi.validation.simple_check) agree with the full check.

A value the compiled check passes skips jsonschema: it must be one the full check passes.
Every parameter of the contract gets a compiled check, and both agree on values near each
schema's edges and on generated ones.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uapi.errors import UapiError
from uapi.spec_core import DEFAULT_SPEC, load_spec
from uapi.validation import UapiParameterValidator, simple_check

SPEC = load_spec(DEFAULT_SPEC)
PARAMETERS = list(SPEC["components"]["parameters"].values())

SAMPLES = ["", " ", "0", "1", "20", "-1", "+3", "5000", "5001", "1.5", "true", "True", "@me", "@self",
           "0003*210", "210", "1*2", "1" * 16, "1" * 17, "a" * 64, "a" * 65, "a-b", "id", "id,extension",
           "id,nope", "ascending", "descending", "published", "equals", "inArray", " 123", "+123", "x\x00",
           "\ud800", "é", "٣", "id\n", "\nid", "x" * 2048, "x" * 2049,
           None, 0, 1, -1, 20, 5000, 5001, 600, 601, 86400, 86401, True, False, 1.0, 1.5]


def full_check_passes(param, value):
    try:
        UapiParameterValidator.validate_parameter(param["in"], value, param)
    except UapiError:
        return False
    return True


def test_every_parameter_of_the_contract_has_a_compiled_check():
    assert all(simple_check(param) is not None for param in PARAMETERS)


@pytest.mark.parametrize("param", PARAMETERS, ids=[p["name"] for p in PARAMETERS])
def test_the_compiled_check_agrees_with_the_full_one(param):
    check = simple_check(param)
    for value in SAMPLES:
        assert check(value) == full_check_passes(param, value), (param["name"], value)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PARAMETERS), st.one_of(st.text(max_size=80), st.integers(-10, 100_000), st.booleans(),
                                              st.from_regex(r"^[0-9@*a-z,+ ]{0,20}$", fullmatch=True)))
def test_the_compiled_check_agrees_on_generated_values(param, value):
    assert simple_check(param)(value) == full_check_passes(param, value)


def test_a_schema_with_other_keywords_is_left_to_the_full_check():
    assert simple_check({"name": "x", "in": "query", "schema": {"type": "string", "format": "date-time"}}) is None
    assert simple_check({"name": "x", "in": "query", "schema": {"type": "integer", "exclusiveMinimum": True,
                                                                  "minimum": 0}}) is None
    assert simple_check({"name": "x", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}}) is None
    assert simple_check({"name": "x", "in": "query", "schema": {"type": "string", "nullable": True}}) is None
    assert simple_check({"name": "x", "in": "query", "schema": {"type": "string", "enum": ["a", 1]}}) is None
