"""SIP benchmark: set-up and hang-up times of real SIP calls, and hang-ups per second with 100
live calls, beside the simulator's figures for the same operations.

    .venv/bin/python bench/bench_sip.py [--calls 100] [--live 100] [--concurrency 16] [--json [FILE]]

Two servers, each a real `uapi serve` process with the same directory and a fresh SQLite file:
`--switch sip` (Kamailio + our engine; SIPp phones: one per source extension, one on the
trunk, all running `tests/sip/scenarios/race_phone.xml` and answering after 1 ms) and the
default simulated switch (`answerDelay` 0). Same HTTP client (httpx, loopback) for both.

1. **Set-up** (`--calls` calls, one at a time): POST simple create -> both parties answered.
   SIP: from SIPp's `-trace_shortmsg` timestamps, the callee's 200 (the source answered
   earlier; both phones answer 1 ms after the INVITE plus SIPp's ~1 ms per step), minus the
   moment the POST was sent; also, for both switches, POST -> the API first showing `answered`
   (polled every 2 ms).
2. **Hang-up** (the same calls, one at a time): DELETE -> BYE received at both phones (the later
   of the two SIPp timestamps) minus the moment the DELETE was sent. Simulator: DELETE -> its
   response (nothing else happens there).
3. **Hang-ups per second, 100 live**: `--live` calls created and answered, then all DELETEd with
   `--concurrency` requests in flight; measured until every phone got its BYE (simulator: the
   last DELETE answered). Rate = calls / that time.

Not a test: nothing here is collected by pytest. Needs sipp and kamailio (as the SIP tests).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sip.sipserver import SipServer  # noqa: E402
from tests.sip.test_races import LANE_EXTENSIONS, PhonePlan, RacePhone, RaceServer, register  # noqa: E402

ME = "/uapi/phoneCalls/@me"
PLAN = PhonePlan(mode=1, answer_ms=1)          # answer after 1 ms, wait for the network's BYE


class SimServer(RaceServer):
    """The same server and directory with the default simulated switch."""

    def command(self) -> list[str]:
        cut = super().command()
        cut = cut[:cut.index("--switch")] + ["--switch", "sim", "--log-level", "warning"]
        return cut

    def start(self, timeout: float = 60) -> None:
        import os
        import subprocess
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._answers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"uapi serve (sim) not ready:\n{self.output()[-2000:]}")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def body(number: int, extension: str) -> dict:
    digits = PLAN.digits(number % 10000)
    return {"extension": extension,
            "phoneCallView": [{"destination": "9" + digits, "callerDestination": f"Bench <9{digits}>"}]}


class Bench:
    def __init__(self, server: SipServer, phones: list[RacePhone] | None, trunk: RacePhone | None) -> None:
        self.server, self.phones, self.trunk = server, phones, trunk
        self.headers = {"Authorization": f"Bearer {server.token()}"}

    def answered(self, client: httpx.Client, extension: str, call_id: str, timeout: float = 10) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = client.get(f"{ME}/{extension}/{call_id}").json()["entry"][0]
            if "answered" in entry:
                return time.time()
            time.sleep(0.002)
        raise RuntimeError(f"call {call_id} never answered")

    def legs(self, number: int, lane: int) -> list[list[tuple[float, str, str, str]]]:
        """SIPp rows of the source and callee legs of call `number` (once both logged START)."""
        found = []
        for agent in (self.phones[lane], self.trunk):  # type: ignore[index]
            start = agent.events()["START"].get(number % 10000)
            found.append(agent.rows().get(start[0], []) if start else [])
        return found

    def wait_end(self, number: int, lane: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(number % 10000 in a.events()["END"] for a in (self.phones[lane], self.trunk)):  # type: ignore[index]
                return
            time.sleep(0.005)
        raise RuntimeError(f"call {number}: a phone never finished")

    def sequential(self, calls: int, first: int) -> dict:
        setup_trace, setup_api, hangup = [], [], []
        with httpx.Client(base_url=self.server.base, headers=self.headers, timeout=20) as client:
            for i in range(calls):
                number, lane = first + i, i % len(LANE_EXTENSIONS)
                extension = LANE_EXTENSIONS[lane]
                t0 = time.time()
                call_id = client.post(f"{ME}/simple", json=body(number, extension)).json()[0]["id"]
                setup_api.append(self.answered(client, extension, call_id) - t0)
                if self.trunk is not None:
                    time.sleep(0.05)          # connect re-INVITE done before the hang-up
                t1 = time.time()
                status = client.delete(f"{ME}/{extension}/{call_id}").status_code
                assert status == 200, status
                if self.trunk is None:
                    hangup.append(time.time() - t1)
                    continue
                self.wait_end(number, lane)
                source, callee = self.legs(number, lane)
                answer = [r[0] for r in callee if r[1] == "S" and r[3].startswith("SIP/2.0 200") and r[2].endswith("INVITE")]
                setup_trace.append(answer[0] - t0)
                byes = [min(r[0] for r in leg if r[1] == "R" and r[3].startswith("BYE")) for leg in (source, callee)]
                hangup.append(max(byes) - t1)
        out = {"setup_api_ms": ms(setup_api), "hangup_ms": ms(hangup)}
        if setup_trace:
            out["setup_trace_ms"] = ms(setup_trace)
        return out

    async def burst(self, live: int, first: int, concurrency: int) -> dict:
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=self.server.base, headers=self.headers, timeout=30, limits=limits) as client:
            gate = asyncio.Semaphore(concurrency)

            async def create(i: int) -> tuple[str, str]:
                extension = LANE_EXTENSIONS[i % len(LANE_EXTENSIONS)]
                async with gate:
                    answer = await client.post(f"{ME}/simple", json=body(first + i, extension))
                return extension, answer.json()[0]["id"]

            made = await asyncio.gather(*(create(i) for i in range(live)))

            async def up(extension: str, call_id: str) -> None:
                for _ in range(2000):
                    async with gate:
                        entry = (await client.get(f"{ME}/{extension}/{call_id}")).json()["entry"][0]
                    if "answered" in entry:
                        return
                    await asyncio.sleep(0.02)
                raise RuntimeError(f"{call_id} never answered")

            await asyncio.gather(*(up(e, c) for e, c in made))
            live_now = len([1 for e in LANE_EXTENSIONS for _ in self.server.live(e)])
            await asyncio.sleep(0.3)       # connect re-INVITEs done

            async def hang_up(extension: str, call_id: str) -> int:
                async with gate:
                    return (await client.delete(f"{ME}/{extension}/{call_id}")).status_code

            t0 = time.time()
            statuses = await asyncio.gather(*(hang_up(e, c) for e, c in made))
            t_api = time.time()
        assert all(s == 200 for s in statuses), statuses
        t_end = t_api
        if self.trunk is not None:
            for i in range(live):
                await asyncio.to_thread(self.wait_end, first + i, i % len(LANE_EXTENSIONS), 30)
            t_end = 0.0
            for i in range(live):
                for leg in self.legs(first + i, i % len(LANE_EXTENSIONS)):
                    t_end = max(t_end, max(r[0] for r in leg if r[1] == "R" and r[3].startswith("BYE")))
        return {"live": live_now, "deletes_s": round(t_api - t0, 3), "all_byes_s": round(t_end - t0, 3),
                "hangups_per_s": round(live / (t_end - t0), 1)}


def ms(values: list[float]) -> dict:
    return {"n": len(values), "p50": round(pct(values, 50) * 1000, 1), "p99": round(pct(values, 99) * 1000, 1),
            "mean": round(statistics.fmean(values) * 1000, 1)}


def run_sip(args: argparse.Namespace, work: Path) -> dict:
    server = RaceServer(work / "sip")
    server.start()
    agents: list[RacePhone] = []
    try:
        phones = []
        for lane, extension in enumerate(LANE_EXTENSIONS):
            phone = RacePhone(work / "sip", f"lane{lane}")
            agents.append(phone)
            phone.start()
            register(server, work / "sip", extension, phone.port)
            phones.append(phone)
        trunk = RacePhone(work / "sip", "trunk", port=server.trunk_port)
        agents.append(trunk)
        trunk.start()
        bench = Bench(server, phones, trunk)
        result = bench.sequential(args.calls, 0)
        result["burst"] = asyncio.run(bench.burst(args.live, 5000, args.concurrency))
        result["phones_exit"] = {a.name: a.finish(30) for a in agents}
        return result
    finally:
        for agent in agents:
            agent.stop()
        server.stop()


def run_sim(args: argparse.Namespace, work: Path) -> dict:
    server = SimServer(work / "sim")
    server.start()
    try:
        bench = Bench(server, None, None)
        result = bench.sequential(args.calls, 0)
        result["burst"] = asyncio.run(bench.burst(args.live, 5000, args.concurrency))
        return result
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100, help="calls set up and hung up one at a time (default 100)")
    parser.add_argument("--live", type=int, default=100, help="live calls hung up in the burst (default 100)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight in the burst (default 16)")
    parser.add_argument("--json", nargs="?", const="", metavar="FILE",
                        help="also write the figures as JSON (default file: bench/results/bench_sip-<time>.json)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-sip-"))
    results = {"sip": run_sip(args, work), "sim": run_sim(args, work)}
    sip, sim = results["sip"], results["sim"]
    rows = [
        ("set-up, POST -> callee's 200 (SIPp trace)", sip["setup_trace_ms"], None),
        ("set-up, POST -> API shows answered (poll 2 ms)", sip["setup_api_ms"], sim["setup_api_ms"]),
        ("hang-up, DELETE -> BYE at both phones / sim: DELETE answered", sip["hangup_ms"], sim["hangup_ms"]),
    ]
    print(f"{'operation':<62} {'sip p50':>8} {'sip p99':>8} {'sim p50':>8} {'sim p99':>8}  (ms, n={args.calls})")
    for label, s, m in rows:
        print(f"{label:<62} {s['p50']:>8} {s['p99']:>8} {(m or {}).get('p50', '-'):>8} {(m or {}).get('p99', '-'):>8}")
    b1, b2 = sip["burst"], sim["burst"]
    print(f"{'hang-ups/s, ' + str(args.live) + ' live calls, ' + str(args.concurrency) + ' in flight':<62} "
          f"{b1['hangups_per_s']:>8} {'':>8} {b2['hangups_per_s']:>8}")
    print(f"  sip: {b1['live']} live, DELETEs answered in {b1['deletes_s']} s, every BYE received in {b1['all_byes_s']} s;"
          f" sim: DELETEs answered in {b2['deletes_s']} s; phones exit {sip['phones_exit']}")
    if args.json is not None:
        path = Path(args.json) if args.json else ROOT / "bench" / "results" / f"bench_sip-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"command": " ".join(sys.argv), "results": results}, indent=1))
        print(f"written {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
