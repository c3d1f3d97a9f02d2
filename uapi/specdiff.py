"""`uapi diff OLD NEW`: which changes between two spec versions break existing clients.

$refs are resolved on both sides, so moving an inline schema into components
(or renaming a component) is not a change; only the structure a client sees is
compared. Descriptions, summaries and examples are ignored.

Fields are judged by direction: a client *sends* request fields and parameters
and *reads* response fields, so a removed response field breaks it while a new
optional request field does not. Constraint tightening (smaller maxLength, new
pattern, a removed enum value, ...) is reported as breaking wherever it occurs,
which errs on the side of flagging.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from uapi.cli_errors import UsageError
from uapi.spec_core import (
    SpecError,
    iter_operations,
    load_spec,
    operation_parameters,
    parameter_schema,
    resolve,
)

Node = dict[str, Any]
# Keyword -> value meaning "no constraint"; a new value past it tightens.
_UPPER_BOUNDS = ("maxLength", "maximum", "maxItems", "maxProperties")
_LOWER_BOUNDS = {"minLength": 0, "minimum": None, "minItems": 0, "minProperties": 0}
_FLAGS = ("exclusiveMaximum", "exclusiveMinimum", "uniqueItems")  # false -> true tightens


@dataclass(frozen=True)
class Change:
    method: str
    path: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.where}: {self.what}"


@dataclass
class Report:
    breaking: list[Change] = field(default_factory=list)
    non_breaking: list[Change] = field(default_factory=list)

    @property
    def has_breaking(self) -> bool:
        return bool(self.breaking)

    def render(self) -> str:
        lines = ["Breaking changes:"] + ([str(c) for c in self.breaking] or ["(none)"])
        lines += ["Non-breaking changes:"] + ([str(c) for c in self.non_breaking] or ["(none)"])
        return "\n".join(lines)


def diff(old: Node, new: Node) -> Report:
    report = Report()
    old_ops = {(op.path, op.method): op for op in iter_operations(old)}
    new_ops = {(op.path, op.method): op for op in iter_operations(new)}
    for key, old_op in old_ops.items():
        differ = _OperationDiff(old, new, report, old_op.method.upper(), old_op.path)
        if key not in new_ops:
            differ.add(True, "operation", "removed")
        else:
            differ.compare(old_op, new_ops[key])
    for key, new_op in new_ops.items():
        if key not in old_ops:
            _OperationDiff(old, new, report, new_op.method.upper(), new_op.path).add(False, "operation", "added")
    return report


class _OperationDiff:
    """Compares one operation; `add` files each change under the operation."""

    def __init__(self, old: Node, new: Node, report: Report, method: str, path: str) -> None:
        self.old, self.new, self.report = old, new, report
        self.method, self.path = method, path

    def add(self, breaking: bool, where: str, what: str) -> None:
        change = Change(self.method, self.path, where, what)
        target = self.report.breaking if breaking else self.report.non_breaking
        if change not in target:  # a schema shared by two media types reports once
            target.append(change)

    def compare(self, old_op: Any, new_op: Any) -> None:
        self._parameters(operation_parameters(self.old, old_op), operation_parameters(self.new, new_op))
        self._request_body(old_op.node.get("requestBody"), new_op.node.get("requestBody"))
        self._responses(old_op.node.get("responses") or {}, new_op.node.get("responses") or {})

    def _parameters(self, old: dict[tuple[str, str], Node], new: dict[tuple[str, str], Node]) -> None:
        for key, param in old.items():
            where = f"parameter {key[0]}.{key[1]}"
            if key not in new:
                self.add(True, where, "removed")
                continue
            was, now = bool(param.get("required")), bool(new[key].get("required"))
            if was != now:
                self.add(now, where, "became required" if now else "became optional")
            self._schema(parameter_schema(param), parameter_schema(new[key]), where, "", "request", frozenset())
        for key, param in new.items():
            if key not in old:
                required = bool(param.get("required"))
                self.add(required, f"parameter {key[0]}.{key[1]}",
                         "new required parameter" if required else "optional parameter added")

    def _request_body(self, old_raw: Any, new_raw: Any) -> None:
        old, _ = resolve(self.old, old_raw)
        new, _ = resolve(self.new, new_raw)
        if not old and not new:
            return
        if not new:
            self.add(True, "request body", "removed")
            return
        now = bool(new.get("required"))
        if not old:
            self.add(now, "request body", "new required request body" if now else "optional request body added")
            return
        if now != bool(old.get("required")):
            self.add(now, "request body", "became required" if now else "became optional")
        self._content(old.get("content") or {}, new.get("content") or {}, "request body", "request")

    def _responses(self, old: Node, new: Node) -> None:
        for code, old_raw in old.items():
            where = f"response {code}"
            if code not in new:
                self.add(True, where, "removed")
                continue
            old_response, _ = resolve(self.old, old_raw)
            new_response, _ = resolve(self.new, new[code])
            self._content(old_response.get("content") or {}, new_response.get("content") or {}, where, "response")
        for code in new:
            if code not in old:
                self.add(False, f"response {code}", "added")

    def _content(self, old: Node, new: Node, where: str, direction: str) -> None:
        for media_type, media in old.items():
            if media_type not in new:
                self.add(True, where, f"media type {media_type} removed")
            else:
                self._schema(media.get("schema"), new[media_type].get("schema"), where, "", direction, frozenset())
        for media_type in new:
            if media_type not in old:
                self.add(False, where, f"media type {media_type} added")

    # --- schemas -------------------------------------------------------------

    def _flatten(self, document: Node, raw: Any) -> Node:
        """Resolve refs and merge `allOf` parts, the usual way to compose objects."""
        node, _ = resolve(document, raw)
        if not isinstance(node, dict):
            return {}
        if "allOf" not in node:
            return node
        merged: Node = {k: v for k, v in node.items() if k != "allOf"}
        properties = dict(merged.get("properties") or {})
        required = set(merged.get("required") or [])
        for part in node["allOf"]:
            part = self._flatten(document, part)
            properties.update(part.get("properties") or {})
            required |= set(part.get("required") or [])
            for key, value in part.items():
                merged.setdefault(key, value)
        merged["properties"], merged["required"] = properties, sorted(required)
        return merged

    def _schema(self, old_raw: Any, new_raw: Any, base: str, path: str, direction: str,
                seen: frozenset[tuple[str, str]]) -> None:
        if old_raw is None or new_raw is None:
            return
        if isinstance(old_raw, dict) and isinstance(new_raw, dict) and "$ref" in old_raw and "$ref" in new_raw:
            pair = (str(old_raw["$ref"]), str(new_raw["$ref"]))
            if pair in seen:  # recursive schema: this pair is already being compared
                return
            seen = seen | {pair}
        old, new = self._flatten(self.old, old_raw), self._flatten(self.new, new_raw)
        where = f"{base} {path}" if path else base
        if not self._same_type(old, new, where):
            return  # the subtree of a retyped value is not comparable
        self._constraints(old, new, where)
        self._enum(old.get("enum"), new.get("enum"), where)
        self._properties(old, new, base, path, direction, seen)
        if old.get("items") is not None and new.get("items") is not None:
            self._schema(old["items"], new["items"], base, f"{path}[]", direction, seen)
        old_extra, new_extra = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if old_extra is not False and new_extra is False:
            self.add(True, where, "additional properties no longer allowed")
        elif old_extra is False and new_extra is not False:
            self.add(False, where, "additional properties now allowed")
        elif isinstance(old_extra, dict) and isinstance(new_extra, dict):
            self._schema(old_extra, new_extra, base, f"{path}{{*}}", direction, seen)
        for key in ("oneOf", "anyOf"):  # compared by position: reordering shows up as changes
            for index, (o, n) in enumerate(zip(old.get(key) or [], new.get(key) or [], strict=False)):
                self._schema(o, n, base, f"{path}<{key}[{index}]>", direction, seen)

    def _same_type(self, old: Node, new: Node, where: str) -> bool:
        before, after = old.get("type"), new.get("type")
        if before != after:
            if before is None:
                self.add(True, where, f"type restricted to {after}")
            elif after is None:
                self.add(False, where, f"type {before} no longer enforced")
            else:
                self.add(True, where, f"type changed from {before} to {after}")
                return False
        if bool(old.get("nullable")) != bool(new.get("nullable")):
            self.add(not new.get("nullable"), where, "no longer nullable" if not new.get("nullable") else "now nullable")
        return True

    def _constraints(self, old: Node, new: Node, where: str) -> None:
        for key in ("pattern", "format"):
            before, after = old.get(key), new.get(key)
            if before != after:
                self.add(after is not None, where, f"{key} {_show(before)} -> {_show(after)}")
        bounds = [(key, None, False) for key in _UPPER_BOUNDS] + [(k, d, True) for k, d in _LOWER_BOUNDS.items()]
        for key, default, is_lower in bounds:
            before, after = old.get(key, default), new.get(key, default)
            if before == after:
                continue
            if is_lower:
                tightened = after is not None and (before is None or after > before)
            else:
                tightened = after is not None and (before is None or after < before)
            self.add(tightened, where, f"{key} {'tightened' if tightened else 'loosened'}: {_show(before)} -> {_show(after)}")
        for key in _FLAGS:
            if bool(old.get(key)) != bool(new.get(key)):
                self.add(bool(new.get(key)), where, f"{key} {'set' if new.get(key) else 'cleared'}")

    def _enum(self, before: list[Any] | None, after: list[Any] | None, where: str) -> None:
        if before is None and after is None:
            return
        if before is None:
            self.add(True, where, f"enum {after} introduced")
        elif after is None:
            self.add(False, where, "enum restriction removed")
        else:
            for value in before:
                if value not in after:
                    self.add(True, where, f"enum value {value!r} removed")
            for value in after:
                if value not in before:
                    self.add(False, where, f"enum value {value!r} added")

    def _properties(self, old: Node, new: Node, base: str, path: str, direction: str,
                    seen: frozenset[tuple[str, str]]) -> None:
        old_props, new_props = old.get("properties") or {}, new.get("properties") or {}
        old_required, new_required = set(old.get("required") or []), set(new.get("required") or [])
        request = direction == "request"
        for name, schema in old_props.items():
            field_path = f"{path}.{name}" if path else name
            where = f"{base} {field_path}"
            if name not in new_props:
                # A removed request field only breaks clients if the server now rejects it.
                self.add(not request or new.get("additionalProperties") is False, where, "field removed")
                continue
            was, now = name in old_required, name in new_required
            if was != now:
                # Requests: a newly required field breaks senders. Responses: a field
                # that may now be absent breaks readers.
                self.add(now if request else was, where, "became required" if now else "became optional")
            self._schema(schema, new_props[name], base, field_path, direction, seen)
        for name in new_props:
            if name not in old_props:
                where = f"{base} {path}.{name}" if path else f"{base} {name}"
                required = request and name in new_required
                self.add(required, where, "new required field" if required else "field added")


def _show(value: Any) -> str:
    return "none" if value is None else repr(value) if isinstance(value, str) else str(value)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", help="the published spec (YAML or JSON)")
    parser.add_argument("new", help="the proposed spec (YAML or JSON)")


def run(args: argparse.Namespace) -> int:
    try:
        old, new = load_spec(args.old), load_spec(args.new)
        report = diff(old, new)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    print(report.render())
    return 1 if report.has_breaking else 0
