"""The handler's arguments: parameter conversion, and the parameter and response decorators, per operation."""
from __future__ import annotations

import asyncio
import collections.abc
import copy
import functools
import logging
import types
from collections.abc import Callable
from typing import Any

from connexion.context import _context
from connexion.context import context as request_context
from connexion.context import operation as context_operation
from connexion.datastructures import NoContent
from connexion.decorators.parameter import (
    CONTEXT_NAME,
    AsyncParameterDecorator,
    _get_body_argument,
    _get_file_arguments,
    _get_query_defaults,
    _get_val_from_param,
    get_arguments,
    pythonic,
    unwrap_decorators,
)
from connexion.decorators.response import AsyncResponseDecorator
from connexion.exceptions import NonConformingResponseHeaders
from connexion.http_facts import FORM_CONTENT_TYPES
from connexion.operations import OpenAPIOperation
from connexion.utils import TYPE_MAP, deep_merge, extract_content_type, inspect_function_arguments, is_nullable

from uapi.connexion_tuning.media import is_json_media, media_type_of
from uapi.validation import PARSED_PARAMETERS

# Connexion converts every parameter name (camelCase to snake_case through `inflection`, three
# regular expressions) on every request, several times each. The names are the spec's and the
# request's query keys: a bounded cache answers each once (bounded: query keys come from clients).
pythonic_name = functools.lru_cache(maxsize=1024)(pythonic)


# Connexion's parameter decorator's logger, for the one line it writes above debug level.
parameter_log = logging.getLogger("connexion.decorators.parameter")


def _converter(definition: dict[str, Any]) -> Callable[[Any], Any]:
    """Connexion 3.3's `_get_val_from_param(value, definition)` for one parameter definition.

    For a schema that is neither nullable, an array nor a binary string, that function is the
    type's cast (`TYPE_MAP`), which is taken once; any other keeps Connexion's function.
    """
    schema = definition.get("schema", definition)
    kind = schema.get("type")
    if (kind in TYPE_MAP and kind != "array" and not is_nullable(schema)
            and not (kind == "string" and schema.get("format") == "binary")):
        cast: Callable[[Any], Any] = TYPE_MAP[kind]
        return cast
    return functools.partial(_from_definition, definition=definition)


def _from_definition(value: Any, *, definition: dict[str, Any]) -> Any:
    return _get_val_from_param(value, definition)


class OperationArguments:
    """Connexion 3.3's `get_arguments` for one operation, with what depends only on it found once.

    `get_arguments` rebuilds the operation's path and query definitions (from its parameter
    list), its query defaults (and deep-copies them) and its body schema on every request. The
    steps and Connexion's helpers for each are the same, in the same order; only these are kept.
    tests/unit/test_connexion_tuning.py compares both on every operation of the contract.
    """

    def __init__(self, operation: Any) -> None:
        self.operation = operation
        parameters = operation.parameters
        self.path_definitions = {param["name"]: param for param in parameters if param["in"] == "path"}
        self.query_definitions = {param["name"]: param for param in parameters if param["in"] == "query"}
        self.query_defaults = _get_query_defaults(self.query_definitions)
        self.path_converters = {name: _converter(param) for name, param in self.path_definitions.items()}
        self.query_converters = {name: _converter(param) for name, param in self.query_definitions.items()}
        # A default of an immutable type is shared safely; any other is copied, as Connexion does.
        self.copy_defaults = not all(type(value) in (int, float, str, bool, type(None))
                                     for value in self.query_defaults.values())
        self.trace = operation.method.upper() == "TRACE"
        # Without a request body, the body schema is {} whatever the content type.
        self.body_schema: dict[str, Any] | None = None if operation.is_request_body_defined else {}

    def __call__(self, *, path_params: dict[str, Any], query_params: dict[str, Any], body: Any, files: Any,
                 arguments: list[str], has_kwargs: bool, sanitize: Callable[[str], str],
                 content_type: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        converters = self.path_converters
        for name, value in path_params.items():   # Connexion's _get_path_arguments
            convert = converters.get(name)
            found[sanitize(name)] = value if convert is None else convert(value)
        defaults = self.query_defaults
        query_arguments = copy.deepcopy(defaults) if self.copy_defaults else dict(defaults)
        query_arguments = deep_merge(query_arguments, query_params)
        converters = self.query_converters
        for key, value in query_arguments.items():   # Connexion's _query_args_helper, without its debug lines
            sanitized_key = sanitize(key)
            if not has_kwargs and sanitized_key not in arguments:
                continue
            convert = converters.get(key)
            if convert is None:
                parameter_log.error("Function argument '%s' (non-sanitized: %s) not defined in specification",
                                    sanitized_key, key)
            else:
                found[sanitized_key] = convert(value)
        if self.trace:
            return found
        operation = self.operation
        found.update(_get_body_argument(body, operation=operation, arguments=arguments, has_kwargs=has_kwargs,
                                        sanitize=sanitize, content_type=content_type))
        body_schema = self.body_schema if self.body_schema is not None else operation.body_schema(content_type)
        found.update(_get_file_arguments(files, arguments, body_schema, has_kwargs))
        return found


class OperationParameterDecorator(AsyncParameterDecorator):  # type: ignore[misc]
    """Connexion's parameter decorator, with what it looks up per request looked up once.

    Connexion's wrapper reaches the operation through a context-local proxy at every use, reads
    the form (for files) of every request, and converts names with `pythonic`. This one keeps
    the operation it decorates for (`decorate` runs inside the operation's first request), reads
    the form only when the request has one (a form media type, which is when Starlette parses
    one), and converts names through `pythonic_name`. The handler's arguments are Connexion's
    own `get_arguments`, and the context's entries it takes, as before.
    """

    def __init__(self, *, framework: Any, pythonic_params: bool = False) -> None:
        super().__init__(framework=framework, pythonic_params=pythonic_params)
        if pythonic_params:
            self.sanitize_fn = pythonic_name

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        spec_operation = context_operation._get_current_object()
        arguments, has_kwargs = inspect_function_arguments(unwrap_decorators(function))
        sanitize = self.sanitize_fn
        wants_context = CONTEXT_NAME in arguments
        # Connexion's _maybe_get_body reads the body when the handler takes the body's argument
        # (`x-body-name`, default "body"): an OpenAPI operation without a request body has that
        # name whatever the content type, so whether to read it is known now.
        body_read: bool | None = None
        if isinstance(spec_operation, OpenAPIOperation) and not spec_operation.is_request_body_defined:
            body_read = sanitize(spec_operation.body_name("")) in arguments or has_kwargs
        build_arguments = (OperationArguments(spec_operation) if isinstance(spec_operation, OpenAPIOperation)
                           else functools.partial(get_arguments, spec_operation))

        @functools.wraps(function)
        async def wrapper(request: Any) -> Any:
            if body_read is False:
                body = None
            else:
                body = self._maybe_get_body(request, arguments=arguments, has_kwargs=has_kwargs)
                while asyncio.iscoroutine(body):
                    body = await body
            mimetype = media_type_of(request.content_type)
            files = await request.files() if mimetype in FORM_CONTENT_TYPES else {}
            # What parameter validation parsed from this scope (the same URI parsing of the same
            # operation's parameters), or, for what it did not, the request's own parsing.
            parsed = request.scope.get(PARSED_PARAMETERS) or {}
            path_params = parsed.get("path")
            query_params = parsed.get("query")
            found = build_arguments(path_params=request.path_params if path_params is None else path_params,
                                    query_params=request.query_params if query_params is None else query_params,
                                    body=body, files=files, arguments=arguments, has_kwargs=has_kwargs,
                                    sanitize=sanitize, content_type=mimetype)
            kwargs = {sanitize(name): value for name, value in found.items()}
            for name, value in _context.get().items():   # what the security handlers left (token_info, user)
                if has_kwargs or name in arguments:
                    kwargs[name] = value
            if wants_context:
                kwargs[CONTEXT_NAME] = request_context
            return await function(**kwargs)

        return wrapper


class OperationResponseDecorator(AsyncResponseDecorator):  # type: ignore[misc]
    """Connexion's response decorator with the operation's media types read once.

    Connexion reads `operation.produces` through the context proxy and de-duplicates it for
    every response; the choice of Content-Type from it is unchanged.
    """

    def __init__(self, *, framework: Any, jsonifier: Any) -> None:
        super().__init__(framework=framework, jsonifier=jsonifier)
        self._produces: list[str] | None = None

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        self._produces = list(set(context_operation.produces))   # `decorate` runs inside a request
        wrapped: Callable[..., Any] = super().__call__(function)
        return wrapped

    def _serialize_data(self, data: Any, *, content_type: str) -> Any:
        # Connexion's _serialize_data with the media type's test answered once per value.
        if data is None or data is NoContent:
            return None
        if is_json_media(content_type):
            return self.jsonifier.dumps(data)
        return data

    def _infer_content_type(self, data: Any, headers: dict[str, str]) -> str | None:
        produces = self._produces if self._produces is not None else list(set(context_operation.produces))
        declared = extract_content_type(headers) if headers else None   # no headers, none declared
        if data is not None and not produces:
            produces = ["application/json"]
        if declared:
            if declared not in produces:
                raise NonConformingResponseHeaders(
                    f"Returned content type ({declared}) is not defined in operation spec ({context_operation.produces}).")
            return str(declared)
        if len(produces) <= 1:
            return produces[0] if produces else None
        if isinstance(data, str):
            chosen = [media for media in produces if "text/plain" in media]
        elif isinstance(data, (bytes, types.GeneratorType, collections.abc.Iterator)):
            chosen = [media for media in produces if "application/octet-stream" in media]
        else:
            chosen = []
        if not chosen:
            raise NonConformingResponseHeaders("Multiple response content types are defined in the operation spec, "
                                               "but the handler response did not specify which one to return.")
        return chosen[-1]
