"""The spec core reads YAML as the JSON it stands for and names unfollowable references one way."""
from __future__ import annotations

import re

import pytest

from uapi.spec_core import ReferenceProblem, SpecError, parse_spec, resolve

DOCUMENT = """\
openapi: 3.0.3
paths: {}
components:
  schemas:
    Call:
      example: {started: 2024-05-01T10:00:00Z, day: 2024-05-01}
  responses:
    Ok:
      description: ok
    200: {$ref: '#/components/responses/Ok'}
"""


def test_yaml_reads_as_json_values() -> None:
    document = parse_spec(DOCUMENT, "spec.yaml")
    assert document["components"]["schemas"]["Call"]["example"] == {"started": "2024-05-01T10:00:00Z",
                                                                    "day": "2024-05-01"}
    assert "200" in document["components"]["responses"]   # YAML's integer key, as JSON means it


def test_resolve_answers_the_target_and_where_it_is_defined() -> None:
    document = parse_spec(DOCUMENT, "spec.yaml")
    node, where = resolve(document, {"$ref": "#/components/responses/200"}, "#/paths")
    assert (node, where) == ({"description": "ok"}, "#/components/responses/Ok")


@pytest.mark.parametrize(("ref", "says"), [
    ("other.yaml#/x", "only local references are supported, got 'other.yaml#/x'"),
    ("#/components/schemas/Nowhere", "reference '#/components/schemas/Nowhere' points nowhere"),
    (7, "$ref must be a string"),
])
def test_unfollowable_references_are_named(ref: object, says: str) -> None:
    with pytest.raises(ReferenceProblem, match=f"^{re.escape(says)}$"):
        resolve(parse_spec(DOCUMENT, "spec.yaml"), {"$ref": ref})


def test_parse_errors_name_the_file_and_line() -> None:
    with pytest.raises(SpecError, match=r"^cannot parse spec\.yaml:2:"):
        parse_spec("openapi: 3.0.3\n  bad: [\n", "spec.yaml")
    with pytest.raises(SpecError, match=r"^cannot parse spec\.json:1:"):
        parse_spec("{nope", "spec.json")
