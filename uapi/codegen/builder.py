"""Reading an OpenAPI document into the `model.Api` templates render.

Never refuses a valid document: an operation that cannot be called (say, a
path parameter the path does not declare) is skipped, a parameter that cannot
be sent is left out, a schema that cannot be typed is read as any JSON value;
each with a warning naming the JSON pointer. Operations without an operationId
are named from their method and path; names that collide after case conversion,
or with the client's own names or language keywords, are made unique.
"""
from __future__ import annotations

import re
from typing import Any

from uapi.codegen import naming as naming_mod
from uapi.codegen.answers import AnswerReader
from uapi.codegen.model import Api, Operation, Pagination, Parameter, TokenEndpoint
from uapi.codegen.names import pascal, python_ident, ts_ident, words
from uapi.codegen.requests import RequestReader
from uapi.codegen.schemas import SchemaConverter
from uapi.codegen.security import auth_for
from uapi.codegen.spec import Problem, Resolver, Unsupported, mapping_at
from uapi.codegen.types import TypeRef
from uapi.spec_core import HTTP_METHODS, child

# Methods and attributes the generated clients define themselves.
_PY_CLIENT = frozenset({"close", "aclose"})
_TS_CLIENT = frozenset({"constructor", "currentToken", "fetchToken", "retryDelay", "send", "exchange", "baseUrl",
                        "clientId", "clientSecret", "timeoutMs", "maxRetries", "backoffBaseMs", "backoffMaxMs",
                        "maxRetryAfterMs", "tokenRefreshMarginMs", "headers", "fetchImpl", "token",
                        "tokenExpiresAt", "pendingToken"})
# Page-based listing vocabularies recognised for `iter_*` helpers.
_PAGE_SIZE = ("count", "limit", "pageSize", "perPage")
_PAGE_START = ("startIndex", "offset")
_PAGE_ITEMS = ("entry", "items", "data", "results")
_PAGE_TOTAL = ("totalResults", "total", "totalCount")


def reserved_type_names(names: naming_mod.Naming) -> frozenset[str]:
    """Type names the generated code defines or uses besides schema types, in either language."""
    from uapi.codegen.lang_python import reserved_type_names as python_names
    from uapi.codegen.lang_typescript import reserved_type_names as ts_names

    return python_names(names) | ts_names(names)


class ApiBuilder:
    def __init__(self, document: dict[str, Any], package_name: str | None = None,
                 client_name: str | None = None) -> None:
        self.doc = document
        self.resolver = Resolver(document)
        self.warnings: list[Problem] = []
        self.naming = naming_mod.resolve(document, package_name, client_name)
        components = mapping_at(document, "components")
        self.schemes: dict[str, Any] = components.get("securitySchemes") or {}
        self._op_names = self._name_operations()
        reserved = reserved_type_names(self.naming) | {pascal(n) + "Params" for n in self._op_names.values()}
        self.schemas = SchemaConverter(document, self.resolver, self.warnings, reserved)
        self.requests = RequestReader(self.schemas, self.resolver, self.warnings, self.naming)
        self.answers = AnswerReader(self.schemas, self.resolver, self.warnings)

    def build(self) -> Api:
        self.schemas.convert_components()
        operations = self._method_names(self._operations())
        token = self._token_endpoint(operations)
        info = mapping_at(self.doc, "info")
        servers = self.doc.get("servers") or [{}]
        defs = self.schemas.defs
        return Api(
            title=str(info.get("title", "")),
            version=str(info.get("version", "0.0.0")),
            description=str(info.get("description", "") or "").strip(),
            server_url=_server_url(servers[0] if isinstance(servers[0], dict) else {}),
            operations=tuple(operations),
            models=tuple(defs.models.values()),
            aliases=tuple(defs.aliases.values()),
            token=token,
            schemas={**defs.models, **defs.aliases},
            naming=self.naming,
            warnings=tuple(dict.fromkeys(self.warnings)),
        )

    # -- operations ---------------------------------------------------------

    def _items(self) -> list[tuple[str, str, dict[str, Any], str]]:
        out: list[tuple[str, str, dict[str, Any], str]] = []
        paths = mapping_at(self.doc, "paths")
        for path, item in paths.items():
            where = child("#/paths", path)
            try:
                item, _ = self.resolver.deref(item, where)
            except Unsupported as exc:
                self.warnings.append(exc.problem)
                continue
            if not isinstance(item, dict):
                continue
            out.extend((str(path), method, item, child(where, method)) for method in item
                       if method in HTTP_METHODS and isinstance(item[method], dict))
        return out

    def _name_operations(self) -> dict[str, str]:
        """operationIds, or a stable name from method and path (`GET /pets/{id}` → getPetsById)."""
        names: dict[str, str] = {}
        for path, method, item, where in self._items():
            op_id = item[method].get("operationId")
            if not isinstance(op_id, str) or not words(op_id):
                parts = [method]
                for segment in path.split("/"):
                    found = re.fullmatch(r"\{(.+)\}", segment)
                    parts += ["by", found.group(1)] if found else [segment]
                op_id = words(parts[0])[0] + "".join(w.capitalize() for p in parts[1:] for w in words(p))
            names[where] = op_id
        return names

    def _operations(self) -> list[Operation]:
        out: list[Operation] = []
        for path, method, item, where in self._items():
            try:
                out.append(self._operation(path, method, item, where))
            except Unsupported as exc:
                self.warnings.append(Problem(exc.problem.pointer, exc.problem.message + "; operation skipped"))
        return out

    def _operation(self, path: str, method: str, item: dict[str, Any], where: str) -> Operation:
        node = item[method]
        op_id = self._op_names[where]
        params = self._parameters(path, item, node, where)
        body = self.requests.body(node, where, op_id)
        responses = self.answers.responses(node, where, op_id)
        result, empty_statuses, empty, outcomes, result_type = self.answers.result(responses)
        security = node["security"] if "security" in node else self.doc.get("security") or []
        auth = auth_for(security, child(where, "security") if "security" in node else "#/security",
                        self.schemes, self.resolver, self.warnings)
        return Operation(
            operation_id=op_id, method=method.upper(), path=path, pointer=where,
            summary=str(node.get("summary", "") or "").strip(),
            description=str(node.get("description", "") or "").strip(),
            tags=tuple(str(t) for t in node.get("tags") or ()), deprecated=bool(node.get("deprecated", False)),
            parameters=params, body=body, responses=responses, result=result,
            empty_statuses=empty_statuses, empty_result=empty, auth=auth,
            pagination=self._pagination(op_id, params, result), outcomes=outcomes, result_type=result_type,
        )

    def _parameters(self, path: str, item: dict[str, Any], node: dict[str, Any], where: str) -> tuple[Parameter, ...]:
        # Operation-level parameters override path-level ones with the same name and location.
        merged: dict[tuple[str, str], Parameter] = {}
        item_where = where.rsplit("/", 1)[0]  # the method is the pointer's last token
        sources = [(item.get("parameters") or [], child(item_where, "parameters")),
                   (node.get("parameters") or [], child(where, "parameters"))]
        for raw_list, base in sources:
            for i, raw in enumerate(raw_list if isinstance(raw_list, list) else []):
                try:
                    param = self.requests.parameter(raw, child(base, i))
                except Unsupported as exc:
                    self.warnings.append(Problem(exc.problem.pointer, exc.problem.message + "; parameter left out"))
                    continue
                if param is not None:
                    merged[(param.name, param.location)] = param
        template = re.findall(r"\{([^}]+)\}", path)
        declared = {p.name for p in merged.values() if p.location == "path"}
        for name in template:
            if name not in declared:
                raise Unsupported(where, f"path parameter {name!r} is not declared")
        for key in [k for k in merged if k[1] == "path" and k[0] not in template]:
            self.warnings.append(Problem(merged[key].pointer, "parameter is declared in path but not in the "
                                                              "path template; left out"))
            del merged[key]
        order = {name: i for i, name in enumerate(template)}
        rank = {"path": 0, "query": 1, "header": 2, "cookie": 3}
        ordered = sorted(merged.values(), key=lambda p: (rank[p.location], order.get(p.name, 0)))
        return self.requests.argument_names(ordered, self._paginated(node, where))

    def _paginated(self, node: dict[str, Any], where: str) -> bool:
        return bool(re.match(r"^list[A-Z]", self._op_names[where]))

    def _method_names(self, operations: list[Operation]) -> list[Operation]:
        """Method names unique after case conversion, clear of the client's own members."""
        from dataclasses import replace

        py_taken, ts_taken = set(_PY_CLIENT), set(_TS_CLIENT)
        out = []
        for op in operations:
            py_name = python_ident(op.operation_id, frozenset(py_taken))
            ts_name = ts_ident(op.operation_id, frozenset(ts_taken))
            py_taken.add(py_name)
            ts_taken.add(ts_name)
            pagination = op.pagination
            if pagination is not None and (pagination.py_method in py_taken or pagination.ts_method in ts_taken):
                pagination = None
            if pagination is not None:
                py_taken.add(pagination.py_method)
                ts_taken.add(pagination.ts_method)
            out.append(replace(op, py_name=py_name, ts_name=ts_name, pagination=pagination))
        return out

    def _pagination(self, op_id: str, params: tuple[Parameter, ...], result: TypeRef | None) -> Pagination | None:
        if not re.match(r"^list[A-Z]", op_id) or result is None or result.kind != "model":
            return None
        query = {p.name: p for p in params if p.location == "query" and p.type.kind == "integer" and p.plain}
        size = next((n for n in _PAGE_SIZE if n in query), None)
        start = next((n for n in _PAGE_START if n in query), None)
        model = self.schemas.defs.models[result.name]
        props = {p.json_name: p for p in model.properties}
        items = next((n for n in _PAGE_ITEMS if n in props and props[n].type.kind == "array"), None)
        total = next((n for n in _PAGE_TOTAL if n in props and props[n].type.kind in ("integer", "number")), "")
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
            try:
                scheme, at = self.resolver.deref(raw, child("#/components/securitySchemes", name))
            except Unsupported:
                continue
            flows = (scheme or {}).get("flows") if isinstance(scheme, dict) else None
            flow = (flows or {}).get("clientCredentials") or {}
            if isinstance(flow, dict) and isinstance(flow.get("tokenUrl"), str) and flow["tokenUrl"]:
                return TokenEndpoint(str(flow["tokenUrl"]), child(at, "flows", "clientCredentials"))
        return None


def _server_url(server: dict[str, Any]) -> str:
    """The first server's URL with its variables at their defaults."""
    url = str(server.get("url", "/") or "/")
    variables = mapping_at(server, "variables")
    for name, spec in variables.items():
        default = spec.get("default", "") if isinstance(spec, dict) else ""
        url = url.replace("{" + str(name) + "}", str(default))
    return url
