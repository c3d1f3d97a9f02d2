"""Connexion's OpenAPI URI parser with its tables and casts kept (AsyncApp's `uri_parser_class`)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from connexion.uri_parsing import OpenAPIURIParser
from connexion.utils import boolean, is_nullable

# Connexion 3.3's coerce_type casts integer, number and boolean values ("object" is no scalar);
# a value the cast refuses (ValueError, then TypeValidationError, which resolve_params ignores,
# or TypeError) stays as it came, for validation to refuse. Any other type keeps its value.
COERCIONS: dict[Any, Callable[[Any], Any]] = {"integer": int, "number": float, "boolean": boolean}
_UNKNOWN: Any = object()
_KEEP: Any = object()


def _coercion(cast: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    if cast is None:
        return _KEEP   # type: ignore[no-any-return]

    def coerce(value: Any) -> Any:
        try:
            return cast(value)
        except (ValueError, TypeError):
            return value
    return coerce


class OnceURIParser(OpenAPIURIParser):  # type: ignore[misc]
    """Connexion's OpenAPI URI parser with its name-to-schema tables built once.

    `param_schemas` and `form_defns` are properties that rebuild a dict from the parameter
    definitions at every use, and the parser uses them several times per parameter of every
    request (in validation, 6 of the 28 us a list page's parameters took). The definitions are
    fixed when the parser is built (Connexion's AsyncApp option `uri_parser_class`).
    """

    @functools.cached_property
    def param_schemas(self) -> dict[str, Any]:
        schemas: dict[str, Any] = super().param_schemas
        return schemas

    @functools.cached_property
    def form_defns(self) -> dict[str, Any]:
        definitions: dict[str, Any] = super().form_defns
        return definitions

    @functools.cached_property
    def _no_deep_objects(self) -> bool:
        return all(definition.get("style") != "deepObject" for definition in self.param_defns.values())

    @functools.cached_property
    def _casts(self) -> dict[str, Callable[[Any], Any] | None]:
        """Per parameter, what `resolve_params` does to its last value when its schema is a
        scalar one that is not nullable (None: Connexion's own path)."""
        casts: dict[str, Callable[[Any], Any] | None] = {}
        for name, definition in self.param_defns.items():
            schema = definition.get("schema")
            kind = schema.get("type") if isinstance(schema, dict) else None
            if kind is None or kind in ("array", "object") or is_nullable(schema) or is_nullable(definition):
                casts[name] = None
            else:
                casts[name] = _coercion(COERCIONS.get(kind))
        return casts

    def resolve_query(self, query_data: dict[str, Any]) -> Any:
        # Without a deepObject parameter, `_preprocess_deep_objects` answers its input, key for
        # key in the same order (no key is a deep object's), so it is skipped.
        if self._no_deep_objects:
            return self.resolve_params(query_data, "query")
        return super().resolve_query(query_data)

    def resolve_params(self, params: dict[str, Any], _in: str) -> Any:
        """Connexion's `resolve_params` with scalar parameters cast by their kept cast."""
        casts = self._casts
        resolved: dict[str, Any] = {}
        fallback: dict[str, Any] = {}
        for name, values in params.items():
            cast = casts.get(name, _UNKNOWN)
            if cast is _UNKNOWN or cast is None:   # undeclared (kept as is) or not a scalar one
                fallback[name] = values
                resolved[name] = None   # keeps the key's place in the order
                continue
            value = values if _in == "path" else values[-1]
            resolved[name] = value if cast is _KEEP else cast(value)
        if fallback:
            resolved.update(super().resolve_params(fallback, _in))
        return resolved
