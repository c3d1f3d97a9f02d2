"""The TypeScript client under Node: compiled with `tsc --strict` together with small
Node scripts (tests/clients/ts/) that check it against a scripted fetch and against a
real `uapi serve`; the type-free dist/index.js and the npm tarball are run the same way."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.clients.conftest import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, GENERATED, HERE, SPEC
from tests.support.servers import ServerProcess
from uapi.codegen.archive import sdk_archive

SCRIPTS = HERE / "ts"
CLIENT = GENERATED / "typescript"
TSC_FLAGS = ["--strict", "--target", "ES2022", "--module", "NodeNext", "--moduleResolution", "NodeNext",
             "--lib", "ES2022,DOM", "--skipLibCheck"]


def run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def compiled(tsc: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """src/index.ts and the scripts compiled by tsc --strict into an ES-module folder."""
    root = tmp_path_factory.mktemp("ts")
    src = root / "src"
    src.mkdir()
    (root / "package.json").write_text('{"type": "module"}\n')  # NodeNext: .ts files are ES modules
    shutil.copy(CLIENT / "src" / "index.ts", src / "index.ts")
    for script in SCRIPTS.glob("*.ts"):
        shutil.copy(script, src / script.name)
    out = root / "out"
    result = run([*tsc, *TSC_FLAGS, "--rootDir", str(src), "--outDir", str(out), *sorted(map(str, src.glob("*.ts")))])
    assert result.returncode == 0, result.stdout + result.stderr
    (out / "package.json").write_text('{"type": "module"}\n')
    return out


@pytest.fixture(scope="module")
def js_build(compiled: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same scripts, but importing the generated type-free dist/index.js instead of tsc's output."""
    out = tmp_path_factory.mktemp("js") / "out"
    shutil.copytree(compiled, out)
    shutil.copy(CLIENT / "dist" / "index.js", out / "index.js")
    return out


def node_script(node: str, folder: Path, script: str, env: dict[str, str] | None = None) -> None:
    result = run([node, str(folder / script)], env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "node checks passed" in result.stdout, result.stdout


def server_env(server: ServerProcess) -> dict[str, str]:
    return {"UAPI_BASE_URL": server.base_url, "UAPI_CLIENT_ID": DEMO_CLIENT_ID, "UAPI_CLIENT_SECRET": DEMO_CLIENT_SECRET}


@pytest.mark.parametrize("build", ["tsc", "dist"])
def test_runtime_against_a_scripted_fetch(build: str, node: str, compiled: Path, js_build: Path) -> None:
    node_script(node, compiled if build == "tsc" else js_build, "runtime.js")


@pytest.mark.parametrize("build", ["tsc", "dist"])
def test_end_to_end_against_uapi_serve(build: str, node: str, compiled: Path, js_build: Path,
                                       server: ServerProcess) -> None:
    node_script(node, compiled if build == "tsc" else js_build, "e2e.js", server_env(server))


@pytest.mark.parametrize("source", ["sdk_archive", "download"])
def test_npm_tarball_installs_and_type_checks(source: str, node: str, tsc: list[str], server: ServerProcess,
                                             tmp_path: Path) -> None:
    """`npm install` of the tarball (sdk_archive's bytes, or the server's /uapi/sdk/typescript.tgz),
    then a consumer module type-checked against the package and run against the server."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    if source == "download":
        package = f"{server.base_url}/uapi/sdk/typescript.tgz"
        if httpx.get(package).status_code == 404:
            pytest.skip("this server does not serve /uapi/sdk/typescript.tgz yet")
        flags = ["--no-audit", "--no-fund"]
    else:
        tarball = tmp_path / "typescript.tgz"
        tarball.write_bytes(sdk_archive("typescript", SPEC))
        package, flags = str(tarball), ["--no-audit", "--no-fund", "--offline"]
    project = tmp_path / "consumer"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "consumer", "private": True, "type": "module"}))
    installed = run([npm, "install", *flags, package], cwd=project)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    (project / "main.ts").write_text(
        'import { UapiClient, type PhoneCallCollection } from "uapi-client";\n'
        "declare const process: { env: Record<string, string> };\n"
        "const client = new UapiClient({ baseUrl: process.env.UAPI_BASE_URL!, clientId: process.env.UAPI_CLIENT_ID!,"
        " clientSecret: process.env.UAPI_CLIENT_SECRET! });\n"
        'const page: PhoneCallCollection = await client.listPhoneCalls({ userId: "@me", extension: "@self" });\n'
        "console.log(`start=${page.startIndex}`);\n")
    checked = run([*tsc, *TSC_FLAGS, "--outDir", "out", "main.ts"], cwd=project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ran = run([node, "out/main.js"], cwd=project, env=server_env(server), timeout=60)
    assert ran.returncode == 0 and "start=0" in ran.stdout, ran.stdout + ran.stderr


def test_readme_snippets_compile_and_run_in_order(node: str, tsc: list[str], server: ServerProcess,
                                                 tmp_path: Path) -> None:
    """Every ```ts block of generated/typescript/README.md, as one module against the client."""
    readme = (CLIENT / "README.md").read_text()
    blocks = re.findall(r"```ts\n(.*?)```", readme, re.S)
    script = "\n".join(blocks).replace('from "uapi-client"', 'from "./index.js"')
    # Imports may only open a module: hoist them above the snippets.
    imports = [line for line in script.splitlines() if line.startswith("import ")]
    body = [line for line in script.splitlines() if not line.startswith("import ")]
    src = tmp_path / "src"
    src.mkdir()
    (tmp_path / "package.json").write_text('{"type": "module"}\n')
    shutil.copy(CLIENT / "src" / "index.ts", src / "index.ts")
    (src / "readme.ts").write_text("\n".join(
        [*imports, "declare const process: { env: Record<string, string | undefined> };", *body]) + "\n")
    out = tmp_path / "out"
    compiled = run([*tsc, *TSC_FLAGS, "--rootDir", str(src), "--outDir", str(out), str(src / "index.ts"),
                    str(src / "readme.ts")])
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    (out / "package.json").write_text('{"type": "module"}\n')
    ran = run([node, str(out / "readme.js")], env=server_env(server), timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "user_invalid" in ran.stdout or "pc_" in ran.stdout  # the error example printed its code
