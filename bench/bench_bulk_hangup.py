"""Bulk hang-up benchmark: `DELETE /uapi/phoneCalls/{user}/{extension}` over real HTTP.

    .venv/bin/python bench/bench_bulk_hangup.py                          # 1 000 and 10 000 calls, SQLite
    .venv/bin/python bench/bench_bulk_hangup.py --database postgresql://uapi@127.0.0.1/bench   # wipes its uapi tables
    .venv/bin/python bench/bench_bulk_hangup.py --baseline acd1bca       # also the code of that commit

For each size N, one extension (the workload's hot one, bench/workload.py) takes part in N live
calls, beside a few hundred calls of other extensions that must stay live. A server (bench/
launch.py: the app under uvicorn, as `uapi serve` runs it) answers one request that hangs
up all N; the time is the client's, from sending it to the last byte of the answer (which
lists every call), beside the server process's CPU time for it (less disturbed by whatever
else the machine runs). Each run then writes the calls back as created, and the median of
`--runs` runs is printed. `--baseline COMMIT` runs the same with that commit's code
(unpacked with git archive and put first on the server's path): the per-call path before
bulk hang-up was batched is acd1bca.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

sys.path.insert(0, str(BENCH_DIR.parent))   # `tests.support` from the checkout

import workload as wl  # noqa: E402  (beside this file)
from bench_server import ServerProcess  # noqa: E402  (one way to start a bench server)

OTHER_CALLS = 300   # calls of other extensions, which the hang-up must leave alone


HEADERS = {"Authorization": f"Bearer {wl.BENCH_TOKEN}"}


def measure(size: int, database: str, code: Path | None, runs: int,
            workdir: Path) -> tuple[list[float], list[float]]:
    """(seconds taken, server CPU seconds spent) by each of `runs` bulk hang-ups of `size` live calls."""
    load = wl.build(size + OTHER_CALLS, size, calls_per_ext=10)
    wl.fill(load, database)
    path = f"/uapi/phoneCalls/{wl.HOT_USER}/{wl.HOT_EXTENSION}"
    hot = [c.index for c in load.hot_calls]
    engine = wl.engine_for(database)
    server = ServerProcess("server", load.write_directory(workdir / f"directory-{size}.json"), database, None,
                           workdir / f"server-{size}.log", code=code)
    try:
        server.wait_ready(path + "?count=1")
        times, cpu = [], []
        with httpx.Client(base_url=server.base_url, headers=HEADERS, timeout=600) as client:
            for _ in range(runs):
                started, cpu_before = time.perf_counter(), server.cpu_seconds()
                response = client.delete(path)
                times.append(time.perf_counter() - started)
                cpu.append(server.cpu_seconds() - cpu_before)
                if response.status_code != 200 or len(response.json()) != size:
                    log = (workdir / f"server-{size}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"the hang-up answered {response.status_code}, "
                                       f"{len(response.content)} bytes; expected {size} calls; the server's "
                                       f"log ends:\n{log}")
                other = load.typical_calls[0]
                others = client.get(f"/uapi/phoneCalls/{other.user_id}/{other.extension}")
                if others.status_code != 200:
                    raise RuntimeError("the hang-up ended calls of another extension")
                wl.restore(load, engine, hot)
    finally:
        server.stop()
        engine.dispose()
    return times, cpu


def snapshot(commit: str, workdir: Path) -> Path:
    """The source tree of `commit`, unpacked under `workdir`."""
    target = workdir / f"code-{commit}"
    target.mkdir()
    # From the top of the repository: run in bench/, git archive would pack bench/ alone.
    archive = subprocess.run(["git", "-C", str(BENCH_DIR.parent), "archive", commit], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    # The packages uapi.handlers and uapi.openapi are the folders handlers/ and openapi/, mapped by
    # the install (pyproject.toml): without these links the snapshot's server would import the
    # handlers and the contract of the editable install, i.e. of this tree.
    for package in ("handlers", "openapi"):
        if (target / package).is_dir() and not (target / "uapi" / package).exists():
            (target / "uapi" / package).symlink_to(Path("..") / package)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated numbers of live calls")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", help="a postgresql:// URL (its uapi tables are dropped); default a SQLite file")
    parser.add_argument("--baseline", metavar="COMMIT", help="also measure this commit's code")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="uapi-bulk-") as tmp:
        workdir = Path(tmp)
        database = args.database or f"sqlite:///{workdir / 'bench.db'}"
        codes: list[tuple[str, Path | None]] = [("this tree", None)]
        if args.baseline:
            codes.append((args.baseline, snapshot(args.baseline, workdir)))
        print(f"bulk hang-up, {database.split(':', 1)[0]}, median of {args.runs} runs")
        for size in (int(s) for s in args.sizes.split(",")):
            for name, code in codes:
                times, cpu = measure(size, database, code, args.runs, workdir)
                runs = ", ".join(f"{t:.3f}" for t in times)
                print(f"  {size:>6} calls  {name:<10} {statistics.median(times):7.3f} s   server CPU "
                      f"{statistics.median(cpu):6.2f} s   (runs: {runs})", flush=True)


if __name__ == "__main__":
    main()
