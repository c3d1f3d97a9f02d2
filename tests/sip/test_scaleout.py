"""Kamailio run apart, two API processes on one PostgreSQL (the README's scale-out recipe).

Kamailio is rendered by `uapi kamailio-config` with both engines and run as a plain
process, as an init system would. Calls are placed through one API process and hung up
through the other; calls phones dial reach either engine; every phone gets exactly one BYE.
"""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import fresh_postgres_database
from tests.sip.sipserver import HOST, PHONES, SipServer, methods, phone, trunk
from tests.support.kamailio import KAMAILIO, requires_kamailio, rpc_call, sip_agents, wait_until  # noqa: F401
from tests.support.servers import free_port, free_udp_port
from tests.support.sipp import requires_sipp, udp_bound

pytestmark = [pytest.mark.sip, pytest.mark.kamailio, requires_sipp, requires_kamailio]
ME = "/uapi/phoneCalls/@me"


class ApartKamailio:
    def __init__(self, workdir: Path, directory: Path, engines: list[int], trunk_port: int) -> None:
        self.workdir = workdir
        self.sip_port = free_udp_port()
        self.rpc_url = f"http://{HOST}:{free_port(HOST)}/RPC"
        (workdir / "run").mkdir(parents=True, exist_ok=True)
        self.config = workdir / "kamailio.cfg"
        render = [sys.executable, "-m", "uapi.cli", "kamailio-config", "--directory", str(directory),
                  "--sip-listen", f"{HOST}:{self.sip_port}", "--sip-trunk", f"{HOST}:{trunk_port}",
                  "--rpc", self.rpc_url.split("//")[1].split("/")[0], "--workdir", str(workdir),
                  "--out", str(self.config)]
        for port in engines:
            render += ["--sip-engine", f"{HOST}:{port}"]
        subprocess.run(render, check=True, capture_output=True)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.workdir / "kamailio.log", "wb") as log:
            self.process = subprocess.Popen([str(KAMAILIO), "-f", str(self.config), "-DD", "-E",
                                             "-P", str(self.workdir / "kamailio.pid"), "-Y", str(self.workdir / "run")],
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        assert wait_until(lambda: udp_bound(self.sip_port), 10), (self.workdir / "kamailio.log").read_text()

    def live_dialogs(self) -> list[dict]:
        result = rpc_call(self.rpc_url, "dlg.list")
        return [d for d in (result if isinstance(result, list) else []) if d.get("state") != 5]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres_server: str) -> Iterator[tuple[ApartKamailio, SipServer, SipServer]]:
    root = tmp_path_factory.mktemp("scaleout")
    database = fresh_postgres_database(postgres_server)
    engines = [free_udp_port(), free_udp_port()]
    first = SipServer(root / "a", database=database, engine_port=engines[0])
    kamailio = ApartKamailio(root / "kamailio", first.directory, engines, first.trunk_port)
    kamailio.start()
    first.proxy = (HOST, kamailio.sip_port)
    second = SipServer(root / "b", database=database, proxy=(HOST, kamailio.sip_port), engine_port=engines[1])
    for server in (first, second):
        server.sip_port = kamailio.sip_port   # phones register at the shared Kamailio
        server.trunk_port = first.trunk_port
    try:
        first.start()
        second.start()
        yield kamailio, first, second
    finally:
        for server in (first, second):
            server.stop()
        kamailio.stop()


def test_a_call_placed_through_one_process_is_hung_up_through_the_other(cluster, sip_agents):
    kamailio, first, second = cluster
    john = phone(sip_agents, first, "0003*210")
    number = trunk(sip_agents, first)
    call = first.create("8887777")
    second.until(call["id"], lambda c: "answered" in c)
    response = second.request("DELETE", f"{ME}/210/{call['id']}")
    assert (response.status_code, response.json()[0]["endedBy"]) == (200, "api")
    assert methods(john).count("BYE") == 1 and methods(number).count("BYE") == 1
    assert wait_until(lambda: not kamailio.live_dialogs(), 10), kamailio.live_dialogs()


def test_calls_phones_dial_reach_both_engines_and_either_process_ends_them(cluster, sip_agents):
    kamailio, first, second = cluster
    owners = set()
    for round_ in range(2):   # the engines take the phones' calls in turn
        jane = phone(sip_agents, first, "0003*220")
        caller = sip_agents("dial_auth_wait_bye.xml", remote=f"{HOST}:{kamailio.sip_port}", service="220",
                            timeout_s=15, auth_user="0003*210", auth_password=PHONES["0003*210"],
                            extra_args=["-key", "caller", "0003*210"], name=f"caller{round_}")
        listed = wait_until(lambda: first.live("210"), 5)
        assert listed, "the dialled call never showed on the caller's extension"
        call_id = listed[0]["id"]
        first.until(call_id, lambda c: "answered" in c)
        ender = second if round_ == 0 else first
        assert ender.request("DELETE", f"{ME}/210/{call_id}").status_code == 200
        assert methods(caller)[-1] == "BYE" and methods(jane).count("BYE") == 1
        with psycopg.connect(first.database) as conn:
            owners.add(conn.execute("SELECT engine FROM sip_owners WHERE call_id = %s", (call_id,)).fetchone()[0])
    assert owners == {f"{HOST}:{first.engine_port}", f"{HOST}:{second.engine_port}"}
    assert wait_until(lambda: not kamailio.live_dialogs(), 10), kamailio.live_dialogs()


def test_restarting_one_process_leaves_the_calls_of_the_other_alone(cluster, sip_agents):
    kamailio, first, second = cluster
    john = phone(sip_agents, first, "0003*210", timeout_s=30)
    number = trunk(sip_agents, first, timeout_s=30)
    call = first.create("8887791")            # its legs live in the first process's engine
    first.until(call["id"], lambda c: "answered" in c)
    second.stop()
    second.start()                            # recovers its own legs only
    assert "ended" not in second.call(call["id"])
    assert john.received_methods().count("BYE") == 0 and number.received_methods().count("BYE") == 0
    assert second.request("DELETE", f"{ME}/210/{call['id']}").status_code == 200
    assert methods(john).count("BYE") == 1 and methods(number).count("BYE") == 1
    assert wait_until(lambda: not kamailio.live_dialogs(), 10), kamailio.live_dialogs()
