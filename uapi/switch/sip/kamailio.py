"""Kamailio as the SIP switch's front door: registrar with digest auth, router and dialog tracker.

Why a supervised child process: Kamailio does the SIP work phones and trunks expect (REGISTER,
digest auth, record-routing, dialog tracking) far better than anything we would write, and its
JSON-RPC `dlg.list` is an independent oracle for "no call left behind". Our own engine places
the calls (3pcc); Kamailio routes them. This module renders a loopback-only config from the
directory (`kamailio.cfg.j2`), starts Kamailio, restarts it when it dies, and talks JSON-RPC
to it.
"""
from __future__ import annotations

import asyncio
import ctypes
import hashlib
import logging
import os
import re
import signal
import socket
import time
from collections import deque
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, cast

import httpx
import jinja2

from uapi.accounts import Directory

log = logging.getLogger("uapi.switch.kamailio")

MODULE_PATH = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
DIALOG_TIMEOUT_S = 43200          # 12 h: long calls must outlive nothing but their own BYE
CHILDREN = 4                      # UDP workers (100 concurrent calls on 2 cores)
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
_HOST = re.compile(r"^[A-Za-z0-9.-]+$")
_AOR_USER = re.compile(r"^[0-9]+\*[0-9]+$")


class KamailioError(Exception):
    """Kamailio could not be configured, started or asked something; the message is one line."""


def _address(name: str, value: tuple[str, int]) -> tuple[str, int]:
    host, port = value
    if not _HOST.match(host) or not 0 < int(port) < 65536:
        raise KamailioError(f"{name} address {host}:{port} is not a plain host and port")
    return host, int(port)


def ha1(user: str, realm: str, password: str) -> str:
    """The digest HA1 Kamailio checks against, so the rendered config holds no plaintext."""
    return hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()


def render_config(directory: Directory, *, listen: tuple[str, int], rpc: tuple[str, int],
                  engine: tuple[str, int] | Sequence[tuple[str, int]],
                  trunk: tuple[str, int] | None, workdir: Path) -> str:
    """The Kamailio config for these addresses; phones are the directory's extensions with a sipPassword.

    `engine` may list several engines (one per API process sharing this Kamailio): all are
    trusted, and the calls phones dial go to them in turn, to the next one when one fails.
    """
    listen_host, listen_port = _address("listen", listen)
    rpc_host, rpc_port = _address("rpc", rpc)
    listed = cast("list[tuple[str, int]]", [engine] if isinstance(engine[0], str) else list(engine))
    engines = [_address("engine", e) for e in listed]
    engine_host, engine_port = engines[0]
    trunk_host, trunk_port = _address("trunk", trunk) if trunk else (None, None)
    realm = listen_host
    credentials = []
    for user, password in directory.sip_credentials():
        if not _AOR_USER.match(user):
            raise KamailioError(f"extension {user!r} cannot be a SIP user")
        credentials.append((user, ha1(user, realm, password)))
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    template = env.from_string(resources.files("uapi.switch.sip").joinpath("kamailio.cfg.j2").read_text("utf-8"))
    return template.render(
        listen_host=listen_host, listen_port=listen_port, realm=realm,
        rpc_host=rpc_host, rpc_port=rpc_port,
        engine_host=engine_host, engine_port=engine_port, engines=engines,
        trunk_host=trunk_host, trunk_port=trunk_port,
        trunk_uri=f"sip:{trunk_host}:{trunk_port}" if trunk_host else None,
        credentials=credentials, children=CHILDREN, debug=2,
        dialog_timeout=DIALOG_TIMEOUT_S, module_path=MODULE_PATH,
        run_dir=str(Path(workdir).resolve() / "run"),
    )


class KamailioRpc:
    """JSON-RPC 2.0 over HTTP to Kamailio's jsonrpcs module (xhttp on a loopback TCP port)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self._client = httpx.AsyncClient(timeout=timeout)
        self._ids = 0

    async def call(self, method: str, *params: Any) -> Any:
        self._ids += 1
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": self._ids}
        if params:
            body["params"] = list(params)
        try:
            response = await self._client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise KamailioError(f"kamailio rpc {method}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise KamailioError(f"kamailio rpc {method}: HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise KamailioError(f"kamailio rpc {method}: not JSON: {response.text[:200]!r}") from None
        if "error" in answer:
            error = answer["error"] or {}
            raise KamailioError(f"kamailio rpc {method}: {error.get('code')} {error.get('message')}")
        return answer.get("result")

    async def dialogs(self, *, include_ended: bool = False) -> list[dict[str, Any]]:
        """Dialogs Kamailio tracks (dlg.list); [] when there are none.

        A dialog whose BYE went through is in state 5 ("deleted") but stays listed until the
        BYE transaction is freed (tm wait_timer, 5 s); it is left out unless `include_ended`,
        so an empty list means no call is up.
        """
        return live_dialogs(await self.call("dlg.list"), include_ended=include_ended)

    async def registrations(self) -> dict[str, list[str]]:
        """AOR user -> contact URIs of the phones registered right now (ul.dump)."""
        result = await self.call("ul.dump") or {}
        found: dict[str, list[str]] = {}
        for domain in result.get("Domains") or []:
            for aor in (domain.get("Domain") or {}).get("AoRs") or []:
                info = aor.get("Info") or {}
                contacts = [(c.get("Contact") or {}).get("Address") for c in info.get("Contacts") or []]
                found[str(info.get("AoR"))] = [c for c in contacts if c]
        return found

    async def aclose(self) -> None:
        await self._client.aclose()


DLG_STATE_DELETED = 5          # dialog module states: 1 unconfirmed, 2 early, 3 confirmed-no-ACK, 4 confirmed


def live_dialogs(result: Any, *, include_ended: bool = False) -> list[dict[str, Any]]:
    """Normalise a dlg.list result: a list, without ended dialogs unless asked."""
    if not result:
        return []
    found = list(result) if isinstance(result, list) else [result]
    return [d for d in found if include_ended or d.get("state") != DLG_STATE_DELETED]


def free_port(kind: int, host: str) -> int:
    """A port the kernel says is free now (socket.SOCK_DGRAM or SOCK_STREAM)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def udp_bound(host: str, port: int) -> bool:
    """Whether a UDP socket is bound to host:port, read from /proc/net/udp (IPv4)."""
    try:
        want = f"{socket.inet_aton(socket.gethostbyname(host))[::-1].hex().upper()}:{port:04X}"
        with open("/proc/net/udp") as f:
            next(f)
            return any(line.split()[1] in (want, f"00000000:{port:04X}") for line in f)
    except OSError:
        return False


class Kamailio:
    """One supervised Kamailio process on the given loopback addresses.

    `start()` renders and checks the config, starts Kamailio in the foreground (`-DD`, its
    own session so its workers form one process group we own) and waits until it serves.
    A supervisor task then restarts it if it dies (at most `max_restarts` a minute).
    `stop()` ends it by the PID in its pidfile, never by name.
    """

    max_restarts = 5                  # within restart_window_s; one more death and we give up
    restart_window_s = 60.0
    restart_backoff_s = 0.1           # doubled per recent death, capped at 3 s

    def __init__(self, directory: Directory, *, listen: tuple[str, int], engine: tuple[str, int],
                 trunk: tuple[str, int] | None, workdir: Path, rpc_port: int = 0, binary: str = "kamailio") -> None:
        self.directory = directory
        host, port = listen
        self.listen = (host, port or free_port(socket.SOCK_DGRAM, host))
        self.rpc_address = (host, rpc_port or free_port(socket.SOCK_STREAM, host))
        self.engine = engine
        self.trunk = trunk
        self.workdir = Path(workdir).resolve()
        self.binary = binary
        self.config_path = self.workdir / "kamailio.cfg"
        self.pidfile = self.workdir / "kamailio.pid"
        self.log_path = self.workdir / "kamailio.log"
        self.rpc = KamailioRpc(f"http://{self.rpc_address[0]}:{self.rpc_address[1]}/RPC")
        self.healthy = False
        self.last_error: str | None = None
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._log_offset = 0
        self._stopping = False
        self._supervisor: asyncio.Task[None] | None = None
        self._deaths: deque[float] = deque()

    @property
    def pid(self) -> int | None:
        """The running Kamailio's main PID (from its pidfile), or None."""
        if self._proc is None or self._proc.returncode is not None:
            return None
        return self._pidfile_pid() or self._proc.pid

    def _pidfile_pid(self) -> int | None:
        """The pidfile's PID, trusted only when it is in our child's process group (never a stranger)."""
        try:
            pid = int(self.pidfile.read_text().strip())
            return pid if self._proc is not None and os.getpgid(pid) == self._proc.pid else None
        except (OSError, ValueError):
            return None

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "run").mkdir(exist_ok=True)
        self.config_path.write_text(render_config(
            self.directory, listen=self.listen, rpc=self.rpc_address, engine=self.engine,
            trunk=self.trunk, workdir=self.workdir), encoding="utf-8")
        await self._check_config()
        self._stopping = False
        await self._launch()
        self._supervisor = asyncio.create_task(self._supervise(), name="kamailio-supervisor")

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            try:
                await self._supervisor
            except asyncio.CancelledError:
                pass
            self._supervisor = None
        await self._terminate()
        self.healthy = False
        await self.rpc.aclose()
        self.rpc = KamailioRpc(self.rpc.url)     # usable again after a later start()

    # -- process ---------------------------------------------------------------------

    async def _check_config(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            self.binary, "-c", "-f", str(self.config_path), "-Y", str(self.workdir / "run"),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), START_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise KamailioError(f"kamailio -c did not finish in {START_TIMEOUT_S:.0f} s") from None
        if proc.returncode != 0:
            lines = [ln for ln in out.decode(errors="replace").splitlines() if "ERROR" in ln or "CRITICAL" in ln]
            raise KamailioError(f"kamailio config {self.config_path} rejected: "
                                + (" | ".join(lines[-3:]) or f"exit code {proc.returncode}"))

    async def _launch(self) -> None:
        """Start Kamailio and wait (bounded) until SIP is bound and JSON-RPC answers."""
        self.pidfile.unlink(missing_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                self.binary, "-f", str(self.config_path), "-DD", "-E", "-P", str(self.pidfile),
                "-Y", str(self.workdir / "run"),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._proc.returncode is not None:
                raise KamailioError(f"kamailio exited during start-up ({_describe(self._proc.returncode)}): "
                                    f"{self._log_tail()}")
            if udp_bound(*self.listen) and await self._rpc_answers():
                break
            if time.monotonic() > deadline:
                await self._terminate()
                raise KamailioError(f"kamailio not ready in {START_TIMEOUT_S:.0f} s "
                                    f"(SIP {self.listen[0]}:{self.listen[1]}, RPC {self.rpc.url}): {self._log_tail()}")
            await asyncio.sleep(0.01)        # polling a condition of a child process, bounded above
        self.healthy = True
        log.info("kamailio %s ready: SIP udp:%s:%d, RPC %s", self.pid, *self.listen, self.rpc.url)

    async def _rpc_answers(self) -> bool:
        try:
            await self.rpc.call("core.version")
            return True
        except KamailioError:
            return False

    async def _terminate(self) -> None:
        """SIGTERM the pidfile PID, wait <= STOP_TIMEOUT_S, then SIGKILL; reap every worker."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            pid = self._pidfile_pid() or proc.pid
            _signal(pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("kamailio %d ignored SIGTERM for %.0f s; killing it", pid, STOP_TIMEOUT_S)
                _signal(pid, signal.SIGKILL)
                await proc.wait()
        await self._reap_group(proc.pid)

    async def _reap_group(self, pgid: int) -> None:
        """Workers orphaned by a killed main process still hold the SIP port: kill our group."""
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _group_alive(pgid):
            if time.monotonic() > deadline:
                raise KamailioError(f"kamailio workers of process group {pgid} survived SIGKILL")
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.01)

    async def _supervise(self) -> None:
        """Restart Kamailio when it exits on its own; give up after `max_restarts` in a minute."""
        while not self._stopping and self._proc is not None:
            code = await self._proc.wait()
            if self._stopping:
                return
            self.healthy = False
            self.last_error = f"kamailio exited unexpectedly ({_describe(code)}); last output: {self._last_line()}"
            log.error(self.last_error)
            now = time.monotonic()
            self._deaths.append(now)
            while self._deaths and now - self._deaths[0] > self.restart_window_s:
                self._deaths.popleft()
            if len(self._deaths) > self.max_restarts:
                self.last_error = (f"kamailio died {len(self._deaths)} times within {self.restart_window_s:.0f} s; "
                                   f"not restarting it (last: {_describe(code)})")
                log.error(self.last_error)
                return
            await asyncio.sleep(min(self.restart_backoff_s * 2 ** (len(self._deaths) - 1), 3.0))   # backoff
            try:
                await self._reap_group(self._proc.pid)
                await self._launch()
                self.restarts += 1
            except KamailioError as exc:
                self.last_error = str(exc)
                log.error("kamailio restart failed: %s", exc)
                if self._proc.returncode is None:
                    await self._terminate()

    # -- helpers -----------------------------------------------------------------------

    def _log_tail(self, lines: int = 3) -> str:
        """The last error lines Kamailio wrote since this launch (else its last lines), on one line."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                text = f.read().decode(errors="replace")
        except OSError:
            return "(no output)"
        all_lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        errors = [ln for ln in all_lines if "ERROR" in ln or "CRITICAL" in ln or "ALERT" in ln]
        return " | ".join((errors or all_lines)[-lines:]) or "(no output)"

    def _last_line(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                lines = [ln.strip() for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
        except OSError:
            lines = []
        return lines[-1] if lines else "(no output)"


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM Kamailio if we die, so a crashed server leaves no switch holding its ports."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)    # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process is still in this process group, read from /proc."""
    with os.scandir("/proc") as entries:   # closed even when we return early
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False
