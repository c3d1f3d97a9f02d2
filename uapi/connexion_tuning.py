"""Per-request work of Connexion 3.3 that depends only on the operation, done once instead.

Measured with bench/bench_server.py (cpu/req) and a profile of the request path, what
Connexion rebuilds on every request although nothing in them changes between requests:

* `AsyncOperation.fn` is a property: each request builds a new decorator around the handler;
* that decorator wraps the handler again (parameter and response decorators, each inspecting
  the handler's signature) and builds a new URI parser from the operation's parameters;
* the security handlers inspect the token-info function's signature, twice per request;
* request validation builds its parameter validator and URI parser, the URI parser rebuilds its
  name-to-schema tables at each use, parameter names go through `pythonic` (three regular
  expressions) and the operation is reached through a context-local proxy, all per request.

`install(app)`, `middlewares()` and `OnceURIParser` (AsyncApp's `middlewares` and
`uri_parser_class` options) swap in subclasses that keep these per operation (each operation object
serves exactly one operation, so nothing is shared between operations). Requests take the
same path through the same Connexion code otherwise. These are Connexion internals: the range
pinned in pyproject.toml is the one checked, by tests/unit/test_connexion_tuning.py.
"""
from __future__ import annotations

import asyncio
import collections.abc
import copy
import functools
import logging
import types
from collections.abc import Callable
from typing import Any

from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.context import _context
from connexion.context import context as request_context
from connexion.context import operation as context_operation
from connexion.datastructures import NoContent
from connexion.decorators import StarletteDecorator
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
from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
)
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.operations import OpenAPIOperation
from connexion.security import SECURITY_HANDLERS, AbstractSecurityHandler
from connexion.uri_parsing import OpenAPIURIParser
from connexion.utils import (
    TYPE_MAP,
    boolean,
    deep_merge,
    extract_content_type,
    inspect_function_arguments,
    is_json_mimetype,
    is_nullable,
    split_content_type,
)
from python_multipart.multipart import parse_options_header
from starlette.routing import BaseRoute, Mount

from uapi.validation import PARSED_PARAMETERS

# Connexion converts every parameter name (camelCase to snake_case through `inflection`, three
# regular expressions) on every request, several times each. The names are the spec's and the
# request's query keys: a bounded cache answers each once (bounded: query keys come from clients).
pythonic_name = functools.lru_cache(maxsize=1024)(pythonic)


@functools.lru_cache(maxsize=256)
def media_type_of(content_type: str) -> str:
    """ConnexionRequest.mimetype (Connexion 3.3) of a Content-Type value, parsed once per value
    (bounded: the values come from clients)."""
    media_type, _ = parse_options_header(content_type)
    return str(media_type.decode())


@functools.lru_cache(maxsize=64)
def is_json_media(content_type: str | None) -> bool:
    """The response decorator's test (Connexion 3.3 `_serialize_data`) of the operation's
    response Content-Type, once per value."""
    media_type, _ = split_content_type(content_type)
    return bool(is_json_mimetype(media_type))


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


class OnceDecorator(StarletteDecorator):  # type: ignore[misc]  # connexion ships no type information
    """Decorates its handler and builds its URI parser on the first request only."""

    @property
    def _parameter_decorator_cls(self) -> type[OperationParameterDecorator]:
        return OperationParameterDecorator

    @property
    def _response_decorator_cls(self) -> type[OperationResponseDecorator]:
        return OperationResponseDecorator

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._decorated: Callable[..., Any] | None = None
        self._uri_parser: Any = None

    def decorate(self, function: Callable[..., Any]) -> Callable[..., Any]:
        if self._decorated is None:
            self._decorated = super().decorate(function)
        return self._decorated

    @property
    def uri_parser(self) -> Any:
        if self._uri_parser is None:
            self._uri_parser = super().uri_parser
        return self._uri_parser


class CachedOperation(AsyncOperation):  # type: ignore[misc]
    @functools.cached_property
    def fn(self) -> Callable[..., Any]:
        decorated: Callable[..., Any] = OnceDecorator(pythonic_params=self.pythonic_params,
                                                      jsonifier=self.jsonifier)(self._fn)
        return decorated


class CachedOperationsApi(AsyncApi):  # type: ignore[misc]
    def make_operation(self, operation: Any) -> CachedOperation:
        cached: CachedOperation = CachedOperation.from_operation(operation, pythonic_params=self.pythonic_params,
                                                                 jsonifier=self.jsonifier)
        return cached


@functools.cache
def _accepts_kwarg(func: Callable[..., Any], keyword: str) -> bool:
    accepts: bool = AbstractSecurityHandler._accepts_kwarg(func, keyword)
    return accepts


def _remembering_signatures(handler: type[AbstractSecurityHandler]) -> type[AbstractSecurityHandler]:
    """`handler` with its signature check answered once per (function, keyword)."""
    return type(handler.__name__, (handler,), {"_accepts_kwarg": staticmethod(_accepts_kwarg)})


SECURITY_MAP = {scheme: _remembering_signatures(handler) for scheme, handler in SECURITY_HANDLERS.items()}


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


class OnceRequestValidationOperation(RequestValidationOperation):  # type: ignore[misc]
    """Request validation with its parameter validator (and URI parser) built once.

    Connexion builds both on every request. An operation without a requestBody has no media
    type to check and no body to validate (Connexion's own path finds an empty `consumes` and
    an empty body schema for it): only its parameters are validated. Operations with a body
    take Connexion's path, with the same validator.
    """

    @functools.cached_property
    def parameter_validator(self) -> Any:
        # Built at the first request, once every middleware has read the operation (Connexion
        # adds the path's parameters to it as each one does).
        uri_parser = self._operation.uri_parser_class(self._operation.parameters, self._operation.body_definition())
        return self._validator_map["parameter"](self._operation.parameters, uri_parser=uri_parser,
                                                strict_validation=self.strict_validation,
                                                security_query_params=self.security_query_params)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._operation.request_body:
            await super().__call__(scope, receive, send)
            return
        self.parameter_validator.validate(scope)
        await self.next_app(scope, receive, send)


class OnceRequestValidationAPI(RequestValidationAPI):  # type: ignore[misc]
    def make_operation(self, operation: Any) -> OnceRequestValidationOperation:
        return OnceRequestValidationOperation(self.next_app, operation=operation,
                                              strict_validation=self.strict_validation,
                                              validator_map=self.validator_map)


class OnceRequestValidationMiddleware(RequestValidationMiddleware):  # type: ignore[misc]
    api_cls = OnceRequestValidationAPI


def _route_prefixes(route: BaseRoute, prefix: str = "") -> list[str] | None:
    """The literal path prefixes under which `route` (a Route or a Mount of them) can answer, or
    None when one of its paths has a parameter (no literal prefix to tell it by)."""
    path = str(getattr(route, "path", "{}"))
    if "{" in path:
        return None
    if isinstance(route, Mount):
        found: list[str] = [prefix + path]   # a Mount answers its own path and everything under it
        for child in route.routes:
            inner = _route_prefixes(child, prefix + path)
            if inner is None:
                return None
            found += inner
        return found
    return [prefix + path]


class PassThroughSwaggerUIMiddleware(SwaggerUIMiddleware):  # type: ignore[misc]
    """Connexion's Swagger UI middleware, which passes the API's requests on without routing them.

    Connexion runs every request through its Swagger UI router (each route's regular
    expression, a copy of the scope in a context variable) before the request reaches the
    next app, 14 us a list page. The router answers only paths that start with one of its
    routes' paths (the spec's JSON and YAML, the UI page, its redirect and its static files),
    or that do once a trailing slash is added or removed (its redirect). The router matches the
    path past `root_path`, a suffix of `scope["path"]`: a request whose path contains none of
    the routes' paths cannot reach any of them, and it goes on to the next app unchanged.
    Every other request takes Connexion's path. A route with a path parameter (none of
    Connexion 3.3's) would have no such prefix: the router then sees every request.
    """

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self._prefixes: tuple[str, ...] | None = ()

    def add_api(self, *args: Any, **kwargs: Any) -> None:
        super().add_api(*args, **kwargs)
        prefixes = [] if self._prefixes is None else list(self._prefixes)
        for route in self.router.routes:
            found = _route_prefixes(route)
            if found is None:
                self._prefixes = None
                return
            prefixes += [prefix for prefix in found if prefix]
        # A Mount at "" (an API served at the root) is not a prefix; its routes' paths are.
        # A path holding "/uapi/ui/index.html" holds "/uapi/ui": the shorter one is enough.
        self._prefixes = tuple(prefix for prefix in sorted(set(prefixes))
                               if not any(other != prefix and other in prefix for other in prefixes))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        prefixes = self._prefixes
        if prefixes is not None and scope["type"] == "http":
            path = scope["path"]
            for prefix in prefixes:
                if prefix in path:
                    break
            else:
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def middlewares() -> list[Any]:
    """Connexion's default middleware stack (AsyncApp's `middlewares` option) with the tuned layers."""
    replacements = {RequestValidationMiddleware: OnceRequestValidationMiddleware,
                    SwaggerUIMiddleware: PassThroughSwaggerUIMiddleware}
    return [replacements.get(layer, layer) for layer in ConnexionMiddleware.default_middlewares]


def install(app: Any) -> None:
    """Make `app` (a connexion.AsyncApp, before add_api) keep each operation's handler stack."""
    app._middleware_app.api_cls = CachedOperationsApi
