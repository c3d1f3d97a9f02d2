"""A real `uapi serve --switch sip` process for black-box tests, and the phones around it.

The server runs exactly as a user would start it: its own directory file (with
`sipPassword`s), its own SQLite file, `--sip-listen` and `--sip-trunk` on free loopback
ports. It starts and supervises Kamailio itself; the line it prints at start-up says where
Kamailio's JSON-RPC is, which the tests use as the oracle of live dialogs.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.kamailio import rpc_call, wait_until
from tests.support.servers import free_port, free_udp_port
from tests.support.sipp import Sipp

HOST = "127.0.0.1"
PHONES = {"0003*210": "pw-210", "0003*211": "pw-211", "0003*220": "pw-220"}
DIRECTORY = {
    "organizations": [{"id": "3", "name": "SIP Organization", "code": "0003"}],
    "users": [{"id": "12", "organization": "3", "name": "John Doe"}, {"id": "13", "organization": "3", "name": "Jane Roe"}],
    "extensions": [
        {"number": "210", "user": "12", "type": "phone_terminal", "callerId": "John Doe <0003*210>",
         "sipPassword": PHONES["0003*210"]},
        {"number": "211", "user": "12", "type": "phone_terminal", "sipPassword": PHONES["0003*211"]},
        {"number": "220", "user": "13", "type": "phone_terminal", "sipPassword": PHONES["0003*220"]},
        {"number": "213", "user": "12", "type": "conference"},
    ],
    "apps": [{"clientId": "john", "clientSecret": "john-secret", "account": "user:12"},
             {"clientId": "org", "clientSecret": "org-secret", "account": "organization:3"}],
}
RPC_LINE = re.compile(r"Kamailio pid (\d+) on udp:[\d.]+:(\d+), JSON-RPC (\S+),")


class SipServer:
    """With `proxy`, the server uses that Kamailio (run apart) instead of starting its own."""

    def __init__(self, workdir: Path, database: str | None = None, proxy: tuple[str, int] | None = None,
                 engine_port: int | None = None) -> None:
        self.proxy = proxy
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.directory = workdir / "directory.json"
        self.directory.write_text(json.dumps(DIRECTORY))
        self.database = database or f"sqlite:///{workdir / 'uapi.db'}"
        self.port = free_port(HOST)
        self.sip_port = free_udp_port()
        self.trunk_port = free_udp_port()
        self.engine_port = engine_port or free_udp_port()   # fixed, as in production: phones send in-dialog requests there
        self.log = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.kamailio_pid = 0
        self.rpc_url = ""
        self._tokens: dict[str, str] = {}

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def sip_target(self) -> str:
        return f"{HOST}:{self.sip_port}"

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "uapi.cli", "serve", "--host", HOST, "--port", str(self.port),
                   "--directory", str(self.directory), "--database", self.database, "--switch", "sip",
                   "--sip-engine", f"{HOST}:{self.engine_port}", "--log-level", "warning"]
        if self.proxy is not None:
            return command + ["--sip-proxy", "%s:%d" % self.proxy]
        return command + ["--sip-listen", self.sip_target, "--sip-trunk", f"{HOST}:{self.trunk_port}",
                          "--sip-workdir", str(self.workdir / "kamailio")]

    def start(self, timeout: float = 60) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        offset = len(self.output())   # a restart appends to the same log
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uapi serve exited {self.process.returncode}:\n{self.output()[-3000:]}")
            started = self.output()[offset:]
            match = RPC_LINE.search(started)
            if (match or (self.proxy and "Kamailio run apart" in started)) and self._answers():
                if match:
                    self.kamailio_pid, self.rpc_url = int(match.group(1)), match.group(3)
                return
            time.sleep(0.05)
        raise RuntimeError(f"uapi serve not ready in {timeout} s:\n{self.output()[-3000:]}")

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.base}/uapi/openapi.json", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    # -- HTTP -------------------------------------------------------------------------

    def token(self, client: str = "john") -> str:
        if client not in self._tokens:
            response = httpx.post(f"{self.base}/oauth/token", data={
                "grant_type": "client_credentials", "client_id": client, "client_secret": f"{client}-secret"})
            response.raise_for_status()
            self._tokens[client] = response.json()["access_token"]
        return self._tokens[client]

    def request(self, method: str, path: str, client: str = "john", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(client)}"}
        return httpx.request(method, f"{self.base}{path}", headers=headers, timeout=10, **kwargs)

    def create(self, destination: str, extension: str = "210", query: str = "") -> dict:
        response = self.request("POST", f"/uapi/phoneCalls/@me/simple{query}",
                                json={"extension": extension, "phoneCallView": [{"destination": destination}]})
        assert response.status_code == 200, response.text
        return response.json()[0]

    def call(self, call_id: str, extension: str = "@self") -> dict:
        response = self.request("GET", f"/uapi/phoneCalls/@me/{extension}/{call_id}")
        assert response.status_code == 200, response.text
        return response.json()["entry"][0]

    def live(self, extension: str, client: str = "john", user: str = "@me") -> list[dict]:
        response = self.request("GET", f"/uapi/phoneCalls/{user}/{extension}", client=client)
        assert response.status_code in (200, 204), response.text
        return response.json()["entry"] if response.status_code == 200 else []

    def until(self, call_id: str, condition: Callable[[dict], bool], timeout: float = 10) -> dict:
        found = wait_until(lambda: (lambda c: c if condition(c) else None)(self.call(call_id)), timeout)
        assert found, f"call {call_id} never reached the state; last: {self.call(call_id)}"
        return found

    # -- Kamailio ---------------------------------------------------------------------

    def dialogs(self) -> list[dict]:
        result = rpc_call(self.rpc_url, "dlg.list")
        return result if isinstance(result, list) else []

    def live_dialogs(self) -> list[dict]:
        """Dialogs not yet deleted (state 5 entries linger while their last transaction ends)."""
        return [d for d in self.dialogs() if d.get("state") != 5]

    def no_dialogs_left(self, timeout: float = 10) -> bool:
        return bool(wait_until(lambda: not self.live_dialogs(), timeout))


def phone(make: Callable[..., Sipp], server: SipServer, extension: str, scenario: str = "phone_answer.xml",
          d_ms: int = 100, timeout_s: float = 15) -> Sipp:
    """A SIPp phone answering on its own port, registered at the server's Kamailio as `extension`."""
    agent = make(scenario, d_ms=d_ms, timeout_s=timeout_s, name=f"phone{extension.split('*')[-1]}")
    registrar = make("register.xml", remote=server.sip_target, service=extension, auth_user=extension,
                     auth_password=PHONES[extension], name=f"register{extension.split('*')[-1]}",
                     extra_args=["-key", "contact", f"{HOST}:{agent.port}", "-key", "expires", "3600"])
    assert registrar.wait(10) == 0, registrar.report()
    return agent


def trunk(make: Callable[..., Sipp], server: SipServer, scenario: str = "phone_answer.xml", d_ms: int = 100,
          timeout_s: float = 15) -> Sipp:
    """The trunk: a SIPp on the server's fixed --sip-trunk port."""
    return make(scenario, port=server.trunk_port, d_ms=d_ms, timeout_s=timeout_s, name="trunk")


def methods(agent: Sipp, timeout: float = 15) -> list[str]:
    """What the agent received, once it finished its script (rc 0 asserted)."""
    assert agent.wait(timeout) == 0, agent.report()
    return agent.received_methods()
