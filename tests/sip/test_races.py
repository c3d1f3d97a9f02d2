"""Seeded hang-up races through the real `uapi serve --switch sip` (Kamailio + our engine).

Each race is one API call (source: a registered extension, destination: the trunk) where the
API's DELETE, the phones' own BYEs, the destination answering (or being busy) and our CANCEL
(a DELETE or `waitForPickup` while it rings) happen at random moments. Every random choice
comes from one seed (`UAPI_RACE_SEED`, `random` for a fresh one; `UAPI_RACES` races), so a
failing run is replayed with the seed it prints; only the inherent timing differs.

The phones are SIPp agents running many calls each (`race_phone.xml`): each call reads its
behaviour from the INVITE, the trunk from the dialled number, a source extension from the
caller id the create asks it to show (`callerDestination`). Lanes (one source extension and
SIPp each) run concurrently; races in a lane run one after another.

Checked for every race: both phones finished their script (SIPp logs END; the agents exit 0
at the end), no phone got more than one BYE per dialog (distinct CSeqs in `-trace_shortmsg`;
retransmissions counted apart), Kamailio's `dlg.list` holds none of the race's dialogs in a
state other than 5 (deleted), and the API's `endedBy`/`cause` match who could have won.
"""
from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.sip.sipserver import DIRECTORY, HOST, SipServer
from tests.support.kamailio import PortSipp, requires_kamailio, wait_until
from tests.support.sipp import SIPP, Sipp, requires_sipp

pytestmark = [pytest.mark.sip, pytest.mark.kamailio, requires_sipp, requires_kamailio]

ME = "/uapi/phoneCalls/@me"
LANES = 8
LANE_EXTENSIONS = [str(301 + i) for i in range(LANES)]
SCENARIO = "race_phone.xml"

# -- the plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PhonePlan:
    mode: int = 1            # 0 ring until CANCEL, 1 answer, 2 busy
    answer_ms: int = 10      # ring this long before answering (or being busy)
    hangs_up: bool = False   # sends its own BYE ...
    bye_ms: int = 0          # ... this long after its answer (or its last re-INVITE)

    def digits(self, race: int) -> str:
        return f"{race:04d}{self.mode}{self.answer_ms:04d}{int(self.hangs_up)}{self.bye_ms:04d}"


@dataclass
class Race:
    index: int
    lane: int
    kind: str
    source: PhonePlan
    callee: PhonePlan
    delete_ms: int | None            # DELETE this long after the create answered; None: never
    wait_for_pickup: int | None = None
    # filled in while it runs
    call_id: str = ""
    created_at: float = 0.0          # epoch seconds (comparable with the SIPp traces)
    deleted_at: float = 0.0
    delete_status: int | None = None
    ended: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def destination(self) -> str:
        return "9" + self.callee.digits(self.index)

    @property
    def shown(self) -> str:
        return f"Race <9{self.source.digits(self.index)}>"

    def describe(self) -> str:
        return (f"race {self.index} ({self.kind}, lane {self.lane}): source {self.source}, callee {self.callee}, "
                f"delete_ms={self.delete_ms}, waitForPickup={self.wait_for_pickup}")


def u(rng: random.Random, low: int, high: int) -> int:
    return rng.randint(low, high)


# When things happen, measured on loopback (2 cores): the source's INVITE arrives as the create
# returns, the callee's INVITE ~15 ms (p10-p90: 8-57 ms) after the source answered. Kinds that
# aim at a narrow window (a CANCEL crossing the 200, BYE glare) put the competing moment there
# plus a few ms of jitter; the others spread over the whole set-up.
SETUP_MS = 15


def _cancel_vs_answer(r: random.Random) -> dict:
    return {"source": PhonePlan(answer_ms=u(r, 5, 40)), "callee": PhonePlan(answer_ms=u(r, 10, 350)),
                "delete_ms": u(r, 0, 400)}


def _cancel_crossing(r: random.Random) -> dict:
    source, callee = PhonePlan(answer_ms=u(r, 5, 30)), PhonePlan(answer_ms=u(r, 20, 200))
    return {"source": source, "callee": callee,
                "delete_ms": max(0, source.answer_ms + SETUP_MS + callee.answer_ms + u(r, -10, 10))}


def _delete_vs_bye(r: random.Random) -> dict:
    source = PhonePlan(answer_ms=u(r, 5, 30))
    callee = PhonePlan(answer_ms=u(r, 5, 60), hangs_up=True, bye_ms=u(r, 5, 250))
    aim = source.answer_ms + SETUP_MS + callee.answer_ms + callee.bye_ms
    return {"source": source, "callee": callee, "delete_ms": max(0, aim + u(r, -25, 20))}


def _three_way(r: random.Random) -> dict:
    callee = PhonePlan(answer_ms=u(r, 5, 100), hangs_up=True, bye_ms=u(r, 5, 250))
    # the source's own BYE timer restarts at the connect re-INVITE, sent when the callee answers
    source = PhonePlan(answer_ms=u(r, 5, 30), hangs_up=True, bye_ms=max(5, callee.bye_ms + u(r, -20, 15)))
    aim = source.answer_ms + SETUP_MS + callee.answer_ms + callee.bye_ms
    return {"source": source, "callee": callee, "delete_ms": aim + u(r, -25, 25) if r.random() < 0.5 else None}


KINDS: dict[str, Callable[[random.Random], dict]] = {
    # our CANCEL (a DELETE) vs the callee answering, anywhere in the set-up (early DELETEs
    # cancel the ringing source)
    "cancel_vs_answer": _cancel_vs_answer,
    # the same, aimed at the callee's answer: the CANCEL and the 200 cross
    "cancel_crossing": _cancel_crossing,
    # DELETE vs the callee's own BYE (BYE glare when they cross)
    "delete_vs_bye": _delete_vs_bye,
    # both phones hang up at about the same moment, half the time the API too
    "three_way": _three_way,
    # the source hangs up while the callee rings or answers (CANCEL vs answer, caused by a phone)
    "source_bye_vs_answer": lambda r: {
        "source": PhonePlan(answer_ms=u(r, 5, 30), hangs_up=True, bye_ms=u(r, 5, 250)),
        "callee": PhonePlan(answer_ms=u(r, 5, 250)),
        "delete_ms": u(r, 200, 600) if r.random() < 0.3 else None},
    # busy vs DELETE
    "busy_vs_delete": lambda r: {
        "source": PhonePlan(answer_ms=u(r, 5, 30)),
        "callee": PhonePlan(mode=2, answer_ms=u(r, 5, 300)),
        "delete_ms": u(r, 0, 350)},
    # a ringing callee: DELETE at any moment of the set-up
    "ringing_delete": lambda r: {
        "source": PhonePlan(answer_ms=u(r, 5, 60)),
        "callee": PhonePlan(mode=0),
        "delete_ms": u(r, 0, 200)},
    # waitForPickup=1 (its CANCEL goes out at the next deadline sweep, up to 1 s later) vs the
    # answer; the callee hangs up if it won
    "pickup_vs_answer": lambda r: {
        "source": PhonePlan(answer_ms=u(r, 5, 20)),
        "callee": PhonePlan(answer_ms=u(r, 850, 1700), hangs_up=True, bye_ms=u(r, 5, 100)),
        "delete_ms": u(r, 1000, 1900) if r.random() < 0.3 else None, "wait_for_pickup": 1},
}
WEIGHTS = {"cancel_vs_answer": 2, "cancel_crossing": 3, "delete_vs_bye": 3, "three_way": 3,
           "source_bye_vs_answer": 2, "busy_vs_delete": 2, "ringing_delete": 1, "pickup_vs_answer": 1}


def plan(seed: int, count: int) -> list[Race]:
    rng = random.Random(seed)
    kinds = list(WEIGHTS)
    races = []
    for index in range(count):
        kind = rng.choices(kinds, weights=[WEIGHTS[k] for k in kinds])[0]
        races.append(Race(index=index, lane=index % LANES, kind=kind, **KINDS[kind](rng)))
    return races


def seed_from_env() -> int:
    value = os.environ.get("UAPI_RACE_SEED", "20261128")
    return random.SystemRandom().randrange(10**9) if value == "random" else int(value)


# -- the agents ----------------------------------------------------------------------------


class RacePhone(PortSipp):
    """A SIPp running calls until told to stop (SIGUSR1: finish the current calls, then exit)."""

    def __init__(self, workdir: Path, name: str, port: int = 0) -> None:
        super().__init__(SCENARIO, workdir, name, port=port, d_ms=10)
        self.log_file = self.workdir / f"{name}_logs.log"
        self.debug_file = self.workdir / f"{name}_calldebug.log"

    def command(self) -> list[str]:
        return [SIPP or "sipp", "-sf", str(self.scenario), "-i", self.host, "-p", str(self.port),
                "-ci", self.host, "-nostdin", "-d", "10",
                "-trace_msg", "-message_file", str(self.msgs_log),
                "-trace_shortmsg", "-shortmessage_file", str(self.short_log),
                "-trace_err", "-error_file", str(self.err_log),
                "-trace_logs", "-log_file", str(self.log_file),
                "-trace_calldebug", "-calldebug_file", str(self.debug_file)]

    def start(self) -> int:
        return PortSipp.start(self) if self.fixed_port else Sipp.start(self)

    def finish(self, timeout: float = 30) -> int | str:
        """SIGUSR1: no new calls, exit once the current ones end; rc 0 only if none failed."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)
        try:
            return self.wait(timeout)
        except Exception:  # noqa: BLE001 - a call still running: stopped, reported as such
            return "still running"

    def events(self) -> dict[str, dict[int, tuple[str, str]]]:
        """{"START"|"END": {race: (call-id, how)}} from the scenario's log lines."""
        found: dict[str, dict[int, tuple[str, str]]] = {"START": {}, "END": {}}
        if self.log_file.exists():
            for line in self.log_file.read_text(errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] in found:
                    found[parts[0]][int(parts[1])] = (parts[2], parts[3] if len(parts) > 3 else "")
        return found

    def rows(self) -> dict[str, list[tuple[float, str, str, str]]]:
        """-trace_shortmsg rows by Call-ID: (epoch, R|S, "CSeq:n M", first line)."""
        by_call: dict[str, list[tuple[float, str, str, str]]] = defaultdict(list)
        if self.short_log.exists():
            for line in self.short_log.read_text(errors="replace").splitlines():
                cols = line.split("\t")
                if len(cols) >= 7:
                    by_call[cols[4]].append((float(cols[2]), cols[3], cols[5], cols[6]))
        return by_call


class RaceServer(SipServer):
    """The real server, with one extension (and SIP password) per lane."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        directory = json.loads(json.dumps(DIRECTORY))
        directory["extensions"] += [
            {"number": ext, "user": "12", "type": "phone_terminal", "sipPassword": f"pw-{ext}"}
            for ext in LANE_EXTENSIONS]
        self.directory.write_text(json.dumps(directory))


# -- what happened to one phone in one race -------------------------------------------------


@dataclass
class Leg:
    call_id: str
    rows: list[tuple[float, str, str, str]]
    how: str | None                 # END's "how"; None: the script never finished

    def sent(self, prefix: str) -> list[tuple[float, str, str, str]]:
        return [r for r in self.rows if r[1] == "S" and r[3].startswith(prefix)]

    def received(self, prefix: str) -> list[tuple[float, str, str, str]]:
        return [r for r in self.rows if r[1] == "R" and r[3].startswith(prefix)]

    @property
    def invite_cseq(self) -> str:
        invites = self.received("INVITE")
        return invites[0][2] if invites else ""

    @property
    def answered(self) -> bool:
        return any(r[2] == self.invite_cseq for r in self.sent("SIP/2.0 200"))

    @property
    def busy(self) -> bool:
        return bool(self.sent("SIP/2.0 486"))

    @property
    def own_bye(self) -> bool:
        return bool(self.sent("BYE "))

    @property
    def byes(self) -> Counter:
        """BYE transactions received, by CSeq (a value > 1 is a retransmission)."""
        return Counter(r[2] for r in self.received("BYE "))


def _bye_before_ack(leg: Leg) -> bool:
    """A BYE reached the phone while its 200 (to an INVITE or re-INVITE) still waited for the ACK."""
    waiting = False
    for _, direction, cseq, first in leg.rows:
        if direction == "S" and first.startswith("SIP/2.0 200") and cseq.endswith("INVITE"):
            waiting = True
        elif direction == "R" and first.startswith("ACK"):
            waiting = False
        elif direction == "R" and first.startswith("BYE") and waiting:
            return True
    return False


def judge(race: Race, source: Leg | None, callee: Leg | None) -> list[str]:
    """Everything wrong with one race, from the API's answer and what each phone saw."""
    problems = []
    call = race.ended
    if "ended" not in call:
        return [f"the API never ended the call: {call}"]
    by, cause = call.get("endedBy"), call.get("cause")
    legs = [("source", source), ("callee", callee)]
    if source is None and not (by == "api" and cause == "cancelled" and callee is None):
        problems.append("the source phone never got the INVITE")
    for name, leg in legs:
        if leg is None:
            continue
        if leg.how is None:
            problems.append(f"{name} phone never finished its script")
        doubled = {cseq: n for cseq, n in leg.byes.items()}
        if len(doubled) > 1:
            problems.append(f"{name} phone got {len(doubled)} BYEs in one dialog: {sorted(doubled)}")
        if leg.answered and not leg.own_bye and not leg.byes:
            problems.append(f"{name} phone answered but got no BYE")
    own_bye = any(leg is not None and leg.own_bye for _, leg in legs)
    busy = callee is not None and callee.busy
    answered = "answered" in call
    if (by == "api") != (race.delete_status == 200):
        problems.append(f"endedBy {by!r} but DELETE answered {race.delete_status}")
    if (cause == "hangup") != answered:
        problems.append(f"cause {cause!r} with answered={answered}")
    if answered and not (source and source.answered and callee and callee.answered):
        problems.append("the API says answered but a phone never sent 200")
    expected = {"api": {"hangup", "cancelled"}, "party": {"hangup", "cancelled"},
                "callee": {"busy"}, "system": {"no_answer"}}
    if cause not in expected.get(by, set()):
        problems.append(f"unexpected end {by}/{cause}")
    if by == "party" and not own_bye:
        problems.append("ended by a party but no phone sent its own BYE")
    if by == "callee" and not busy:
        problems.append("ended busy but the callee never sent 486")
    if by == "system" and race.wait_for_pickup is None:
        problems.append("ended by the system without waitForPickup")
    views = call.get("phoneCallView") or [{}]
    disposition = views[0].get("disposition")
    wanted = {"busy": 1, "no_answer": 3}.get(cause or "", 0 if answered else None)
    if wanted is not None and disposition != wanted:
        problems.append(f"disposition {disposition} for {by}/{cause} (expected {wanted})")
    return problems


# -- running --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RaceServer]:
    running = RaceServer(tmp_path_factory.mktemp("raceserver"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


def register(server: SipServer, workdir: Path, extension: str, contact_port: int) -> None:
    extended = f"0003*{extension}"
    agent = Sipp("register.xml", workdir, f"register{extension}", remote=server.sip_target, service=extended,
                 auth_user=extended, auth_password=f"pw-{extension}", timeout_s=10,
                 extra_args=["-key", "contact", f"{HOST}:{contact_port}", "-key", "expires", "3600"])
    agent.start()
    assert agent.wait(10) == 0, agent.report()


class Runner:
    def __init__(self, server: SipServer, races: list[Race], trunk: RacePhone, phones: list[RacePhone]) -> None:
        self.server, self.races, self.trunk, self.phones = server, races, trunk, phones
        self.http = httpx.Client(base_url=server.base, timeout=20,
                                 headers={"Authorization": f"Bearer {server.token()}"})
        self.lock = threading.Lock()
        self.errors: list[str] = []

    def lane(self, lane: int) -> None:
        phone = self.phones[lane]
        extension = LANE_EXTENSIONS[lane]
        try:
            for race in (r for r in self.races if r.lane == lane):
                self.run(race, phone, extension)
        except Exception as exc:  # noqa: BLE001 - reported with the seed by the test
            with self.lock:
                self.errors.append(f"lane {lane}: {exc!r}")

    def run(self, race: Race, phone: RacePhone, extension: str) -> None:
        query = f"?waitForPickup={race.wait_for_pickup}" if race.wait_for_pickup else ""
        response = self.http.post(f"{ME}/simple{query}", json={
            "extension": extension,
            "phoneCallView": [{"destination": race.destination, "callerDestination": race.shown}]})
        assert response.status_code == 200, f"{race.describe()}: create answered {response.status_code} {response.text}"
        created = time.monotonic()
        race.created_at = time.time()
        race.call_id = response.json()[0]["id"]
        if race.delete_ms is not None:
            time.sleep(max(0.0, created + race.delete_ms / 1000 - time.monotonic()))
            race.deleted_at = time.time()
            race.delete_status = self.http.delete(f"{ME}/{extension}/{race.call_id}").status_code

        def ended() -> dict | None:
            answer = self.http.get(f"{ME}/{extension}/{race.call_id}")
            entry = answer.json()["entry"][0] if answer.status_code == 200 else {}
            return entry if "ended" in entry else None

        race.ended = wait_until(ended, 20, interval=0.05) or {}
        # the phones finish their scripts (a phone rings only if the call reached it before it ended)
        for agent in (phone, self.trunk):
            if race.index in agent.events()["START"] or wait_until(
                    lambda a=agent: race.index in a.events()["START"], 0.5, interval=0.05):
                wait_until(lambda a=agent: race.index in a.events()["END"], 20, interval=0.03)
        ids = {events["START"][race.index][0] for events in (phone.events(), self.trunk.events())
               if race.index in events["START"]}
        def live() -> list[dict]:
            return [d for d in self.server.dialogs() if d.get("call-id") in ids and d.get("state") != 5]

        if not wait_until(lambda: not live(), 5, interval=0.05):
            leftover = live()
            race.problems.append(f"orphan dialogs in Kamailio: {[(d.get('call-id'), d.get('state')) for d in leftover]}")


def test_hang_up_races(server: RaceServer, tmp_path: Path) -> None:
    seed = seed_from_env()
    count = int(os.environ.get("UAPI_RACES", "240"))
    races = plan(seed, count)
    started = time.monotonic()
    phones: list[RacePhone] = []
    agents: list[RacePhone] = []
    try:
        for lane, extension in enumerate(LANE_EXTENSIONS):
            phone = RacePhone(tmp_path, f"lane{lane}")
            agents.append(phone)
            phone.start()
            register(server, tmp_path, extension, phone.port)
            phones.append(phone)
        trunk = RacePhone(tmp_path, "trunk", port=server.trunk_port)
        agents.append(trunk)
        trunk.start()

        runner = Runner(server, races, trunk, phones)
        with runner.http:  # its pooled connections are closed once the lanes are done
            threads = [threading.Thread(target=runner.lane, args=(lane,), daemon=True) for lane in range(LANES)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(180)
        running = [t for t in threads if t.is_alive()]
        exits = {agent.name: agent.finish(30) for agent in agents}
    finally:
        for agent in agents:
            agent.stop()
    elapsed = time.monotonic() - started

    # -- judge every race from the final logs ---------------------------------------------
    lane_events = [p.events() for p in phones]
    lane_rows = [p.rows() for p in phones]
    trunk_events, trunk_rows = trunk.events(), trunk.rows()

    def leg(events: dict, rows: dict, index: int) -> Leg | None:
        if index not in events["START"]:
            return None
        call_id = events["START"][index][0]
        end = events["END"].get(index)
        return Leg(call_id, rows.get(call_id, []), end[1] if end else None)

    outcomes: Counter = Counter()
    phone_sides: Counter = Counter()    # what the phones lived through, over all races
    double_byes = retransmitted_byes = 0
    for race in races:
        source = leg(lane_events[race.lane], lane_rows[race.lane], race.index)
        callee = leg(trunk_events, trunk_rows, race.index)
        race.problems += judge(race, source, callee)
        for side in (source, callee):
            if side is not None:
                phone_sides[f"end:{side.how}"] += 1
                phone_sides["CANCEL crossing a 200"] += side.answered and bool(side.received("CANCEL"))
                phone_sides["CANCEL crossing a 486"] += side.busy and bool(side.received("CANCEL"))
                phone_sides["BYE glare"] += side.own_bye and bool(side.byes)
                phone_sides["BYE before the ACK"] += _bye_before_ack(side)
                double_byes += max(0, len(side.byes) - 1)
                retransmitted_byes += sum(n - 1 for n in side.byes.values())
        outcomes[(race.kind, f"{race.ended.get('endedBy')}/{race.ended.get('cause')}")] += 1
    orphans = server.live_dialogs() if wait_until(lambda: not server.live_dialogs(), 10) is False else []

    by_kind = Counter(r.kind for r in races)
    lines = [(f"seed {seed}: {count} races in {elapsed:.1f} s ({LANES} lanes); "
             f"double BYEs {double_byes}, BYE retransmissions {retransmitted_byes}, "
             f"orphan dialogs {len(orphans)}; SIPp exits {exits}")]
    for kind in WEIGHTS:
        ends = ", ".join(f"{end} {n}" for (k, end), n in sorted(outcomes.items()) if k == kind)
        lines.append(f"  {kind:<22} {by_kind[kind]:>4}  {ends}")
    lines.append("  phones: " + ", ".join(f"{k} {n}" for k, n in sorted(phone_sides.items())))
    summary = "\n".join(lines)
    print(summary)
    (tmp_path / "summary.txt").write_text(summary)

    (tmp_path / "races.json").write_text(json.dumps([{
        "race": r.describe(), "created_at": r.created_at, "deleted_at": r.deleted_at,
        "delete_status": r.delete_status, "ended": {k: r.ended.get(k) for k in ("endedBy", "cause", "answered")},
        "problems": r.problems} for r in races], indent=1))
    failed = [r for r in races if r.problems]
    report = [f"replay with UAPI_RACE_SEED={seed} UAPI_RACES={count}", *runner.errors, summary] + [f"lanes still running: {running}"] * bool(running)
    for race in failed[:15]:
        report.append(race.describe())
        report += [f"    - {p}" for p in race.problems]
        report.append(f"    API: endedBy={race.ended.get('endedBy')} cause={race.ended.get('cause')} "
                      f"answered={'answered' in race.ended} DELETE={race.delete_status}")
        for name, events, rows in (("source", lane_events[race.lane], lane_rows[race.lane]),
                                   ("callee", trunk_events, trunk_rows)):
            start = events["START"].get(race.index)
            if start:
                report.append(f"    {name} {start[0]} END={events['END'].get(race.index)}")
                report += [f"      {t:.3f} {d} {c} {first}" for t, d, c, first in rows.get(start[0], [])]
    if failed or orphans or runner.errors or running or any(rc != 0 for rc in exits.values()):
        for agent in agents:
            if agent.err_log.exists():
                report.append(f"[{agent.err_log.name}]\n" + agent.err_log.read_text(errors="replace")[-3000:])
        pytest.fail("\n".join(report + [f"{len(failed)} races failed; orphans: {orphans}"]), pytrace=False)
    assert double_byes == 0 and not orphans
