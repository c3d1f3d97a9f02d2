"""`st run` against a real `uapi serve` process: the committed schemathesis.toml, exit 0.

The server runs on a free local port with a SQLite file in a temporary directory, seeded
with the spec's example call. The CLI logs in by itself ([auth.wfc] in schemathesis.toml,
as john-app, with the organization 4 apps as peers for object_level_authorization) and
writes a JUnit report; warnings fail the run (schemathesis.toml), so exit 0 means no
failure, no error and no warning.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.fuzzenv import CONFIG_PATH, PROJECT_ROOT, SPEC_URL, build_app, seed, write_directory
from tests.support.servers import running_server
from uapi.spec_core import DEFAULT_SPEC, load_spec

CLI_SECONDS = 300


def executable(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`uapi serve` (the installed console script) on a free port; answers its base URL."""
    spec = load_spec(DEFAULT_SPEC)
    database = f"sqlite:///{tmp_path / 'uapi.db'}"
    directory = write_directory(spec, tmp_path / "directory.json")
    asyncio.run(seed(build_app(spec, database, directory), spec))
    with running_server("--database", database, "--directory", str(directory), "--log-level", "warning",
                        workdir=tmp_path, command=[executable("uapi")]) as running:
        yield running.base_url


def test_st_run_with_the_committed_config_exits_0(server: str, tmp_path: Path) -> None:
    junit = tmp_path / "report" / "junit.xml"
    command = [
        executable("st"), "--config-file", str(CONFIG_PATH), "--no-color",
        "run", server + SPEC_URL,
        "--report", "junit", "--report-junit-path", str(junit),
    ]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    # From the project root, where [auth.wfc]'s relative path to the identities file points; the
    # identities log in through the server's own /oauth/token.
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=CLI_SECONDS)
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, output
    suites = ElementTree.parse(junit).getroot()
    cases = suites.findall(".//testcase")
    assert cases, output
    problems = [case.get("name") for case in cases if case.find("failure") is not None or case.find("error") is not None]
    assert problems == [], output
