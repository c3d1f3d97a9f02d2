"""`uapi handlers`: the TagResolver rule checked statically, and scaffolds Connexion can call.

A small spec of its own (written to tmp_path) exercises the corners: a tag that is declared but
unused, one that is used but not declared, an operation without tags, a builtin-shadowing query
parameter, header parameters, optional security and a renamed body. The real project must pass.
"""
from __future__ import annotations

import asyncio
import importlib.util
import inspect
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import yaml

from uapi.app import TagResolver
from uapi.cli import main
from uapi.handlers_check import expected_handlers
from uapi.settings import PROJECT_ROOT
from uapi.spec_core import DEFAULT_SPEC, iter_operations, load_spec

TRICKY_SUMMARY = 'Read a "widget" with \\ and """ in it'

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Widgets", "version": "1"},
    "tags": [{"name": "Widgets", "description": "Widgets of the shop."}, {"name": "Unused"}],
    "security": [{"bearer": []}],
    "paths": {
        "/widgets/{widgetId}": {
            "parameters": [{"name": "widgetId", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "get": {
                "operationId": "getWidget", "tags": ["Widgets"], "summary": TRICKY_SUMMARY,
                "description": "Answers one widget.",
                "parameters": [
                    {"name": "filter", "in": "query", "schema": {"type": "string"}},
                    {"name": "pageSize", "in": "query", "schema": {"type": "integer", "default": 10}},
                    {"name": "tags", "in": "query", "required": True,
                     "schema": {"type": "array", "items": {"type": "string"}}},
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                    {"name": "sortOrder", "in": "query", "schema": {"type": "string", "default": "ascending"}},
                    {"name": "ratio", "in": "query", "schema": {"type": "number", "nullable": True}},
                ],
                "responses": {"200": {"description": "ok"}},
            },
            "put": {
                "operationId": "replaceWidget", "tags": ["Widgets"], "summary": "Replace a widget",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Widget"}}}},
                "responses": {"200": {"description": "ok"}},
            },
        },
        "/gadgets": {
            "post": {
                "operationId": "createGadget", "tags": ["Gadgets"], "summary": "Create gadgets",
                "security": [{}, {"bearer": []}],
                "requestBody": {"x-body-name": "gadgets", "content": {"application/json": {
                    "schema": {"type": "array", "items": {"type": "number"}}}}},
                "responses": {"200": {"description": "ok"}},
            },
            "get": {
                "operationId": "listGadgets", "security": [],
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "default": 5}}],
                "responses": {"200": {"description": "ok"}},
            },
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Widget": {"type": "object", "properties": {"name": {"type": "string"}}}},
    },
}

HAND_WRITTEN_WIDGETS = '''"""Widgets, by hand."""
from __future__ import annotations

import json


async def get_widget(widget_id: int, tags: list[str], token_info: dict) -> dict:
    return {"id": widget_id, "tags": json.dumps(tags)}
'''


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(SPEC, sort_keys=False), encoding="utf-8")
    return path


def uapi_handlers(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["handlers", *args])
    out, err = capsys.readouterr()
    return status, out, err


def import_file(path: Path) -> ModuleType:
    """Import a scaffolded module under a unique name: the real `handlers` package stays put."""
    spec = importlib.util.spec_from_file_location(f"scaffolded_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parameters(function: Any) -> list[tuple[str, Any, Any]]:
    """(name, annotation, default) of each parameter, annotations evaluated."""
    signature = inspect.signature(function, eval_str=True)
    return [(p.name, p.annotation, p.default) for p in signature.parameters.values()]


# --- the real project ---------------------------------------------------------------------

def test_the_project_has_a_handler_for_every_operation_and_no_stray_handler() -> None:
    result = subprocess.run([sys.executable, "-m", "uapi.cli", "handlers"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    operations = sum(1 for _ in iter_operations(load_spec(DEFAULT_SPEC)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"ok: {operations} operations, all handled"


def test_the_check_resolves_exactly_like_the_server() -> None:
    document = load_spec(DEFAULT_SPEC)
    expected, unresolvable = expected_handlers(document)
    assert not unresolvable
    by_operation = {handler.operation_id: f"uapi.handlers.{handler.module}.{handler.function}" for handler in expected}
    for op in iter_operations(document):
        fake = SimpleNamespace(_operation=op.node, operation_id=op.node["operationId"])
        assert TagResolver().resolve_operation_id(fake) == by_operation[op.node["operationId"]]


def test_scaffolds_of_the_real_spec_take_the_arguments_of_the_real_handlers(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # The hand-written handlers are what Connexion demonstrably calls (the API tests), so a
    # scaffold must accept exactly their arguments.
    import uapi.handlers.oauth
    import uapi.handlers.phonecalls

    status, out, _ = uapi_handlers(capsys, "--handlers", str(tmp_path / "handlers"), "--scaffold")
    assert status == 0, out
    for real in (uapi.handlers.phonecalls, uapi.handlers.oauth):
        name = real.__name__.rsplit(".", 1)[1]
        scaffolded = import_file(tmp_path / "handlers" / f"{name}.py")
        functions = [n for n, f in inspect.getmembers(scaffolded, inspect.iscoroutinefunction)]
        assert functions, name
        for function in functions:
            mine = {p for p, _, _ in parameters(getattr(scaffolded, function))}
            theirs = set(inspect.signature(getattr(real, function)).parameters)
            assert mine == theirs, (name, function)


# --- findings ------------------------------------------------------------------------------

def test_reports_missing_and_orphan_handlers(tmp_path: Path, spec_file: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    package = tmp_path / "handlers"
    package.mkdir()
    (package / "widgets.py").write_text(
        "from shop import replace_widget  # an imported handler counts\n\n"
        "async def get_widget(): ...\n\n"
        "async def old_widget(): ...\n\n"      # orphan: public, async, no operation
        "async def _helper(): ...\n\n"         # private: not a handler
        "def helper(): ...\n")                 # sync: not a handler
    (package / "unused.py").write_text("async def leftover(): ...\n")   # declared tag, no operations
    (package / "common.py").write_text("async def shared(): ...\n")     # not named after a tag: ignored

    status, out, err = uapi_handlers(capsys, "--spec", str(spec_file), "--handlers", str(package))

    assert status == 1
    assert out.splitlines() == [
        "missing handler: handlers.default.list_gadgets (GET /gadgets, operationId listGadgets)",
        "missing handler: handlers.gadgets.create_gadget (POST /gadgets, operationId createGadget)",
        f"{package / 'unused.py'}:1: handlers.unused.leftover has no operation",
        f"{package / 'widgets.py'}:5: handlers.widgets.old_widget has no operation",
    ]
    assert "2 operation(s) without a handler, 2 handler(s) without an operation" in err


def test_an_operation_without_operation_id_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                "paths": {"/x": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(document))
    status, out, _ = uapi_handlers(capsys, "--spec", str(path), "--handlers", str(tmp_path / "handlers"))
    assert status == 1 and "GET /x: no operationId" in out


@pytest.mark.parametrize("broken", ["spec", "module"])
def test_unreadable_input_is_an_error_and_status_2(tmp_path: Path, spec_file: Path, broken: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    package = tmp_path / "handlers"
    package.mkdir()
    if broken == "spec":
        spec_file.write_text("paths: [\n")
    else:
        (package / "widgets.py").write_text("async def get_widget(:\n")
    status, out, err = uapi_handlers(capsys, "--spec", str(spec_file), "--handlers", str(package))
    assert status == 2 and out == ""
    assert err.startswith("uapi handlers: ") and "Traceback" not in err, err
    assert str(spec_file if broken == "spec" else package / "widgets.py") in err.splitlines()[0]


# --- scaffolding ---------------------------------------------------------------------------

def test_scaffold_writes_callable_stubs_with_connexion_signatures(tmp_path: Path, spec_file: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    package = tmp_path / "handlers"   # does not exist yet: the package is created

    status, out, _ = uapi_handlers(capsys, "--spec", str(spec_file), "--handlers", str(package), "--scaffold")

    assert status == 0, out
    assert out.splitlines()[-1] == "ok: 4 operations, all handled"
    assert (package / "__init__.py").is_file()
    assert sorted(p.name for p in package.glob("*.py")) == ["__init__.py", "default.py", "gadgets.py", "widgets.py"]
    widgets, gadgets, default = (import_file(package / f"{name}.py") for name in ("widgets", "gadgets", "default"))

    # Path params, then required query params, body and token_info; then the defaulted ones,
    # with the spec's defaults. Header parameters are not passed; `filter` shadows a builtin.
    empty = inspect.Parameter.empty
    assert parameters(widgets.get_widget) == [
        ("widget_id", int, empty), ("tags", list[str], empty), ("token_info", dict[str, Any], empty),
        ("filter_", str | None, None), ("page_size", int, 10), ("sort_order", str, "ascending"),
        ("ratio", float | None, None)]
    assert parameters(widgets.replace_widget) == [
        ("widget_id", int, empty), ("body", dict[str, Any], empty), ("token_info", dict[str, Any], empty)]
    # `security: [{}, ...]` makes the token optional; x-body-name renames the body.
    assert parameters(gadgets.create_gadget) == [
        ("token_info", dict[str, Any] | None, None), ("gadgets", list[float] | None, None)]
    assert parameters(default.list_gadgets) == [("limit", int, 5)]   # `security: []`: no token_info

    assert str(widgets.__doc__).startswith("Handlers of the Widgets tag: Widgets of the shop.")
    assert str(gadgets.__doc__).startswith("Handlers of the Gadgets tag.")
    doc = str(inspect.getdoc(widgets.get_widget))
    assert doc.startswith(TRICKY_SUMMARY + ".\n\nAnswers one widget.")
    assert "GET /widgets/{widgetId}, operationId getWidget" in doc
    with pytest.raises(NotImplementedError, match="getWidget"):
        asyncio.run(widgets.get_widget(1, ["a"], {}))


def test_scaffold_keeps_existing_functions_and_is_idempotent(tmp_path: Path, spec_file: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    package = tmp_path / "handlers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "widgets.py").write_text(HAND_WRITTEN_WIDGETS)
    args = ("--spec", str(spec_file), "--handlers", str(package), "--scaffold")

    status, out, _ = uapi_handlers(capsys, *args)
    assert status == 0, out
    assert f"scaffolded {package / 'widgets.py'}: replace_widget" in out
    text = (package / "widgets.py").read_text()
    # The hand-written part is intact; `Any` was imported below the existing imports.
    assert text.startswith(HAND_WRITTEN_WIDGETS.replace("import json\n", "import json\nfrom typing import Any\n"))
    widgets = import_file(package / "widgets.py")
    assert asyncio.run(widgets.get_widget(7, ["x"], {})) == {"id": 7, "tags": '["x"]'}
    assert [name for name, _, _ in parameters(widgets.replace_widget)] == ["widget_id", "body", "token_info"]

    before = {path: path.read_bytes() for path in package.glob("*.py")}
    status, out, _ = uapi_handlers(capsys, *args)
    assert status == 0 and out == "ok: 4 operations, all handled\n"
    assert {path: path.read_bytes() for path in package.glob("*.py")} == before


def test_scaffold_does_not_hide_orphans(tmp_path: Path, spec_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package = tmp_path / "handlers"
    package.mkdir()
    (package / "widgets.py").write_text("async def renamed_get_widget(): ...\n")
    status, out, _ = uapi_handlers(capsys, "--spec", str(spec_file), "--handlers", str(package), "--scaffold")
    assert status == 1
    assert "handlers.widgets.renamed_get_widget has no operation" in out
    assert "missing handler" not in out   # everything missing was written
    assert "renamed_get_widget" in (package / "widgets.py").read_text()
