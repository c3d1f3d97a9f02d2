"""The built wheel, installed into a fresh virtualenv away from this checkout, runs every command.

Offline on purpose: the wheel is built with the test venv's setuptools (--no-build-isolation) from
a copy of the source tree, installed with --no-index --no-deps, and the fresh venv reaches the
already-installed dependencies through a .pth line to this venv's site-packages (which holds no
`uapi` of its own: the editable install there is a finder that a plain path line never runs).
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support.servers import running_server

ROOT = Path(__file__).resolve().parents[2]
# What a checkout holds at its top besides the package sources: never part of the build.
NOT_SOURCES_AT_TOP = {".git", ".venv", ".tox", ".hypothesis", ".mypy_cache", ".pytest_cache", ".ruff_cache", "build",
                      "dist", "generated", "tests", "bench", "node_modules"}


def not_sources(folder: str, names: list[str]) -> set[str]:
    ignored = {name for name in names if name == "__pycache__" or name.endswith(".egg-info")}
    return ignored | (NOT_SOURCES_AT_TOP & set(names) if Path(folder) == ROOT else set())


def run(*command: str | Path, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "uapi-phonecalls"
    shutil.copytree(ROOT, source, ignore=not_sources)
    dist = source.parent / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
        "--wheel-dir", dist, source, cwd=source.parent)
    (built,) = dist.glob("uapi_phonecalls-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a new venv with the wheel installed, and only the wheel's uapi."""
    home = tmp_path_factory.mktemp("fresh")
    venv.EnvBuilder(with_pip=False).create(home / "venv")
    python = home / "venv" / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-index", "--no-deps", wheel,
        cwd=home)
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=home).stdout.strip()
    # After the install, so pip never sees this venv's editable uapi-phonecalls as already installed.
    (Path(purelib) / "uapi-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return home / "venv" / "bin"


def test_wheel_carries_every_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"uapi/{path.relative_to(ROOT / 'uapi')}" for path in (ROOT / "uapi").rglob("*")
                if path.is_file() and "__pycache__" not in path.parts}
    expected |= {f"uapi/handlers/{path.name}" for path in (ROOT / "handlers").glob("*.py")}
    expected |= {"uapi/openapi/uapi.yaml", "uapi/py.typed", "uapi/demo_directory.yaml",
                 "uapi/switch/sip/kamailio.cfg.j2", "uapi/codegen/templates/typescript/.gitignore.j2"}
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel (a package missing from [tool.setuptools] packages?): {missing}"
    dist_info = "-".join(wheel.name.split("-")[:2]) + ".dist-info"
    top_level = {name.split("/", 1)[0] for name in names}
    assert top_level == {"uapi", dist_info}, top_level   # no site-wide `handlers` or `openapi`
    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA")
    for field in (b"License-Expression: ", b"Classifier: Typing :: Typed", b"Requires-Python: >=3.11"):
        assert field in metadata, field


def test_installed_wheel_runs_every_command(fresh: Path, tmp_path: Path) -> None:
    uapi = fresh / "uapi"
    version = run(uapi, "--version", cwd=tmp_path).stdout
    assert version.startswith("uapi 0.") and run(fresh / "python", "-m", "uapi", "--version", cwd=tmp_path).stdout == version
    where = run(fresh / "python", "-c", "import uapi, uapi.handlers; from uapi.package_data import SPEC; "
                "print(uapi.__file__); print(SPEC)", cwd=tmp_path).stdout.split()
    assert all(path.startswith(str(fresh.parent)) for path in where), where   # not this checkout
    no_handlers = subprocess.run([fresh / "python", "-c", "import handlers"], cwd=tmp_path, capture_output=True)
    assert no_handlers.returncode != 0, "a top-level `handlers` package was installed"

    assert run(uapi, "lint", cwd=tmp_path).stdout.startswith("ok: ")
    assert run(uapi, "handlers", cwd=tmp_path).stdout.startswith("ok: ")
    run(uapi, "diff", where[1], where[1], cwd=tmp_path)   # status 0: nothing breaks
    for lang in ("python", "typescript"):
        run(uapi, "generate", "--lang", lang, "--out", tmp_path / lang, cwd=tmp_path)
    assert (tmp_path / "python" / "uapi_client" / "client.py").is_file()
    assert (tmp_path / "typescript" / "src" / "index.ts").is_file()
    assert "127.0.0.1:5999" in run(uapi, "kamailio-config", "--sip-engine", "127.0.0.1:5999", cwd=tmp_path).stdout


def test_installed_wheel_serves(fresh: Path, tmp_path: Path) -> None:
    with running_server("--database", "sqlite:///uapi.db", workdir=tmp_path, command=[str(fresh / "uapi")]) as server:
        spec = httpx.get(f"{server.base_url}/uapi/openapi.json", timeout=2)
        assert spec.status_code == 200 and spec.json()["paths"], spec.text
        assert httpx.get(f"{server.base_url}/", timeout=2).json()["links"]["spec"] == "/uapi/openapi.json"
        assert server.stop(), server.output()
        # uvicorn re-raises the SIGTERM it handled after a clean shutdown
        assert server.process.returncode in (0, -signal.SIGTERM), server.output()
