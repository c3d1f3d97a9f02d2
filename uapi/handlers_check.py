"""`uapi handlers`: operations without a handler, handlers without an operation, and scaffolding.

The server resolves each operation to `handlers.<first tag, lowercased>.<snake_case operationId>`
(:class:`uapi.app.TagResolver`), so a renamed operationId or a forgotten handler only shows up as
an import error when the app starts. This command checks the same rule statically, without
importing the handler modules (a broken handler must not hide the others), and with
``--scaffold`` writes the missing functions with the signature Connexion will call them with.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uapi.cli_errors import UsageError
from uapi.package_data import HANDLERS_PACKAGE, default_spec, handlers_dir
from uapi.spec_core import Operation, SpecError, iter_operations, load_spec, operation_parameters, resolve

MAX_LINE = 110   # longer signatures are written one parameter per line
SCALAR_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


def _quiet_import_of_connexion() -> None:
    # Connexion imports Starlette's test client, which warns about httpx (see uapi/serve.py).
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")


def function_name(operation_id: str) -> str:
    # The resolver's own conversion, so the check can never disagree with the server.
    _quiet_import_of_connexion()
    from uapi.app import snake_case

    return str(snake_case(operation_id))


def argument_name(spec_name: str) -> str:
    # Connexion's pythonic_params conversion (startIndex -> start_index, filter -> filter_).
    _quiet_import_of_connexion()
    from connexion.decorators.parameter import pythonic

    return str(pythonic(spec_name))


@dataclass(frozen=True)
class Param:
    name: str
    annotation: str
    default: str | None = None   # Python source of the default; None: the argument is required

    def source(self) -> str:
        return f"{self.name}: {self.annotation}" + ("" if self.default is None else f" = {self.default}")


@dataclass(frozen=True)
class Expected:
    """The handler function one operation resolves to, and what Connexion passes it."""
    tag: str
    module: str
    function: str
    operation_id: str
    method: str
    path: str
    summary: str
    description: str
    params: tuple[Param, ...]

    @property
    def where(self) -> str:
        return f"{self.method.upper()} {self.path}, operationId {self.operation_id}"


@dataclass
class ModuleInfo:
    path: Path
    defined: set[str] = field(default_factory=set)              # every top-level binding
    handlers: dict[str, int] = field(default_factory=dict)      # public async def -> line


@dataclass
class Report:
    operations: int
    expected: list[Expected]
    missing: list[Expected]
    orphans: list[tuple[Path, int, str, str]]   # (file, line, module, function)
    unresolvable: list[str]                     # operations without an operationId

    @property
    def ok(self) -> bool:
        return not (self.missing or self.orphans or self.unresolvable)


class HandlersError(Exception):
    """A handler module cannot be parsed."""


# --- what the spec expects ---------------------------------------------------------------

def annotation(document: dict[str, Any], schema: Any) -> str:
    schema, _ = resolve(document, schema)
    if not isinstance(schema, dict):
        return "Any"
    kind = schema.get("type")
    if kind == "array":
        hint = f"list[{annotation(document, schema.get('items'))}]"
    elif kind == "object" or (kind is None and "properties" in schema):
        hint = "dict[str, Any]"
    else:
        hint = SCALAR_TYPES.get(str(kind), "Any")
    return f"{hint} | None" if schema.get("nullable") and hint != "Any" else hint


def _optional(hint: str) -> str:
    return hint if hint == "Any" or hint.endswith("| None") else f"{hint} | None"


def _query_param(document: dict[str, Any], param: dict[str, Any]) -> Param:
    schema, _ = resolve(document, param.get("schema"))
    hint = annotation(document, schema)
    name = argument_name(str(param["name"]))
    if param.get("required"):
        return Param(name, hint)
    default = schema.get("default") if isinstance(schema, dict) else None
    # A list or dict default would be one object shared by every call; Connexion fills in
    # the spec's default on every request anyway, so None is as good and safe.
    if default is None or isinstance(default, (list, dict)):
        return Param(name, _optional(hint), "None")
    return Param(name, hint, _literal(default))


def _literal(value: Any) -> str:
    # JSON string syntax is valid Python and gives the project's double quotes.
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def _security(document: dict[str, Any], op: Operation) -> str:
    """'none', 'required' or 'optional' (an empty requirement `{}` allows anonymous calls)."""
    requirements = op.node["security"] if "security" in op.node else document.get("security")
    if not requirements:
        return "none"
    return "optional" if any(not requirement for requirement in requirements) else "required"


def expected_params(document: dict[str, Any], op: Operation) -> tuple[Param, ...]:
    """Arguments in a valid Python order: everything required first, then the defaulted ones."""
    params = operation_parameters(document, op)
    required: list[Param] = []
    defaulted: list[Param] = []
    for name in re.findall(r"{([^}/]+)}", op.path):
        param = params.get(("path", name), {})
        required.append(Param(argument_name(name), annotation(document, param.get("schema", {"type": "string"}))))
    for (where, _), param in params.items():
        if where == "query":   # header and cookie parameters are not passed to handlers
            query = _query_param(document, param)
            (required if query.default is None else defaulted).append(query)
    body, _ = resolve(document, op.node.get("requestBody"))
    if isinstance(body, dict):
        media: Any = next(iter((body.get("content") or {}).values()), {})
        hint = annotation(document, media.get("schema") if isinstance(media, dict) else None)
        name = argument_name(str(body.get("x-body-name", "body")))
        if body.get("required"):
            required.append(Param(name, hint))
        else:
            defaulted.insert(0, Param(name, _optional(hint), "None"))
    security = _security(document, op)
    if security == "required":
        required.append(Param("token_info", "dict[str, Any]"))
    elif security == "optional":
        defaulted.insert(0, Param("token_info", "dict[str, Any] | None", "None"))
    return tuple(required + defaulted)


def expected_handlers(document: dict[str, Any]) -> tuple[list[Expected], list[str]]:
    """Every operation's handler (once per function), and operations that cannot resolve."""
    found: dict[tuple[str, str], Expected] = {}
    unresolvable: list[str] = []
    for op in iter_operations(document):
        operation_id = op.node.get("operationId")
        if not isinstance(operation_id, str) or not operation_id:
            unresolvable.append(f"{op.method.upper()} {op.path}")
            continue
        tags = op.node.get("tags") or ["default"]   # the same fallback as TagResolver
        expected = Expected(
            tag=str(tags[0]), module=str(tags[0]).lower(), function=function_name(operation_id), operation_id=operation_id,
            method=op.method, path=op.path, summary=str(op.node.get("summary") or "").strip(),
            description=str(op.node.get("description") or "").strip(), params=expected_params(document, op))
        found.setdefault((expected.module, expected.function), expected)
    return list(found.values()), unresolvable


def tag_modules(document: dict[str, Any], expected: list[Expected]) -> set[str]:
    declared = {str(tag.get("name")).lower() for tag in document.get("tags") or [] if isinstance(tag, dict)}
    return declared | {handler.module for handler in expected}


# --- what the handlers package has -------------------------------------------------------

def read_names(tree: ast.Module) -> set[str]:
    """Every name bound at the top level: a handler may also be imported or assigned."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


def read_module(path: Path) -> ModuleInfo:
    info = ModuleInfo(path)
    if not path.is_file():
        return info
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise HandlersError(f"{path}:{exc.lineno}: cannot parse: {exc.msg}") from exc
    info.defined = read_names(tree)
    # Only public coroutine functions count as handlers: sync helpers and _private ones are not.
    info.handlers = {node.name: node.lineno for node in tree.body
                     if isinstance(node, ast.AsyncFunctionDef) and not node.name.startswith("_")}
    return info


def check(document: dict[str, Any], handlers_dir: Path) -> Report:
    expected, unresolvable = expected_handlers(document)
    modules = {name: read_module(handlers_dir / f"{name}.py") for name in sorted(tag_modules(document, expected))}
    missing = [handler for handler in expected if handler.function not in modules[handler.module].defined]
    wanted = {(handler.module, handler.function) for handler in expected}
    orphans = [(info.path, line, name, function)
               for name, info in modules.items()
               for function, line in sorted(info.handlers.items(), key=lambda item: item[1])
               if (name, function) not in wanted]
    return Report(sum(1 for _ in iter_operations(document)), expected, missing, orphans, unresolvable)


# --- scaffolding -------------------------------------------------------------------------

def _docstring(handler: Expected) -> str:
    title = handler.summary or f"{handler.method.upper()} {handler.path}"
    parts = [title if title.endswith((".", "!", "?")) else f"{title}."]
    if handler.description:
        parts.append(handler.description)
    parts.append(f"{handler.where}.")
    text = _escape("\n\n".join(parts))
    return textwrap.indent(f'"""{text}\n"""', "    ")


def _escape(text: str) -> str:
    """Make spec prose safe inside a triple-quoted docstring."""
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def render(handler: Expected) -> str:
    head = f"async def {handler.function}("
    arguments = ", ".join(param.source() for param in handler.params)
    if len(f"{head}{arguments}) -> Any:") <= MAX_LINE:
        signature = f"{head}{arguments}) -> Any:"
    else:
        lines = "".join(f"    {param.source()},\n" for param in handler.params)
        signature = f"{head}\n{lines}) -> Any:"
    todo = f'    raise NotImplementedError("{handler.operation_id}")'
    return f"{signature}\n{_docstring(handler)}\n{todo}\n"


def _new_module(module: str, document: dict[str, Any], handlers: list[Expected]) -> str:
    declared = [item for item in document.get("tags") or []
                if isinstance(item, dict) and str(item.get("name")).lower() == module]
    tag = str(declared[0]["name"]) if declared else handlers[0].tag
    description = str(declared[0].get("description") or "").strip() if declared else ""
    title = f"Handlers of the {tag} tag" + (f": {description}" if description else ".")
    return (f'"""{_escape(title)}\n\nScaffolded by `uapi handlers --scaffold`; fill in each function."""\n'
            "from __future__ import annotations\n\nfrom typing import Any\n")


def _with_any_import(text: str) -> str:
    """Add `from typing import Any` after the module's last top-level import, unless bound."""
    tree = ast.parse(text)
    if "Any" in read_names(tree):
        return text
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    has_docstring = bool(tree.body) and isinstance(tree.body[0], ast.Expr) \
        and isinstance(tree.body[0].value, ast.Constant) and isinstance(tree.body[0].value.value, str)
    # After the imports (so after any `from __future__`), else after the docstring, else on top.
    anchor = imports[-1] if imports else (tree.body[0] if has_docstring else None)
    at = (anchor.end_lineno or 0) if anchor is not None else 0
    lines = text.splitlines(keepends=True)
    return "".join(lines[:at] + ["from typing import Any\n"] + lines[at:])


def scaffold(document: dict[str, Any], handlers_dir: Path, missing: list[Expected]) -> dict[Path, list[str]]:
    """Append the missing functions to their modules; never touches an existing function."""
    written: dict[Path, list[str]] = {}
    if missing and not handlers_dir.is_dir():
        handlers_dir.mkdir(parents=True)
    if missing and not (handlers_dir / "__init__.py").exists():
        (handlers_dir / "__init__.py").write_text('"""Operation handlers, one module per spec tag."""\n')
    for module in sorted({handler.module for handler in missing}):
        path = handlers_dir / f"{module}.py"
        functions = [handler for handler in missing if handler.module == module]
        text = path.read_text(encoding="utf-8") if path.is_file() else _new_module(module, document, functions)
        text = _with_any_import(text).rstrip("\n") + "\n"
        text += "".join(f"\n\n{render(handler)}" for handler in functions)
        ast.parse(text, filename=str(path))   # never leave a module that does not parse
        path.write_text(text, encoding="utf-8")
        written[path] = [handler.function for handler in functions]
    return written


# --- command line ------------------------------------------------------------------------

def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", type=Path, default=None, metavar="FILE",
                        help="OpenAPI document (default: openapi/uapi.yaml in the working directory if there "
                             "is one, else the installed contract)")
    parser.add_argument("--handlers", type=Path, default=None, metavar="DIR",
                        help=f"the handlers package directory (default: the server's own, {HANDLERS_PACKAGE}, "
                             f"handlers/ in the repository)")
    parser.add_argument("--scaffold", action="store_true",
                        help="write the missing handler functions (raising NotImplementedError)")


def run(args: argparse.Namespace) -> int:
    if args.handlers is None:
        args.handlers = handlers_dir()
    if args.spec is None:
        args.spec = default_spec()
    try:
        document = load_spec(args.spec)
        report = check(document, args.handlers)
        if args.scaffold and report.missing:
            for path, functions in scaffold(document, args.handlers, report.missing).items():
                print(f"scaffolded {path}: {', '.join(functions)}")
            report = check(document, args.handlers)
    except (SpecError, HandlersError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:   # --scaffold into a folder it cannot write
        raise UsageError(f"--handlers {args.handlers}: cannot write: {exc.strerror or exc}") from None
    for operation in report.unresolvable:
        print(f"{operation}: no operationId, so no handler can be resolved")
    for handler in report.missing:
        print(f"missing handler: handlers.{handler.module}.{handler.function} ({handler.where})")
    for path, line, module, function in report.orphans:
        print(f"{path}:{line}: handlers.{module}.{function} has no operation")
    if not report.ok:
        hint = " (uapi handlers --scaffold writes the missing ones)" if report.missing else ""
        print(f"{len(report.missing) + len(report.unresolvable)} operation(s) without a handler, "
              f"{len(report.orphans)} handler(s) without an operation{hint}", file=sys.stderr)
        return 1
    print(f"ok: {report.operations} operations, all handled")
    return 0
