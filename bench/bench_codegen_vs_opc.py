"""`uapi generate` beside openapi-python-client on the conformance corpus.

    .venv/bin/python bench/bench_codegen_vs_opc.py [--corpus tests/clients/corpus] [--only NAME ...]

For every document of the corpus, each generator is run as its command-line tool
(interpreter start-up included for both, so times compare like for like) into a
temporary folder; then each Python package it wrote is type-checked with
`mypy --strict` and imported (every module of it). Prints one table and writes the
rows as JSON to bench/results/codegen_vs_opc-<UTC time>.json.

openapi-python-client is the `openapi-python-client` of the `test` extra; it runs
its ruff post-hooks, so the virtual environment's bin folder goes first on PATH.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = REPO / "bench" / "results"
TIMEOUT = 600


@dataclass
class Outcome:
    """One generator on one document."""

    generated: bool
    seconds: float
    warnings: int  # lines of warnings the tool printed
    mypy_errors: int | None  # None when nothing was generated
    imports: bool | None
    note: str = ""


@dataclass
class Row:
    document: str
    openapi: str
    uapi: Outcome
    opc: Outcome


def mypy_path() -> str:
    """PYTHONPATH finding mypy: the environment's own, else the copy the client tests
    pip-install into their tool cache (tests/clients/conftest.py), installed here if missing."""
    try:
        import mypy  # noqa: F401
        return ""
    except ImportError:
        pass
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "uapi-tests" / "mypy"
    if not (cache / "mypy").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(cache), "mypy"],
                       check=True, timeout=TIMEOUT)
    return str(cache)


MYPY_PATH = mypy_path()


def run(command: list[str], cwd: Path | None = None, python_path: str = "") -> tuple[int, str, float]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if python_path:
        env["PYTHONPATH"] = python_path
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - started


def mypy_strict(folder: Path, package: str, cache: Path) -> int:
    """Errors `mypy --strict` reports for the package `package` found in `folder`."""
    code, output, _ = run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache),
                           "-p", package], cwd=folder, python_path=MYPY_PATH)
    found = re.search(r"Found (\d+) errors?", output)
    if found:
        return int(found.group(1))
    return 0 if code == 0 else -1  # -1: mypy itself failed (crash, syntax error)


def imports(folder: Path, package: str) -> tuple[bool, str]:
    # Every module, not just the package: a broken model module is what users hit on first use.
    script = ("import importlib, pkgutil, sys; p = importlib.import_module(sys.argv[1]); "
              "[importlib.import_module(m.name) for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.')]")
    code, output, _ = run([sys.executable, "-c", script, package], cwd=folder)
    return code == 0, "" if code == 0 else output.strip().splitlines()[-1][:200]


def warning_lines(output: str) -> int:
    return sum(1 for line in output.splitlines() if "warning" in line.lower())


def bench_uapi(spec: Path, work: Path, cache: Path) -> Outcome:
    out = work / "uapi"
    package = "bench_" + re.sub(r"\W", "_", spec.stem)
    code, output, seconds = run([str(BIN / "uapi"), "generate", "--lang", "python", "--spec", str(spec),
                                 "--out", str(out), "--package-name", package])
    if code != 0:
        return Outcome(False, seconds, warning_lines(output), None, None, output.strip()[-200:])
    ok, why = imports(out, package)
    return Outcome(True, seconds, warning_lines(output), mypy_strict(out, package, cache), ok, why)


def bench_opc(spec: Path, work: Path, cache: Path) -> Outcome:
    # --meta none writes the bare package into --output-path, so that folder's name is the import name.
    package = "opc_" + re.sub(r"\W", "_", spec.stem)
    out = work / "opc" / package
    out.parent.mkdir(parents=True)
    code, output, seconds = run([str(BIN / "openapi-python-client"), "generate", "--path", str(spec),
                                 "--output-path", str(out), "--meta", "none", "--overwrite"], cwd=work)
    if not (out / "__init__.py").exists():
        return Outcome(False, seconds, warning_lines(output), None, None, output.strip()[-200:])
    ok, why = imports(out.parent, package)
    note = why if code == 0 else f"exit {code}; {why}"
    return Outcome(True, seconds, warning_lines(output), mypy_strict(out.parent, package, cache), ok, note)


def openapi_version(spec: Path) -> str:
    found = re.search(r"^openapi:\s*['\"]?([\d.]+)", spec.read_text(encoding="utf-8"), re.M)
    return found.group(1) if found else "?"


def cell(outcome: Outcome) -> str:
    if not outcome.generated:
        return f"{'no':<4} {'-':>5} {'-':>7} {outcome.seconds:>6.2f}s"
    imported = "yes" if outcome.imports else "NO"
    return f"{'yes':<4} {outcome.mypy_errors:>5} {imported:>7} {outcome.seconds:>6.2f}s"


def table(rows: list[Row]) -> str:
    head = f"{'document':<40} {'oas':<5} | {'uapi generate':^29} | {'openapi-python-client':^29}"
    sub = f"{'':<40} {'':<5} | {'gen':<4} {'mypy':>5} {'imports':>7} {'time':>7}  | {'gen':<4} {'mypy':>5} {'imports':>7} {'time':>7}"
    lines = [head, sub, "-" * len(sub)]
    for row in rows:
        lines.append(f"{row.document:<40} {row.openapi:<5} | {cell(row.uapi)}  | {cell(row.opc)}")
    for name, pick in (("uapi generate", lambda r: r.uapi), ("openapi-python-client", lambda r: r.opc)):
        outcomes = [pick(r) for r in rows]
        made = [o for o in outcomes if o.generated]
        clean = [o for o in made if o.mypy_errors == 0 and o.imports]
        lines.append(f"{name}: {len(made)}/{len(rows)} generated, {len(clean)}/{len(rows)} pass mypy --strict and "
                     f"import, {sum(o.mypy_errors or 0 for o in made if (o.mypy_errors or 0) > 0)} mypy errors, "
                     f"{sum(o.seconds for o in outcomes):.1f} s generating")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(REPO / "tests" / "clients" / "corpus"))
    parser.add_argument("--only", nargs="*", help="document stems to run (default: all)")
    args = parser.parse_args()
    specs = sorted(Path(args.corpus).glob("*.yaml"))
    if args.only:
        specs = [s for s in specs if s.stem in args.only]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-opc-") as tmp:
        cache = Path(tmp) / "mypy-cache"
        for spec in specs:
            work = Path(tmp) / spec.stem
            work.mkdir()
            rows.append(Row(spec.name, openapi_version(spec), bench_uapi(spec, work, cache),
                            bench_opc(spec, work, cache)))
            print(f"{spec.name}: done", file=sys.stderr)
    text = table(rows)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"codegen_vs_opc-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"
    target.write_text(json.dumps({"rows": [asdict(r) for r in rows], "table": text.splitlines()}, indent=2) + "\n")
    print(f"wrote {target.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
