"""The spec read into a small intermediate model that templates render.

`load_api(path)` returns an `Api`: operations (method, path, parameters, body,
responses, security), schema definitions and the OAuth token endpoint, in spec
order so output is deterministic. It refuses, with the JSON pointer of each
construct, whatever a generated client could not faithfully express; nothing
is dropped silently. Links and examples are kept only to write READMEs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from uapi.codegen.names import pascal, python_ident, snake, ts_ident
from uapi.codegen.schemas import SchemaConverter
from uapi.codegen.spec import CodegenError, Problem, Resolver, load_document, parse_document, pointer
from uapi.codegen.types import AliasDef, ModelDef, TypeRef

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Arguments every generated method has besides the operation's parameters.
_PY_TAKEN = frozenset({"body", "timeout", "extra_headers"})
_TS_TAKEN = frozenset({"body", "options"})
_PATH_ITEM_KEYS = {"parameters", "summary", "description"} | set(METHODS)
_OPERATION_KEYS = {"tags", "summary", "description", "externalDocs", "operationId", "parameters",
                   "requestBody", "responses", "deprecated", "security",
                   # Callbacks describe requests the *server* makes; a client has nothing to do.
                   "callbacks"}
_PARAM_KEYS = {"name", "in", "description", "required", "deprecated", "schema", "example", "examples",
               "style", "explode", "allowEmptyValue", "allowReserved", "content"}
_DEFAULT_STYLE = {"path": "simple", "query": "form", "header": "simple"}
# Page-based listing vocabularies recognised for `iter_*` helpers.
_PAGE_SIZE = ("count", "limit", "pageSize", "perPage")
_PAGE_START = ("startIndex", "offset")
_PAGE_ITEMS = ("entry", "items", "data", "results")
_PAGE_TOTAL = ("totalResults", "total", "totalCount")


@dataclass(frozen=True)
class Parameter:
    name: str
    location: Literal["path", "query", "header"]
    required: bool
    type: TypeRef
    description: str
    example: Any  # the spec's own example, None when it gives none
    default: Any
    pointer: str

    @property
    def py_name(self) -> str:
        return python_ident(self.name, _PY_TAKEN)

    @property
    def ts_name(self) -> str:
        return ts_ident(self.name, _TS_TAKEN)


@dataclass(frozen=True)
class Body:
    media: Literal["json", "form"]
    content_type: str
    type: TypeRef  # always a named model or alias
    required: bool
    description: str
    example: Any
    pointer: str


@dataclass(frozen=True)
class Link:
    name: str
    operation_id: str
    parameters: tuple[tuple[str, str], ...]  # target parameter name -> runtime expression


@dataclass(frozen=True)
class Response:
    status: str
    description: str
    type: TypeRef | None
    links: tuple[Link, ...]
    pointer: str


@dataclass(frozen=True)
class Auth:
    """Where an operation's token goes: `Authorization: Bearer <t>`, or an API key."""

    scheme: str
    location: Literal["header", "query"]
    name: str
    prefix: str


@dataclass(frozen=True)
class Pagination:
    size_param: str
    start_param: str
    items_property: str
    total_property: str
    item: TypeRef
    suffix: str  # `PhoneCalls` of listPhoneCalls; names iter_phone_calls / iterPhoneCalls

    @property
    def py_method(self) -> str:
        return "iter_" + snake(self.suffix)

    @property
    def ts_method(self) -> str:
        return "iter" + pascal(self.suffix)


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str
    pointer: str
    summary: str
    description: str
    tags: tuple[str, ...]
    deprecated: bool
    parameters: tuple[Parameter, ...]  # path (in template order), then query, then header
    body: Body | None
    responses: tuple[Response, ...]
    result: TypeRef | None  # named type of the 2xx body; None when no 2xx has one
    # 2xx statuses answered without a body while `result` is set, and the JSON
    # value standing in for them (an empty list or collection, never null).
    empty_statuses: tuple[int, ...]
    empty_result: Any
    auth: Auth | None
    pagination: Pagination | None

    @property
    def py_name(self) -> str:
        return python_ident(self.operation_id)

    @property
    def ts_name(self) -> str:
        return ts_ident(self.operation_id)

    @property
    def pascal_name(self) -> str:
        return pascal(self.operation_id)

    @property
    def idempotent(self) -> bool:
        return self.method in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE")

    def params_in(self, location: str) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == location)

    @property
    def links(self) -> tuple[Link, ...]:
        return tuple(link for r in self.responses if r.status.startswith("2") for link in r.links)


@dataclass(frozen=True)
class TokenEndpoint:
    """The OAuth 2.0 client-credentials endpoint clients use to get and renew tokens."""

    url: str  # a path relative to the base URL, or an absolute URL
    pointer: str


@dataclass(frozen=True)
class Api:
    title: str
    version: str
    description: str
    server_url: str
    operations: tuple[Operation, ...]
    models: tuple[ModelDef, ...]
    aliases: tuple[AliasDef, ...]
    token: TokenEndpoint | None
    schemas: dict[str, ModelDef | AliasDef] = field(default_factory=dict)

    def model(self, name: str) -> ModelDef | None:
        found = self.schemas.get(name)
        return found if isinstance(found, ModelDef) else None

    def operation(self, operation_id: str) -> Operation | None:
        return next((op for op in self.operations if op.operation_id == operation_id), None)


def load_api(spec_path: str | Path) -> Api:
    """Read the spec at `spec_path`; raises CodegenError listing every refused construct."""
    return ApiBuilder(load_document(spec_path)).build()


def api_from_text(text: str) -> Api:
    return ApiBuilder(parse_document(text)).build()


class ApiBuilder:
    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = document
        self.resolver = Resolver(document)
        self.problems: list[Problem] = []
        self.schemas = SchemaConverter(document, self.resolver, self.problems)
        self.schemes: dict[str, Any] = (document.get("components") or {}).get("securitySchemes") or {}

    def build(self) -> Api:
        self.schemas.convert_components()
        operations = self._operations()
        self._check_names(operations)
        token = self._token_endpoint(operations)
        if self.problems:
            raise CodegenError(_dedupe(self.problems))
        info = self.doc.get("info") or {}
        servers = self.doc.get("servers") or [{}]
        defs = self.schemas.defs
        return Api(
            title=str(info.get("title", "")),
            version=str(info.get("version", "0.0.0")),
            description=str(info.get("description", "")).strip(),
            server_url=str(servers[0].get("url", "/")),
            operations=tuple(operations),
            models=tuple(defs.models.values()),
            aliases=tuple(defs.aliases.values()),
            token=token,
            schemas={**defs.models, **defs.aliases},
        )

    # -- operations ---------------------------------------------------------

    def _operations(self) -> list[Operation]:
        out: list[Operation] = []
        for path, item in (self.doc.get("paths") or {}).items():
            where = pointer("#/paths", path)
            if not isinstance(item, dict):
                self.problems.append(Problem(where, "a path item must be a mapping"))
                continue
            for key in item:
                if key not in _PATH_ITEM_KEYS and not key.startswith("x-"):
                    self.problems.append(Problem(pointer(where, key), f"path item keyword {key!r} is not supported"))
            for method in item:
                if method in METHODS:
                    try:
                        out.append(self._operation(path, method, item, pointer(where, method)))
                    except CodegenError as exc:
                        self.problems.extend(exc.problems)
        return out

    def _operation(self, path: str, method: str, item: dict[str, Any], where: str) -> Operation:
        node = item[method]
        problems: list[Problem] = []
        for key in node:
            if key not in _OPERATION_KEYS and not key.startswith("x-"):
                problems.append(Problem(pointer(where, key), f"operation keyword {key!r} is not supported"))
        op_id = node.get("operationId")
        if not isinstance(op_id, str) or not op_id:
            problems.append(Problem(where, "every operation needs an operationId: it names the client method"))
            op_id = "operation"  # stands in so the rest of the operation is still checked
        params = self._parameters(path, item, node, where, problems)
        body = self._body(node, where, op_id, problems)
        responses = self._responses(node, where, op_id, problems)
        result, empty_statuses, empty = self._result(responses, where, problems)
        auth = self._auth(node, where, problems)
        if problems:
            raise CodegenError(problems)
        return Operation(
            operation_id=op_id, method=method.upper(), path=path, pointer=where,
            summary=str(node.get("summary", "")).strip(), description=str(node.get("description", "")).strip(),
            tags=tuple(node.get("tags") or ()), deprecated=bool(node.get("deprecated", False)),
            parameters=params, body=body, responses=responses, result=result,
            empty_statuses=empty_statuses, empty_result=empty, auth=auth,
            pagination=self._pagination(op_id, params, result),
        )

    def _parameters(self, path: str, item: dict[str, Any], node: dict[str, Any], where: str,
                    problems: list[Problem]) -> tuple[Parameter, ...]:
        # Operation-level parameters override path-level ones with the same name and location.
        merged: dict[tuple[str, str], Parameter] = {}
        item_where = where.rsplit("/", 1)[0]  # the method is the pointer's last token
        sources = [(item.get("parameters") or [], pointer(item_where, "parameters")),
                   (node.get("parameters") or [], pointer(where, "parameters"))]
        for raw_list, base in sources:
            for i, raw in enumerate(raw_list):
                try:
                    param = self._parameter(raw, pointer(base, i))
                except CodegenError as exc:
                    problems.extend(exc.problems)
                    continue
                merged[(param.name, param.location)] = param
        template = re.findall(r"\{([^}]+)\}", path)
        declared = {p.name for p in merged.values() if p.location == "path"}
        for name in template:
            if name not in declared:
                problems.append(Problem(where, f"path parameter {name!r} is not declared"))
        for name in sorted(declared - set(template)):
            problems.append(Problem(where, f"parameter {name!r} is declared in path but not in the path template"))
        order = {name: i for i, name in enumerate(template)}
        rank = {"path": 0, "query": 1, "header": 2}
        ordered = sorted(merged.values(), key=lambda p: (rank[p.location], order.get(p.name, 0)))
        return tuple(ordered)

    def _parameter(self, raw: Any, where: str) -> Parameter:
        node, where = self.resolver.deref(raw, where)
        problems = []
        for key in node:
            if key not in _PARAM_KEYS and not key.startswith("x-"):
                problems.append(Problem(pointer(where, key), f"parameter keyword {key!r} is not supported"))
        name, location = node.get("name"), node.get("in")
        if location == "cookie":
            raise CodegenError([Problem(pointer(where, "in"), f"parameter {name!r} is in a cookie; cookie "
                                                               "parameters are not supported")])
        if location not in _DEFAULT_STYLE or not isinstance(name, str):
            raise CodegenError([Problem(where, "a parameter needs a name and `in` of path, query or header")])
        if location == "header" and name.lower() in ("accept", "content-type", "authorization"):
            problems.append(Problem(pointer(where, "name"), f"header parameter {name!r} is reserved by OpenAPI"))
        if "content" in node or "schema" not in node:
            raise CodegenError([Problem(where, "parameters must be described by `schema` (not `content`)")])
        style = node.get("style", _DEFAULT_STYLE[location])
        if style != _DEFAULT_STYLE[location]:
            problems.append(Problem(pointer(where, "style"), f"style {style!r} is not supported for {location} parameters"))
        if node.get("explode", style == "form") != (style == "form"):
            problems.append(Problem(pointer(where, "explode"), "only the default explode is supported"))
        for flag in ("allowReserved", "allowEmptyValue"):
            if node.get(flag):
                problems.append(Problem(pointer(where, flag), f"{flag} is not supported"))
        required = bool(node.get("required", False))
        if location == "path" and not required:
            problems.append(Problem(pointer(where, "required"), "path parameters must be required"))
        schema_where = pointer(where, "schema")
        t = self.schemas.convert(node["schema"], schema_where, pascal(name))
        scalar = t.json_kind in ("string", "integer", "number", "boolean") and t.kind != "union"
        listed = location == "query" and t.kind == "array" and t.item is not None and t.item.json_kind in (
            "string", "integer", "number", "boolean")
        if not (scalar or listed):
            problems.append(Problem(schema_where, f"{location} parameter {name!r} must be a scalar"
                                                   + (" or an array of scalars" if location == "query" else "")))
        if problems:
            raise CodegenError(problems)
        schema, _ = self.resolver.deref(node["schema"], schema_where)
        return Parameter(name, location, required, t, str(node.get("description", "")).strip(),
                         node.get("example", schema.get("example")), schema.get("default"), where)

    def _body(self, node: dict[str, Any], where: str, op_id: str, problems: list[Problem]) -> Body | None:
        if "requestBody" not in node:
            return None
        raw, at = self.resolver.deref(node["requestBody"], pointer(where, "requestBody"))
        content = raw.get("content") or {}
        chosen: tuple[Literal["json", "form"], str, dict[str, Any]] | None = None
        for content_type, media in content.items():
            media_where = pointer(at, "content", content_type)
            media_kind = _media_kind(content_type)
            if media_kind is None:
                problems.append(Problem(media_where, f"request body type {content_type!r} is not supported "
                                                     "(only JSON and form-encoded)"))
            elif "encoding" in media:
                problems.append(Problem(pointer(media_where, "encoding"), "form `encoding` is not supported"))
            elif chosen is None or (media_kind == "json" and chosen[0] != "json"):
                chosen = (media_kind, content_type, media)
        if chosen is None:
            if not content:
                problems.append(Problem(at, "a request body needs content"))
            return None
        kind, content_type, media = chosen
        media_where = pointer(at, "content", content_type)
        try:
            t = self._named(media.get("schema"), pointer(media_where, "schema"), pascal(op_id) + "Request")
        except CodegenError as exc:
            problems.extend(exc.problems)
            return None
        if kind == "form" and not self._form_safe(t):
            problems.append(Problem(pointer(media_where, "schema"),
                                    "a form-encoded body must be an object of scalars or arrays of scalars"))
        example = media.get("example")
        if example is None:
            schema, _ = self.resolver.deref(media.get("schema") or {}, media_where)
            example = schema.get("example") if isinstance(schema, dict) else None
        return Body(kind, content_type, t, bool(raw.get("required", False)),
                    str(raw.get("description", "")).strip(), example, at)

    def _form_safe(self, t: TypeRef) -> bool:
        model = self.schemas.defs.models.get(t.name) if t.kind == "model" else None
        if model is None:
            return False
        for prop in model.properties:
            inner = prop.type.item if prop.type.kind == "array" else prop.type
            if inner is None or inner.json_kind not in ("string", "integer", "number", "boolean") or inner.kind == "union":
                return False
        return True

    def _named(self, schema: Any, where: str, name: str) -> TypeRef:
        """A body or result type, given a name when the spec wrote it inline."""
        if schema is None:
            raise CodegenError([Problem(where, "a JSON body needs a schema")])
        t = self.schemas.convert(schema, where, name)
        if t.kind in ("model", "alias"):
            return t
        self.schemas._claim(name, where)
        self.schemas.defs.aliases.setdefault(name, AliasDef(name, where, "", t))
        return TypeRef("alias", name=name, json_kind=t.json_kind)

    def _responses(self, node: dict[str, Any], where: str, op_id: str, problems: list[Problem]) -> tuple[Response, ...]:
        out = []
        raw_responses = node.get("responses") or {}
        if not raw_responses:
            problems.append(Problem(pointer(where, "responses"), "an operation needs responses"))
        for status, raw in raw_responses.items():
            status = str(status)
            at = pointer(where, "responses", status)
            if status != "default" and not re.fullmatch(r"[245]\d\d", status):
                problems.append(Problem(at, f"response status {status!r} is not supported "
                                            "(explicit 2xx, 4xx, 5xx codes and `default` are)"))
                continue
            response, at = self.resolver.deref(raw, at)
            t = None
            for content_type, media in (response.get("content") or {}).items():
                media_where = pointer(at, "content", content_type)
                if _media_kind(content_type) != "json":
                    problems.append(Problem(media_where, f"response type {content_type!r} is not supported; "
                                                         "only JSON responses (and 204 without a body) are"))
                    continue
                suffix = "Response" if status.startswith("2") else f"Response{status.capitalize()}"
                try:
                    this = self._named(media.get("schema"), pointer(media_where, "schema"), pascal(op_id) + suffix)
                except CodegenError as exc:
                    problems.extend(exc.problems)
                    continue
                if t is not None and this != t:
                    problems.append(Problem(media_where, "JSON media types of one response must share a schema"))
                t = this
            links = tuple(self._links(response, at))
            out.append(Response(status, str(response.get("description", "")).strip(), t, links, at))
        return tuple(out)

    def _links(self, response: dict[str, Any], where: str) -> list[Link]:
        out = []
        for name, raw in (response.get("links") or {}).items():
            link, _ = self.resolver.deref(raw, pointer(where, "links", name))
            # Links only feed README examples; operationRef links are simply not used there.
            if isinstance(link, dict) and isinstance(link.get("operationId"), str):
                params = tuple((str(k), str(v)) for k, v in (link.get("parameters") or {}).items())
                out.append(Link(name, link["operationId"], params))
        return out

    def _result(self, responses: tuple[Response, ...], where: str,
                problems: list[Problem]) -> tuple[TypeRef | None, tuple[int, ...], Any]:
        success = [r for r in responses if r.status.startswith("2")]
        typed = [r for r in success if r.type is not None]
        bare = tuple(int(r.status) for r in success if r.type is None)
        if not typed:
            return None, bare, None
        result = typed[0].type
        for r in typed[1:]:
            if r.type != result:
                problems.append(Problem(r.pointer, f"2xx responses must share one schema; {typed[0].status} "
                                                   f"and {r.status} differ"))
        if not bare or result is None:
            return result, (), None
        try:
            empty = self._empty(result, set())
        except ValueError as exc:
            bad = next(r for r in success if r.type is None)
            problems.append(Problem(bad.pointer, f"answered without a body beside a {result.name} body, but "
                                                 f"{exc}, so clients could not return an empty {result.name}"))
            return result, bare, None
        return result, bare, empty

    def _empty(self, t: TypeRef, seen: set[str]) -> Any:
        """The JSON value of an empty `t`: [] for arrays, 0 for counts, objects of empties."""
        if t.kind == "array":
            return []
        if t.kind in ("integer", "number") and not t.enum:
            return 0
        if t.kind == "map":
            return {}
        if t.kind == "alias":
            return self._empty(self.schemas.defs.aliases[t.name].type, seen)
        if t.kind == "model" and t.name not in seen:
            model = self.schemas.defs.models[t.name]
            out = {}
            for p in model.properties:
                if p.required:
                    try:
                        out[p.json_name] = self._empty(p.type, seen | {t.name})
                    except ValueError as exc:
                        raise ValueError(f"{t.name}.{p.json_name} is required and {exc}") from None
            return out
        raise ValueError(f"a {t.name or t.kind} has no empty value")

    def _auth(self, node: dict[str, Any], where: str, problems: list[Problem]) -> Auth | None:
        if "security" in node:
            requirements, at = node["security"], pointer(where, "security")
        else:
            requirements, at = self.doc.get("security") or [], "#/security"
        for i, requirement in enumerate(requirements):
            if not requirement:
                return None  # anonymous access is an accepted alternative
            if len(requirement) > 1:
                continue  # several credentials at once: not something a client holds
            (scheme_name,) = requirement
            scheme, _ = self.resolver.deref(self.schemes.get(scheme_name), pointer(at, i))
            if scheme is None:
                problems.append(Problem(pointer(at, i), f"unknown security scheme {scheme_name!r}"))
                return None
            kind = scheme.get("type")
            if (kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer") or kind in ("oauth2", "openIdConnect"):
                return Auth(scheme_name, "header", "Authorization", "Bearer ")
            if kind == "apiKey" and scheme.get("in") in ("header", "query"):
                return Auth(scheme_name, scheme["in"], str(scheme.get("name")), "")
        if requirements:
            problems.append(Problem(at, "none of the security requirements is supported "
                                        "(bearer, OAuth 2.0 and API keys in a header or query are)"))
        return None

    def _pagination(self, op_id: str, params: tuple[Parameter, ...], result: TypeRef | None) -> Pagination | None:
        if not re.match(r"^list[A-Z]", op_id) or result is None or result.kind != "model":
            return None
        query = {p.name: p for p in params if p.location == "query" and p.type.kind == "integer"}
        size = next((n for n in _PAGE_SIZE if n in query), None)
        start = next((n for n in _PAGE_START if n in query), None)
        model = self.schemas.defs.models[result.name]
        props = {p.json_name: p for p in model.properties}
        items = next((n for n in _PAGE_ITEMS if n in props and props[n].type.kind == "array"), None)
        total = next((n for n in _PAGE_TOTAL if n in props), "")
        if size is None or start is None or items is None:
            return None
        item = props[items].type.item
        assert item is not None
        return Pagination(size, start, items, total, item, op_id[4:])

    def _token_endpoint(self, operations: list[Operation]) -> TokenEndpoint | None:
        defs = self.schemas.defs.models
        for op in operations:
            body = op.body
            if op.method != "POST" or op.auth is not None or body is None or body.media != "form":
                continue
            form = defs.get(body.type.name)
            answer = defs.get(op.result.name) if op.result is not None else None
            if form is None or answer is None:
                continue
            if {"grant_type", "client_id", "client_secret"} <= {p.json_name for p in form.properties} and \
                    {"access_token", "expires_in"} <= {p.json_name for p in answer.properties}:
                return TokenEndpoint(op.path, op.pointer)
        for name, raw in self.schemes.items():
            scheme, at = self.resolver.deref(raw, pointer("#/components/securitySchemes", name))
            flow = ((scheme or {}).get("flows") or {}).get("clientCredentials") or {}
            if flow.get("tokenUrl"):
                return TokenEndpoint(str(flow["tokenUrl"]), pointer(at, "flows", "clientCredentials"))
        return None

    def _check_names(self, operations: list[Operation]) -> None:
        """Method and argument names must stay unique after case conversion."""
        methods: dict[str, str] = {}
        for op in operations:
            names = [(op.py_name, op.pointer), (op.ts_name, op.pointer)]
            if op.pagination:
                names += [(op.pagination.py_method, op.pointer), (op.pagination.ts_method, op.pointer)]
            for name, where in dict.fromkeys(names):
                if name in methods and methods[name] != where:
                    self.problems.append(Problem(where, f"method name {name!r} is also generated for {methods[name]}"))
                methods.setdefault(name, where)
            for attr in ("py_name", "ts_name"):
                seen: dict[str, str] = {}
                for p in op.parameters:
                    ident = getattr(p, attr)
                    if ident in seen:
                        self.problems.append(Problem(p.pointer, f"parameters {seen[ident]!r} and {p.name!r} "
                                                                f"both become argument {ident!r}"))
                    seen[ident] = p.name
        for model in self.schemas.defs.models.values():
            seen_attr: dict[str, str] = {}
            for prop in model.properties:
                ident = python_ident(prop.json_name, frozenset({"additional_properties", "to_dict", "from_dict"}))
                if ident in seen_attr:
                    self.problems.append(Problem(pointer(model.pointer, "properties", prop.json_name),
                                                 f"properties {seen_attr[ident]!r} and {prop.json_name!r} both "
                                                 f"become attribute {ident!r}"))
                seen_attr[ident] = prop.json_name


def _media_kind(content_type: str) -> Literal["json", "form"] | None:
    base = content_type.split(";")[0].strip().lower()
    if base == "application/json" or (base.startswith("application/") and base.endswith("+json")):
        return "json"
    if base == "application/x-www-form-urlencoded":
        return "form"
    return None


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))

