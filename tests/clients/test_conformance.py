"""Conformance: every public document of tests/clients/corpus/ (see SOURCES.md) and every
one-construct probe of tests/clients/probes/ generates, with no document refused, a Python
client that passes `mypy --strict` and imports, and a TypeScript client that passes the
package's strict tsconfig (one mypy run and one tsc run over all of them, to stay fast)."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clients.conftest import DOCUMENTS, package_name


def test_corpus_has_twelve_documents_of_both_versions() -> None:
    corpus = [p for p in DOCUMENTS if p.parent.name == "corpus"]
    versions = {p.read_text().split("openapi:", 1)[1].split()[0].strip("'\"")[:3] for p in corpus}
    assert len(corpus) >= 12 and versions == {"3.0", "3.1"}


def test_python_clients_pass_mypy_strict(generated: Path, mypy: tuple[list[str], dict[str, str]]) -> None:
    command, env = mypy
    packages = sorted(str(p.parent) for p in (generated / "py").glob("*/*/py.typed"))
    assert len(packages) == len(DOCUMENTS)
    result = subprocess.run([*command, "--strict", "--no-incremental", *packages], env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr


@pytest.mark.parametrize("spec", DOCUMENTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_python_client_imports(spec: Path, generated: Path) -> None:
    sys.path.insert(0, str(generated / "py" / spec.stem))
    try:
        module = importlib.import_module(package_name(spec))
        assert module.Client is not None and module.AsyncClient is not None
    finally:
        sys.path.remove(str(generated / "py" / spec.stem))


def test_typescript_clients_pass_tsc_strict(generated: Path, tsc: list[str], node: str) -> None:
    result = subprocess.run([*tsc, "-p", str(generated / "ts" / "tsconfig.json")], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr
    for js in sorted((generated / "ts").glob("*/dist/index.js")):
        check = subprocess.run([node, "--check", str(js)], capture_output=True, text=True)
        assert check.returncode == 0, f"{js}: {check.stderr}"
