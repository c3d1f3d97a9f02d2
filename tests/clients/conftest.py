"""Fixtures of the generated-client tests: paths, a real `uapi serve`, the generated
Python package on sys.path, and a TypeScript compiler for the Node tests."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import ServerProcess, running_server
from uapi.codegen.generate import render, write_tree
from uapi.codegen.model import load_api

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "openapi" / "uapi.yaml"
GENERATED = REPO / "generated"
HERE = Path(__file__).resolve().parent
SPECS = HERE / "specs"
GOLDEN = HERE / "golden"
# The demo directory `uapi serve` uses without --directory: this app acts for
# user 12, who owns phone_terminal extension 210 of organization 0003.
DEMO_CLIENT_ID = "demo-user"
DEMO_CLIENT_SECRET = "demo-user-secret"
TYPESCRIPT_VERSION = "5"
# Tools the tests install on first use when the environment lacks them.
TOOL_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "uapi-tests"

# The conformance corpus (public documents, see corpus/SOURCES.md) and the one-construct probes.
DOCUMENTS = sorted((HERE / "corpus").glob("*.yaml")) + sorted((HERE / "probes").glob("*.yaml"))

# The committed Python client is what these tests drive, exactly as users get it.
if str(GENERATED / "python") not in sys.path:
    sys.path.insert(0, str(GENERATED / "python"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real `uapi serve` process (built-in demo directory, temporary SQLite database)."""
    workdir = tmp_path_factory.mktemp("serve")
    with running_server("--database", f"sqlite:///{workdir / 'uapi.db'}", workdir=workdir) as running:
        yield running


def _node() -> str | None:
    return shutil.which("node")


@pytest.fixture(scope="session")
def node() -> str:
    found = _node()
    if found is None:
        pytest.skip("Node.js is not installed")
    return found


@pytest.fixture(scope="session")
def tsc(node: str) -> list[str]:
    """A TypeScript compiler command: $UAPI_TSC, one installed beside the generated package
    (`npm install` in generated/typescript), or TypeScript installed once into a cache folder."""
    if os.environ.get("UAPI_TSC"):
        return [os.environ["UAPI_TSC"]]
    local = GENERATED / "typescript" / "node_modules" / "typescript" / "bin" / "tsc"
    if local.exists():
        return [node, str(local)]
    cache = TOOL_CACHE / f"typescript{TYPESCRIPT_VERSION}"
    compiler = cache / "node_modules" / "typescript" / "bin" / "tsc"
    if not compiler.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install TypeScript for the TypeScript client tests")
        cache.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund",
                                 f"typescript@{TYPESCRIPT_VERSION}"], capture_output=True, text=True, timeout=300)
        if result.returncode != 0 or not compiler.exists():
            pytest.fail(f"npm install typescript failed:\n{result.stdout}\n{result.stderr}")
    return [node, str(compiler)]


@pytest.fixture(scope="session")
def mypy() -> tuple[list[str], dict[str, str]]:
    """Command and environment running mypy: the installed one, else one pip-installed
    once into a cache folder (the project's test extras do not include it)."""
    command = [sys.executable, "-m", "mypy"]
    try:
        import mypy as _  # noqa: F401
        return command, dict(os.environ)
    except ImportError:
        pass
    target = TOOL_CACHE / "mypy"
    if not (target / "mypy").is_dir():
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), "mypy"],
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            pytest.fail(f"pip install mypy failed:\n{result.stdout}\n{result.stderr}")
    return command, {**os.environ, "PYTHONPATH": str(target)}


def package_name(spec: Path) -> str:
    # Distinct names, so one mypy run can check every package and all import side by side.
    return f"{spec.parent.name}_{spec.stem}".replace("-", "_")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Python (`py/<stem>`) and TypeScript (`ts/<stem>`) clients of every document of
    DOCUMENTS, generated once for the type-check and the mock-call tests."""
    root = tmp_path_factory.mktemp("conformance")
    for spec in DOCUMENTS:
        api = load_api(spec, package_name(spec))
        # Webhook-only documents (3.1) describe requests the server makes: no client operation.
        assert api.operations or "webhook" in spec.stem, f"{spec.name}: no operation generated"
        write_tree(render(api, "python"), root / "py" / spec.stem)
        write_tree(render(api, "typescript"), root / "ts" / spec.stem)
    config = json.loads((GENERATED / "typescript" / "tsconfig.json").read_text())
    config["include"] = ["*/src"]
    (root / "ts" / "tsconfig.json").write_text(json.dumps(config))
    return root
