"""SIPp phones for tests: one SIPp process per phone, on its own free loopback port.

Why a process per phone: SIPp is a strict oracle. It exits 0 only when the peer did exactly
what the scenario scripts (exit codes in `man sipp`: 1 a call failed, 255 fatal or
`-timeout_error`, 254 bind failure). Its `-trace_shortmsg` log says which requests arrived in
which order; `-trace_msg` has the raw text for header checks SIPp itself never makes
(branches, tags, Route, SDP versions).

Rules baked in (brief sip-engine.md section 3.2): always `-p` (a UAS without it binds 5060),
`-ci 127.0.0.1` (the control socket listens on all interfaces otherwise), `-m 1 -nostdin
-timeout Ns -timeout_error` so a phone can never hang a test, and a retry when the probed
port was taken before SIPp bound it (exit 254). Processes are stopped by their own PID only.

Usage from any test module::

    from tests.support.sipp import sipp_phones  # noqa: F401  (the fixture)

    def test_x(sipp_phones):
        phone = sipp_phones("phone_answer.xml", d_ms=200)
        ...
        assert await phone.finished(5) == 0
"""
from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.servers import free_udp_port

SCENARIOS = Path(__file__).resolve().parent.parent / "sip" / "scenarios"
SIPP = shutil.which("sipp")
BIND_FAILED = 254            # SIPp exit -2


def udp_bound(port: int) -> bool:
    """Whether any socket is bound to this UDP port, read from /proc (touches no port)."""
    suffix = f":{port:04X}"
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f)
                if any(line.split()[1].endswith(suffix) for line in f):
                    return True
        except FileNotFoundError:
            continue
    return False


class Sipp:
    """One SIPp agent (a scripted phone or caller). Not started until `start()`."""

    def __init__(
        self,
        scenario: str | Path,
        workdir: Path,
        name: str,
        *,
        d_ms: int = 10,                 # SIPp 3.6.1 sometimes never wakes from a 0 ms <pause/>
        timeout_s: float = 5,
        extra_args: Sequence[str] = (),
        remote: str | None = None,
        service: str | None = None,
        auth_user: str | None = None,
        auth_password: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        path = Path(scenario)
        self.scenario = path if path.is_absolute() or path.exists() else SCENARIOS / path
        self.workdir = Path(workdir)
        self.name = name
        self.d_ms = d_ms
        self.timeout_s = timeout_s
        self.extra_args = list(extra_args)
        self.remote = remote
        self.service = service
        self.auth_user = auth_user
        self.auth_password = auth_password
        self.host = host
        self.port: int = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.msgs_log = self.workdir / f"{name}_msgs.log"
        self.short_log = self.workdir / f"{name}_short.log"
        self.err_log = self.workdir / f"{name}_errors.log"
        self.out_log = self.workdir / f"{name}_out.log"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def command(self) -> list[str]:
        args = [SIPP or "sipp", "-sf", str(self.scenario)]
        if self.remote:
            args.append(self.remote)
        args += ["-i", self.host, "-p", str(self.port), "-ci", self.host,
                 "-m", "1", "-nostdin", "-timeout", f"{self.timeout_s}s", "-timeout_error",
                 "-d", str(self.d_ms),
                 "-trace_msg", "-message_file", str(self.msgs_log),
                 "-trace_shortmsg", "-shortmessage_file", str(self.short_log),
                 "-trace_err", "-error_file", str(self.err_log)]
        if self.service:
            args += ["-s", self.service]
        if self.auth_user:
            args += ["-au", self.auth_user]
        if self.auth_password:
            args += ["-ap", self.auth_password]
        return args + self.extra_args

    def start(self) -> int:
        """Start SIPp and return its port once it is bound (2-5 ms on this machine)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            self.port = free_udp_port(self.host)
            with open(self.out_log, "wb") as out:
                self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.workdir)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if udp_bound(self.port):
                    return self.port
                time.sleep(0.002)        # readiness polling of a child process, not a sync point
            if self.proc.poll() is None:
                self.stop()
                raise RuntimeError(f"sipp {self.name} did not bind in 3 s")
            if self.proc.returncode != BIND_FAILED:
                if self.remote:          # a caller may finish its whole script before we look
                    return self.port
                raise RuntimeError(f"sipp {self.name} exited early rc={self.proc.returncode}: "
                                   + self.out_log.read_text(errors="replace")[-2000:])
        raise RuntimeError(f"sipp {self.name}: no free port after 3 tries")

    def wait(self, timeout: float) -> int:
        """Block until SIPp exits; its exit code (0 = the whole script happened)."""
        assert self.proc is not None, "not started"
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise

    async def finished(self, timeout: float) -> int:
        """`wait` without blocking the event loop (the engine under test runs on it)."""
        return await asyncio.to_thread(self.wait, timeout)

    def stop(self) -> None:
        """Stop our own child, by its PID; no-op once it exited."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    @property
    def messages(self) -> str:
        """The raw `-trace_msg` log: every message sent and received, in full."""
        return self.msgs_log.read_text(errors="replace") if self.msgs_log.exists() else ""

    def trace(self) -> list[tuple[str, str, str]]:
        """`-trace_shortmsg` rows: (R|S, "CSeq: n METHOD", first line)."""
        if not self.short_log.exists():
            return []
        rows = []
        for line in self.short_log.read_text(errors="replace").splitlines():
            cols = line.split("\t")      # date, time, epoch, R|S, Call-ID, CSeq, first line
            if len(cols) >= 7:
                rows.append((cols[3], cols[5], cols[6]))
        return rows

    def received_methods(self) -> list[str]:
        """Requests SIPp received, in order (responses left out)."""
        return [first.split()[0] for direction, _, first in self.trace()
                if direction == "R" and not first.startswith("SIP/2.0")]

    def received_statuses(self) -> list[int]:
        """Status codes of the responses SIPp received, in order."""
        return [int(first.split()[1]) for direction, _, first in self.trace()
                if direction == "R" and first.startswith("SIP/2.0")]

    def received(self, method: str) -> list[str]:
        """Full text of each received request with this method (from `-trace_msg`)."""
        return [m for m in received_messages(self.messages) if m.startswith(method + " ")]

    def report(self) -> str:
        parts = [f"--- sipp {self.name} rc={self.returncode} port={self.port}"]
        for log in (self.short_log, self.err_log, self.out_log):
            if log.exists():
                parts.append(f"[{log.name}]\n" + log.read_text(errors="replace")[-4000:])
        return "\n".join(parts)


_RECEIVED = re.compile(r"message received \[\d+\] bytes :\n\n(.*?)(?=\n-{10,}|\Z)", re.S)


def received_messages(raw_log: str) -> list[str]:
    """Split a `-trace_msg` log into the messages SIPp received."""
    return [m.strip("\n") for m in _RECEIVED.findall(raw_log)]


def header_values(message: str, name: str) -> list[str]:
    """Values of one header (full name, case-insensitive) in a raw message's head."""
    head = message.split("\n\n", 1)[0]
    prefix = name.lower() + ":"
    return [line.split(":", 1)[1].strip() for line in head.splitlines()
            if line.lower().startswith(prefix)]


def branch_of(message: str) -> str:
    via = header_values(message, "Via")[0]
    return via.split("branch=")[1].split(";")[0].strip()


requires_sipp = pytest.mark.skipif(SIPP is None, reason="sipp not installed (apt-get install sip-tester)")


@pytest.fixture
def sipp_phones(tmp_path: Path) -> Iterator[Callable[..., Sipp]]:
    """Factory: `sipp_phones(scenario, d_ms=10, timeout_s=5, **kwargs)` starts one SIPp.

    Every SIPp started is stopped (by PID) at teardown; its logs are printed, which pytest
    shows only when the test failed.
    """
    started: list[Sipp] = []

    def make(scenario: str | Path, d_ms: int = 10, timeout_s: float = 5, **kwargs) -> Sipp:
        name = kwargs.pop("name", None) or f"{Path(scenario).stem}{len(started)}"
        phone = Sipp(scenario, tmp_path, name, d_ms=d_ms, timeout_s=timeout_s, **kwargs)
        started.append(phone)
        phone.start()
        return phone

    yield make
    for phone in started:
        phone.stop()
        print(phone.report())
