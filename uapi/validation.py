"""Request validation mapped to the contract's error codes.

Connexion validates parameters and bodies against the spec but answers problem+json with raw
jsonschema text. These validators keep Connexion's checks and raise :class:`UapiError`
instead, with the `x-error-code` the spec writes beside the parameter or body field that
failed, and a short message in plain words.
"""
from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Callable
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.validators import VALIDATOR_MAP, FormDataValidator, JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, ValidationError
from jsonschema.exceptions import best_match

from uapi.errors import bad_request

REQUEST_INVALID = "request_invalid"
# Scope key under which parameter validation leaves the query and path parameters it parsed
# (Connexion's URI parser, the operation's own), for the handler's arguments to reuse.
PARSED_PARAMETERS = "uapi.parsed_parameters"
# NUL and lone surrogates: valid in a Python str (JSON's "\u0000", "\ud800"), but PostgreSQL text
# and JSONB cannot hold them (UntranslatableCharacter) and UTF-8 cannot encode a lone surrogate.
# No field of the contract has a use for them, so they are refused like any malformed value.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_REASON = "contains a character that is not allowed (NUL or a lone surrogate)"


def unstorable_path(value: Any, schema: Any = None, path: tuple[Any, ...] = ()) -> list[Any] | None:
    """The path of the first string in `value` that the stores cannot keep.

    With a `schema`, only the properties it declares are looked into: undeclared ones are
    ignored by the server (never stored), and refusing them would refuse schema-valid input.
    """
    if isinstance(value, str):
        return list(path) if UNSTORABLE.search(value) else None
    declared = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if declared is not None and key not in declared:
                continue
            found = unstorable_path(item, declared.get(key) if declared else None, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        items = schema.get("items") if isinstance(schema, dict) else None
        for index, item in enumerate(value):
            found = unstorable_path(item, items, (*path, index))
            if found is not None:
                return found
    return None


def describe(error: ValidationError) -> str:
    """A plain-words reason for a jsonschema failure, without echoing the schema."""
    kind = error.validator
    value = error.validator_value
    reasons = {
        "type": f"must be of type {value}",
        "pattern": "has an invalid format",
        "enum": "must be one of " + ", ".join(map(str, value)) if isinstance(value, list) else "is not allowed",
        "minimum": f"must be at least {value}",
        "maximum": f"must be at most {value}",
        "minLength": f"must have at least {value} characters",
        "maxLength": f"must have at most {value} characters",
        "minItems": f"must have at least {value} items",
        "maxItems": f"must have at most {value} items",
        "required": "is required",
        "oneOf": "is neither a number nor a list of numbers",
        "format": f"must be a valid {value}",
    }
    return reasons.get(str(kind), "is invalid")


_parameter_validators: dict[int, tuple[dict[str, Any], Draft4Validator]] = {}


def _validator_for(schema: dict[str, Any]) -> Draft4Validator:
    """One compiled validator per parameter schema; the spec's dicts live as long as the app."""
    cached = _parameter_validators.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = (schema, Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER))
        _parameter_validators[id(schema)] = cached
    return cached[1]


# Keywords a simple parameter schema may hold and `simple_check` reads (the others are annotations
# to Draft 4: they never fail a value). A schema with any other keyword is checked by jsonschema only.
_ANNOTATIONS = frozenset({"description", "example", "default", "title"})
_SIMPLE_KEYWORDS = {
    "string": frozenset({"type", "pattern", "minLength", "maxLength", "enum"}) | _ANNOTATIONS,
    "integer": frozenset({"type", "minimum", "maximum"}) | _ANNOTATIONS,
    "boolean": frozenset({"type"}) | _ANNOTATIONS,
}


def simple_check(param: dict[str, Any]) -> Callable[[Any], bool] | None:
    """A check compiled from a parameter's simple schema, or None when the schema is not simple.

    The check answers True only for a value `UapiParameterValidator.validate_parameter` passes
    (absent and not required; or a string the stores can keep, of the schema's lengths, matching
    its pattern the way jsonschema does (`re.search`), among its enum; an int (not a bool) within
    its bounds; a bool). False means "not known to be valid": the value then takes the full
    check, which finds the failure and words it.
    """
    schema = param.get("schema", param)
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    allowed = _SIMPLE_KEYWORDS.get(kind) if isinstance(kind, str) else None
    if allowed is None or not set(schema) <= allowed:
        return None
    required = bool(param.get("required"))
    if kind == "boolean":
        def check_boolean(value: Any) -> bool:
            return not required if value is None else type(value) is bool
        return check_boolean
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if not all(bound is None or type(bound) in (int, float) for bound in (low, high)):
            return None

        def check_integer(value: Any) -> bool:
            if value is None:
                return not required
            return (type(value) is int and (low is None or value >= low)
                    and (high is None or value <= high))
        return check_integer
    pattern, shortest, longest, enum = (schema.get("pattern"), schema.get("minLength"), schema.get("maxLength"),
                                        schema.get("enum"))
    if (pattern is not None and not isinstance(pattern, str)) \
            or not all(length is None or type(length) is int for length in (shortest, longest)) \
            or (enum is not None and not (isinstance(enum, list) and all(type(each) is str for each in enum))):
        return None
    search = re.compile(pattern).search if pattern is not None else None
    choices = frozenset(enum) if enum is not None else None
    unstorable = UNSTORABLE.search

    def check_string(value: Any) -> bool:
        if value is None:
            return not required
        return (type(value) is str and unstorable(value) is None
                and (shortest is None or len(value) >= shortest) and (longest is None or len(value) <= longest)
                and (search is None or search(value) is not None) and (choices is None or value in choices))
    return check_string


class UapiParameterValidator(ParameterValidator):  # type: ignore[misc]  # connexion ships no type information
    """Parameter checks that fail with the parameter's `x-error-code`."""

    def __init__(self, parameters: list[dict[str, Any]], *args: Any, **kwargs: Any) -> None:
        # Connexion 3.3 appends a path's own parameters to the operation's list in place, once
        # for every middleware that reads the operation: six copies of userId, extension and
        # phoneCallId, each validated on every request. A parameter is its (in, name); the first
        # one is the operation's own, which OpenAPI lets override the path's.
        unique: dict[tuple[str, str], dict[str, Any]] = {}
        for param in parameters:
            unique.setdefault((param["in"], param["name"]), param)
        super().__init__(list(unique.values()), *args, **kwargs)
        # Each query and path parameter with its check compiled once from its schema (None: the
        # full check only). Connexion's order: query parameters, then path ones.
        self._compiled = {place: [(param, param["name"] if place == "query" else param["name"].replace("-", "_"),
                                   simple_check(param)) for param in self.parameters.get(place, [])]
                          for place in ("query", "path")}

    def validate_request(self, request: Any) -> None:
        """Connexion's `validate_request`, with values a compiled check passes not checked again.

        Values are read as Connexion reads them (the request's parsed and coerced query and path
        parameters); a value the compiled check does not pass goes through `validate_parameter`,
        which raises the error (Connexion's own handling of a returned message is kept).
        """
        if self.strict_validation:   # the extra-parameter check first, as Connexion does
            super().validate_request(request)
            return
        parsed: dict[str, Any] = {}
        for place in ("query", "path"):
            compiled = self._compiled[place]
            if not compiled:
                continue
            values = parsed[place] = request.query_params if place == "query" else request.path_params
            for param, name, check in compiled:
                value = values.get(name)
                if check is None or not check(value):
                    error = self.validate_parameter(place, value, param)
                    if error:
                        raise BadRequestProblem(detail=error)
        for place, validate in (("header", self.validate_header_parameter), ("cookie", self.validate_cookie_parameter)):
            for param in self.parameters.get(place, []):
                error = validate(param, request)
                if error:
                    raise BadRequestProblem(detail=error)
        request.scope[PARSED_PARAMETERS] = parsed

    @staticmethod
    def validate_parameter(parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None) -> None:
        code = param.get("x-error-code", REQUEST_INVALID)
        name = param.get("name", param_name or "parameter")
        if value is None:
            if param.get("required"):
                raise bad_request(code, f"The {parameter_type} parameter {name} is required.")
            return
        if unstorable_path(value) is not None:
            raise bad_request(code, f"The {parameter_type} parameter {name} {UNSTORABLE_REASON}.")
        errors = list(_validator_for(param.get("schema", param)).iter_errors(value))
        if errors:
            raise bad_request(code, f"The {parameter_type} parameter {name} {describe(best_match(errors))}.")


class UapiJSONBodyValidator(JSONRequestBodyValidator):  # type: ignore[misc]  # connexion ships no type information
    """Body checks: bytes that are not UTF-8 JSON, and fields with their `x-error-code`."""

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Any) -> Any:
        raw = b"".join([chunk async for chunk in stream])
        if not raw.strip():
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_request(REQUEST_INVALID, "The request body is not UTF-8.") from None
        try:
            return json.loads(text, parse_constant=_not_json)
        except json.JSONDecodeError as exc:
            raise bad_request(REQUEST_INVALID, f"The request body is not valid JSON ({exc.msg} at line {exc.lineno}).") from None
        except ValueError as exc:  # NaN / Infinity: Python reads them, JSON has no such values
            raise bad_request(REQUEST_INVALID, f"The request body is not valid JSON ({exc}).") from None
        except RecursionError:
            raise bad_request(REQUEST_INVALID, "The request body is nested too deeply.") from None

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if body is None:
            raise bad_request(REQUEST_INVALID, "A JSON request body is required.")
        if not isinstance(body, dict):
            raise bad_request(REQUEST_INVALID, "The request body must be a JSON object.")
        bad = unstorable_path(body, self._schema)
        if bad is not None:
            raise bad_request(_field_code(self._schema, bad), f"The body field {_dotted(bad)} {UNSTORABLE_REASON}.")
        failure = _first_failure(self._validator, body)
        if failure is None:
            return None
        error, path = failure
        raise bad_request(_field_code(self._schema, path), f"The body field {_dotted(path)} {describe(error)}.")


class UapiFormBodyValidator(FormDataValidator):  # type: ignore[misc]  # connexion ships no type information
    """Form bodies (the token endpoint): a missing field is the body's code, a bad one its own.

    Under /oauth the codes are RFC 6749's (`unsupported_grant_type` on `grant_type`); a missing
    field is `invalid_request` there, which is what the body-level `request_invalid` becomes.
    """

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if not isinstance(body, dict):
            raise bad_request(REQUEST_INVALID, "The request body must be a form.")
        failure = _first_failure(self._validator, body)
        if failure is None:
            return None
        error, path = failure
        if error.validator == "required":
            raise bad_request(self._schema.get("x-error-code", REQUEST_INVALID), f"The form field {_dotted(path)} is required.")
        raise bad_request(_field_code(self._schema, path), f"The form field {_dotted(path)} {describe(error)}.")


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _first_failure(validator: Any, body: dict[str, Any]) -> tuple[ValidationError, list[Any]] | None:
    """The most relevant failure and the path of the field it names (a missing one included)."""
    errors = list(validator.iter_errors(body))
    if not errors:
        return None
    error = best_match(errors)
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        path.append(missing[0] if missing else "")
    return error, path


def _field_code(schema: dict[str, Any], path: list[Any]) -> str:
    """The `x-error-code` of the deepest schema node on `path` that declares one."""
    code: str = schema.get("x-error-code", REQUEST_INVALID)
    node: Any = schema
    for step in path:
        if not isinstance(node, dict):
            break
        if isinstance(step, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(step, {})
        if isinstance(node, dict) and "x-error-code" in node:
            code = node["x-error-code"]
    return code


def _dotted(path: list[Any]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "(body)"


VALIDATORS = {
    **VALIDATOR_MAP,
    "parameter": UapiParameterValidator,
    "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": UapiJSONBodyValidator,
                           "application/x-www-form-urlencoded": UapiFormBodyValidator}),
}

