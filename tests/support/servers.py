"""Real `uapi serve` processes and free ports, for the tests that need a server over a socket.

`free_port` and `free_udp_port` ask the kernel for a port that is free right now (another
process may still take it before the caller binds it; every user of a port so found lives
with that). `running_server` starts `uapi serve` on a free loopback port, waits until it
answers /uapi/openapi.json, yields it, and stops it whatever happens, so no test leaves a
process behind. The benchmarks (bench/, run by hand from a checkout) take their ports here
too: one copy of the code, not one per script.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 60.0   # seconds for a server to answer its first request (a loaded CI machine is slow)
STOP_TIMEOUT = 15.0    # seconds for a graceful stop after SIGTERM, before SIGKILL
SPEC_URL = "/uapi/openapi.json"   # what every `uapi serve` answers once its app is up


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now."""
    return _unbound_port(socket.SOCK_STREAM, host)


def free_udp_port(host: str = LOOPBACK) -> int:
    """A UDP port nothing is bound to right now."""
    return _unbound_port(socket.SOCK_DGRAM, host)


def _unbound_port(kind: socket.SocketKind, host: str) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def uapi_command(*args: str) -> list[str]:
    """`uapi ARGS` run by this interpreter, so the process sees the package under test."""
    return [sys.executable, "-m", "uapi.cli", *args]


class ServerNotReady(AssertionError):
    """The server exited or did not answer in time; the message carries its log.
    An AssertionError, so pytest reports it as a test failure rather than a crash."""


class ServerProcess:
    """One `uapi serve --host 127.0.0.1 --port <free>` process; stdout and stderr go to `log`.

    `own_session` puts the server in a process group of its own, for servers that start
    children of their own (`--reload`, `--workers`): stopping then reaches the whole group.
    """

    def __init__(self, args: Sequence[str], log: Path, *, tls: bool = False, own_session: bool = False,
                 command: Sequence[str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"{'https' if tls else 'http'}://{LOOPBACK}:{self.port}"
        self.log = log
        self.own_session = own_session
        serve = [*(command or uapi_command()), "serve", "--host", LOOPBACK, "--port", str(self.port), *args]
        with log.open("wb") as out:
            self.process = subprocess.Popen(serve, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent,
                                            start_new_session=own_session,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Return once the spec is served; raise ServerNotReady if the process exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerNotReady(f"uapi serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.base_url + SPEC_URL, verify=False, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise ServerNotReady(f"uapi serve did not answer within {timeout}s:\n{self.output()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """SIGTERM, then SIGKILL after `timeout`; True when SIGTERM alone stopped it.
        Afterwards nothing of the server runs, its own process group included."""
        graceful = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                graceful = False
                self.process.kill()
                self.process.wait(timeout=timeout)
        if self.own_session:
            with contextlib.suppress(ProcessLookupError):   # a reloader's or worker's child left behind
                os.killpg(self.process.pid, signal.SIGKILL)
        return graceful

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, verify=False, timeout=10.0)


@contextlib.contextmanager
def running_server(*args: str, workdir: Path, log_name: str = "serve.log", tls: bool = False,
                   own_session: bool = False, command: Sequence[str] | None = None) -> Iterator[ServerProcess]:
    """`uapi serve ARGS` answering requests, stopped on exit (see ServerProcess for the options)."""
    server = ServerProcess(args, workdir / log_name, tls=tls, own_session=own_session, command=command)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
