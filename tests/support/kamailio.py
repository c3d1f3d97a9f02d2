"""One real Kamailio per test session, on free loopback ports, plus helpers around it.

Why one per session: start-up is fast (~70 ms) but each instance is a dozen processes, and
registrations are state the tests build on. Why a thread with its own event loop: the
supervised `Kamailio` lives on an asyncio loop for the whole session, while pytest-asyncio
gives every test a fresh loop; tests talk to it over JSON-RPC (sync helpers here, or their
own `KamailioRpc(env.rpc_url)`), never through the session loop.

Usage::

    from tests.support.kamailio import kamailio_env, sip_agents  # noqa: F401  (fixtures)

    def test_x(kamailio_env, sip_agents):
        engine = sip_agents("phone_answer.xml", port=kamailio_env.engine[1])   # the fake engine
        ...
        assert kamailio_env.wait_until(lambda: not kamailio_env.dialogs(), 10)
"""
from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import free_udp_port
from tests.support.sipp import SIPP, Sipp, udp_bound
from uapi.accounts import Directory
from uapi.switch.sip.kamailio import Kamailio, KamailioError, live_dialogs

KAMAILIO = shutil.which("kamailio") or (Path("/usr/sbin/kamailio") if Path("/usr/sbin/kamailio").exists() else None)
HOST = "127.0.0.1"

requires_kamailio = pytest.mark.skipif(
    KAMAILIO is None or SIPP is None, reason="needs kamailio and sipp (apt-get install kamailio sip-tester)")

# Phones that may register: extended number -> SIP password. 0003*220 is never registered.
PHONES = {"0003*210": "secret-210", "0003*211": "secret-211", "0003*220": "secret-220"}

DIRECTORY_YAML = """\
# Written by tests/support/kamailio.py: the phones Kamailio authenticates.
organizations:
  - {id: "3", name: "Default Organization", code: "0003"}
users:
  - {id: "12", organization: "3", name: "John Doe"}
  - {id: "13", organization: "3", name: "Jane Roe"}
extensions:
  - {number: "210", user: "12", type: phone_terminal, sipPassword: "secret-210"}
  - {number: "211", user: "12", type: phone_terminal, sipPassword: "secret-211"}
  - {number: "212", user: "12", type: callback}
  - {number: "220", user: "13", type: phone_terminal, sipPassword: "secret-220"}
  - {number: "221", user: "13", type: phone_terminal}
"""


def write_directory(folder: Path) -> Path:
    path = folder / "directory.yaml"
    path.write_text(DIRECTORY_YAML, encoding="utf-8")
    return path


# -- JSON-RPC, synchronous (usable from any test, any loop) ----------------------------


def rpc_call(url: str, method: str, *params: Any, timeout: float = 5.0) -> Any:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params:
        body["params"] = list(params)
    answer = httpx.post(url, json=body, timeout=timeout).json()
    if "error" in answer:
        raise KamailioError(f"{method}: {answer['error']}")
    return answer.get("result")


def dialogs(url: str, *, include_ended: bool = False) -> list[dict]:
    """dlg.list without ended dialogs (state 5, kept ~5 s until their BYE transaction is freed)."""
    return live_dialogs(rpc_call(url, "dlg.list"), include_ended=include_ended)


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.02) -> Any:
    """Poll `condition` until it is truthy (returned) or `timeout` passes (returns the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# -- the session's Kamailio ----------------------------------------------------------


class KamailioThread:
    """Runs one `Kamailio` on a private event loop in a daemon thread (start/stop are sync)."""

    def __init__(self, kamailio: Kamailio) -> None:
        self.kamailio = kamailio
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started: Future[None] = Future()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="kamailio", daemon=True)

    def start(self, timeout: float = 20) -> None:
        self._thread.start()
        self._started.result(timeout)

    def stop(self, timeout: float = 15) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.kamailio.start()
        except BaseException as exc:
            self._started.set_exception(exc)
            return
        self._started.set_result(None)
        try:
            await self._stop.wait()
        finally:
            await self.kamailio.stop()


@dataclass
class KamailioEnv:
    """Addresses of the session's switch: Kamailio, and the ports the fake engine and trunk must bind."""

    kamailio: Kamailio
    directory: Directory
    workdir: Path
    engine: tuple[str, int]
    trunk: tuple[str, int]
    phones: dict[str, str] = field(default_factory=lambda: dict(PHONES))

    @property
    def sip(self) -> tuple[str, int]:
        return self.kamailio.listen

    @property
    def sip_target(self) -> str:
        """host:port for SIPp's remote argument."""
        return f"{self.sip[0]}:{self.sip[1]}"

    @property
    def rpc_url(self) -> str:
        return self.kamailio.rpc.url

    def dialogs(self, *, include_ended: bool = False) -> list[dict]:
        return dialogs(self.rpc_url, include_ended=include_ended)

    def registrations(self) -> dict[str, list[str]]:
        result = rpc_call(self.rpc_url, "ul.dump") or {}
        found: dict[str, list[str]] = {}
        for domain in result.get("Domains") or []:
            for aor in (domain.get("Domain") or {}).get("AoRs") or []:
                info = aor.get("Info") or {}
                found[str(info.get("AoR"))] = [c["Contact"]["Address"] for c in info.get("Contacts") or []]
        return found

    def wait_until(self, condition: Callable[[], Any], timeout: float) -> Any:
        return wait_until(condition, timeout)


@pytest.fixture(scope="session")
def kamailio_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KamailioEnv]:
    """The session's Kamailio (supervised, on free loopback ports); stopped by its pidfile PID at the end."""
    if KAMAILIO is None or SIPP is None:
        pytest.skip("needs kamailio and sipp (apt-get install kamailio sip-tester)")
    workdir = tmp_path_factory.mktemp("kamailio")
    directory = Directory.load(write_directory(workdir))
    engine, trunk = (HOST, free_udp_port(HOST)), (HOST, free_udp_port(HOST))
    kamailio = Kamailio(directory, listen=(HOST, 0), engine=engine, trunk=trunk, workdir=workdir, binary=str(KAMAILIO))
    runner = KamailioThread(kamailio)
    runner.start()
    env = KamailioEnv(kamailio, directory, workdir, engine, trunk)
    try:
        yield env
    finally:
        pid = kamailio.pid
        runner.stop()
        if pid is not None and Path(f"/proc/{pid}").exists():
            raise AssertionError(f"kamailio {pid} still running after stop()")


# -- SIPp agents on a chosen port (the fake engine and trunk must use theirs) --------


class PortSipp(Sipp):
    """A `Sipp` on a fixed port: Kamailio trusts the engine by source address and sends trunk calls to one."""

    def __init__(self, *args: Any, port: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fixed_port = port

    def start(self) -> int:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.fixed_port
        if not wait_until(lambda: not udp_bound(self.port), 3):
            raise RuntimeError(f"sipp {self.name}: port {self.port} still in use")
        with open(self.out_log, "wb") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir)
        if self.remote is None and not wait_until(lambda: udp_bound(self.port) or self.proc.poll() is not None, 3):
            self.stop()
            raise RuntimeError(f"sipp {self.name} did not bind port {self.port} in 3 s")
        if self.remote is None and self.proc.poll() is not None:
            raise RuntimeError(f"sipp {self.name} exited early rc={self.proc.returncode}: "
                               + self.out_log.read_text(errors="replace")[-2000:])
        return self.port


@pytest.fixture
def sip_agents(tmp_path: Path) -> Iterator[Callable[..., Sipp]]:
    """Factory: `sip_agents(scenario, port=None, d_ms=0, timeout_s=5, **Sipp kwargs)`.

    With `port` the agent binds exactly that port (fake engine, trunk); without, a free one.
    Every agent is stopped by PID at teardown and its logs printed (shown when a test fails).
    """
    started: list[Sipp] = []

    def make(scenario: str | Path, port: int | None = None, d_ms: int = 0, timeout_s: float = 5, **kwargs: Any) -> Sipp:
        name = kwargs.pop("name", None) or f"{Path(scenario).stem}{len(started)}"
        if port is None:
            agent: Sipp = Sipp(scenario, tmp_path, name, d_ms=d_ms, timeout_s=timeout_s, **kwargs)
        else:
            agent = PortSipp(scenario, tmp_path, name, d_ms=d_ms, timeout_s=timeout_s, port=port, **kwargs)
        started.append(agent)
        agent.start()
        return agent

    yield make
    for agent in started:
        agent.stop()
        print(agent.report())


def register(make: Callable[..., Sipp], env: KamailioEnv, user: str, password: str, contact: tuple[str, int],
             *, scenario: str = "register.xml", expires: int = 3600) -> Sipp:
    """REGISTER `user` with digest auth, its contact pointing at `contact` (e.g. a phone's UAS).

    Returns the finished SIPp; rc 0 means the scenario's expected answers came.
    """
    agent = make(scenario, remote=env.sip_target, service=user, auth_user=user, auth_password=password,
                 extra_args=["-key", "contact", f"{contact[0]}:{contact[1]}", "-key", "expires", str(expires)])
    agent.wait(10)
    return agent
