"""Every operation of every generated client of the corpus and the probes, called
against a mock server made from the same document (tests/clients/mock_server.py).

A call must complete without NameError, TypeError or an import error, be accepted
by the mock (its parameters and body check out against the document) and decode
the mock's answer. This is the test for the class of bugs of which "an operation
whose request body is an array fails at call time with NameError" was one.
Python's `Client` and `AsyncClient` and TypeScript's shipped `dist/index.js` are
each called once per operation.
"""
from __future__ import annotations

import asyncio
import functools
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.clients.call_plan import Call, plan, python_arguments, typescript_arguments
from tests.clients.conftest import DOCUMENTS, HERE, package_name
from tests.clients.mock_server import MockServer
from tests.clients.schema_values import SchemaValues
from uapi.codegen.model import Api, load_api
from uapi.codegen.spec import load_document

RUNNER = HERE / "ts" / "call_all.mjs"
IDS = [f"{p.parent.name}/{p.stem}" for p in DOCUMENTS]


@functools.cache
def _calls(spec: Path) -> tuple[Api, list[Call]]:
    api = load_api(spec, package_name(spec))
    values = SchemaValues(load_document(spec))
    return api, [plan(values, op) for op in api.operations]


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer({package_name(spec): load_document(spec) for spec in DOCUMENTS}) as server:
        yield server


def _import(generated: Path, spec: Path) -> tuple[ModuleType, ModuleType]:
    sys.path.insert(0, str(generated / "py" / spec.stem))
    try:
        name = package_name(spec)
        return importlib.import_module(name), importlib.import_module(name + ".models")
    finally:
        sys.path.remove(str(generated / "py" / spec.stem))


def _answer_failure(call: Call, result: Any) -> str | None:
    # Every mock answer carries a body when the operation declares one, so None means it went unread.
    if call.operation.has_result and result is None:
        return "no decoded result"
    return None


@pytest.mark.parametrize("spec", DOCUMENTS, ids=IDS)
def test_python_client_calls_every_operation(spec: Path, generated: Path, mock: MockServer) -> None:
    api, calls = _calls(spec)
    package, models = _import(generated, spec)
    base_url = f"{mock.base_url}/{package_name(spec)}"
    failures = []

    with package.Client(base_url, token="mock-token", max_retries=0) as client:
        for call in calls:
            try:
                result = getattr(client, call.operation.py_name)(**python_arguments(call, models))
                problem = _answer_failure(call, result)
            except Exception as exc:  # noqa: BLE001 - every failure is reported, not only the first
                problem = f"{type(exc).__name__}: {exc}"
            if problem:
                failures.append(f"Client.{call.operation.py_name}: {problem}")

    async def call_async() -> None:
        async with package.AsyncClient(base_url, token="mock-token", max_retries=0) as client:
            for call in calls:
                try:
                    result = await getattr(client, call.operation.py_name)(**python_arguments(call, models))
                    problem = _answer_failure(call, result)
                except Exception as exc:  # noqa: BLE001
                    problem = f"{type(exc).__name__}: {exc}"
                if problem:
                    failures.append(f"AsyncClient.{call.operation.py_name}: {problem}")

    asyncio.run(call_async())
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def typescript_results(generated: Path, mock: MockServer, node: str, tmp_path_factory: pytest.TempPathFactory
                       ) -> dict[str, list[dict[str, Any]]]:
    """One node process calls every operation of every TypeScript client; results by document."""
    documents = []
    for spec in DOCUMENTS:
        api, calls = _calls(spec)
        documents.append({
            "name": package_name(spec),
            "module": str(generated / "ts" / spec.stem / "dist" / "index.js"),
            "client": api.naming.ts_client,
            "baseUrl": f"{mock.base_url}/{package_name(spec)}",
            "calls": [{"method": c.operation.ts_name, "params": typescript_arguments(c),
                       "hasResult": c.operation.has_result} for c in calls],
        })
    plan_file = tmp_path_factory.mktemp("ts-calls") / "plan.json"
    plan_file.write_text(json.dumps({"documents": documents}))
    done = subprocess.run([node, str(RUNNER), str(plan_file)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-5000:]
    results: dict[str, list[dict[str, Any]]] = {d["name"]: [] for d in documents}
    for line in done.stdout.splitlines():
        entry = json.loads(line)
        results[entry["doc"]].append(entry)
    return results


@pytest.mark.parametrize("spec", DOCUMENTS, ids=IDS)
def test_typescript_client_calls_every_operation(spec: Path, typescript_results: dict[str, list[dict[str, Any]]]
                                                 ) -> None:
    api, _ = _calls(spec)
    entries = typescript_results[package_name(spec)]
    assert len(entries) == len(api.operations)
    failures = [f"{e['method']}: {e.get('error')}" for e in entries if not e["ok"]]
    assert not failures, "\n".join(failures)
