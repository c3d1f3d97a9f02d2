"""What a call returns: responses read into one result type per operation.

Success answers are the 2xx statuses and `2XX` ranges (or `default` when no
2xx is declared). When they all carry one JSON schema, bodiless ones standing in
for an empty value (an empty list, say), the client returns that type. Otherwise
(several schemas, text or bytes, ranges, `default`, a bodiless answer beside a
body that has no empty value) the client reads each answer by its status: the
result is the union of their types, `None`/`null` for a bodiless answer.
"""
from __future__ import annotations

import re
from typing import Any

from uapi.codegen.model import AnswerMedia, Link, Outcome, Response
from uapi.codegen.names import pascal
from uapi.codegen.requests import media_kind
from uapi.codegen.schemas import SchemaConverter
from uapi.codegen.spec import Problem, Resolver, Unsupported, mapping_at
from uapi.codegen.types import NULL, AliasDef, TypeRef
from uapi.spec_core import child

TEXT = TypeRef("string", json_kind="string")
BYTES = TypeRef("string", format="binary", json_kind="string")
_STATUS = re.compile(r"[1-5]\d\d|[1-5]XX|default", re.I)


class AnswerReader:
    def __init__(self, schemas: SchemaConverter, resolver: Resolver, warnings: list[Problem]) -> None:
        self.schemas = schemas
        self.resolver = resolver
        self.warnings = warnings

    def responses(self, node: dict[str, Any], where: str, op_id: str) -> tuple[Response, ...]:
        out = []
        raw_responses = mapping_at(node, "responses")
        typed_success = 0
        for status, raw in raw_responses.items():
            status = str(status)
            at = child(where, "responses", status)
            if not _STATUS.fullmatch(status):
                self.warnings.append(Problem(at, f"response status {status!r} is not a status; left out"))
                continue
            status = status.upper() if status != "default" else status
            try:
                response, at = self.resolver.deref(raw, at)
            except Unsupported as exc:
                self.warnings.append(exc.problem)
                continue
            if not isinstance(response, dict):
                continue
            success = status.startswith("2")
            t, media = self._body(response, at, op_id, status, typed_success)
            if success and t is not None:
                typed_success += 1
            links = tuple(self._links(response, at))
            out.append(Response(status, str(response.get("description", "") or "").strip(), t, links, at, media))
        return tuple(out)

    def _body(self, response: dict[str, Any], at: str, op_id: str, status: str,
              typed_success: int) -> tuple[TypeRef | None, AnswerMedia]:
        content = mapping_at(response, "content")
        if not content:
            return None, "empty"
        kinds = {str(ct): media_kind(str(ct)) for ct in content}
        json_types = [ct for ct, kind in kinds.items() if kind == "json"]
        if not json_types:
            text = [ct for ct, kind in kinds.items() if kind == "text"]
            return (TEXT, "text") if text else (BYTES, "bytes")
        if status.startswith("2"):
            suffix = "Response" if typed_success == 0 else f"Response{status}"
        else:
            suffix = f"Response{status.capitalize()}"
        content_type = json_types[0]
        media = content[content_type] if isinstance(content[content_type], dict) else {}
        where = child(at, "content", content_type, "schema")
        t = self.schemas.convert(media.get("schema") if media.get("schema") is not None else {}, where,
                                 pascal(op_id) + suffix)
        if t.kind not in ("model", "alias"):
            name = self.schemas.claim(pascal(op_id) + suffix, where)
            self.schemas.defs.aliases.setdefault(name, AliasDef(name, where, "", t))
            t = TypeRef("alias", name=name, json_kind=t.json_kind)
        return t, "json"

    def _links(self, response: dict[str, Any], where: str) -> list[Link]:
        out = []
        links = mapping_at(response, "links")
        for name, raw in links.items():
            try:
                link, _ = self.resolver.deref(raw, child(where, "links", name))
            except Unsupported:
                continue
            # Links only feed README examples; operationRef links are simply not used there.
            if isinstance(link, dict) and isinstance(link.get("operationId"), str):
                params = tuple((str(k), str(v)) for k, v in (link.get("parameters") or {}).items())
                out.append(Link(str(name), link["operationId"], params))
        return out

    def result(self, responses: tuple[Response, ...]) -> tuple[
            TypeRef | None, tuple[int, ...], Any, tuple[Outcome, ...], TypeRef | None]:
        """(result, empty statuses, empty value) when one type describes every success answer,
        else (None, (), None, outcomes, their union)."""
        success = [r for r in responses if r.status.startswith("2")] or [
            r for r in responses if r.status == "default"]
        typed = [r for r in success if r.type is not None]
        if not typed:
            return None, tuple(int(r.status) for r in success if r.status.isdigit()), None, (), None
        explicit = all(r.status.isdigit() for r in success)
        one_json = all(r.media == "json" and r.type == typed[0].type for r in typed)
        if explicit and one_json:
            bare = tuple(int(r.status) for r in success if r.type is None)
            result = typed[0].type
            assert result is not None
            if not bare:
                return result, (), None, (), None
            try:
                return result, bare, self._empty(result, set()), (), None
            except ValueError:
                pass
        ordered = sorted(success, key=lambda r: (not r.status.isdigit(), r.status == "default"))
        outcomes = []
        for r in ordered:
            if r.status.isdigit():
                outcomes.append(Outcome((int(r.status),), r.media, r.type))
            elif r.status == "default":
                outcomes.append(Outcome((), r.media, r.type))
            else:
                low = int(r.status[0]) * 100
                outcomes.append(Outcome((), r.media, r.type, low, low + 99))
        types = list(dict.fromkeys(o.type if o.type is not None else NULL for o in outcomes))
        types.sort(key=lambda t: t.kind == "null")
        union = types[0] if len(types) == 1 else TypeRef("union", variants=tuple(types))
        return None, (), None, tuple(outcomes), union

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
                    out[p.json_name] = self._empty(p.type, seen | {t.name})
            return out
        raise ValueError(f"a {t.name or t.kind} has no empty value")
