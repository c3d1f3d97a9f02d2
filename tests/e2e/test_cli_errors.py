"""Every mistake a user can make on the command line answers one line and status 2.

Each case runs the real CLI (`python -m uapi`) in a fresh folder and checks: status 2, stderr is
exactly one line `uapi <command>: error: ...` (besides warnings) naming what and where, nothing on stdout (so no
banner: nothing started), no traceback, and no password from the command line.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.servers import free_port, free_udp_port

PASSWORD = "hunter2-secret"
PETSTORE = """\
openapi: 3.0.3
info: {title: Petstore, version: "1"}
paths:
  /pets:
    get:
      operationId: listPets
      tags: [Pets]
      responses:
        "200":
          description: the pets
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
components:
  schemas:
    Pet: {type: object, properties: {name: {type: string}}}
"""
BROKEN_YAML = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get: [\n"


@dataclass(frozen=True)
class Mistake:
    args: tuple[str, ...]
    says: tuple[str, ...]                 # fragments the error line must contain
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def taken_udp_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def files(folder: Path) -> None:
    """The inputs the cases name, relative to the folder the CLI runs in."""
    (folder / "petstore.yaml").write_text(PETSTORE)
    (folder / "broken.yaml").write_text(BROKEN_YAML)
    (folder / "directory.yaml").write_text("organizations: [\n  {id: '3', name: \n")
    (folder / "binary.yaml").write_bytes(b"\xff\xfe\x00garbage")
    (folder / "not-pem.pem").write_text("not a certificate\n")
    # A directory of our own: the demo one may only serve on loopback, which the --host cases leave.
    (folder / "own.yaml").write_text((Path(__file__).parents[1] / "support" / "directory.yaml").read_text())
    (folder / "a-file").write_text("a regular file, so a-file/x cannot be created (even as root)\n")


def with_fixed_port(args: tuple[str, ...], port: int) -> tuple[str, ...]:
    # serve cases get a free port, so they would start if the mistake were not caught
    return (*args, "--port", str(port)) if args[0] == "serve" and "--port" not in args else args


# (case id) -> Mistake; {closed} and {taken} are replaced by ports.
MISTAKES: dict[str, Mistake] = {
    # serve: database
    "sqlite-two-slashes": Mistake(("serve", "--database", "sqlite://uapi.db"), ("--database", "sqlite:///uapi.db")),
    "sqlite-missing-folder": Mistake(("serve", "--database", "sqlite:///missing_dir/x.db"),
                                     ("--database", "missing_dir does not exist")),
    "sqlite-folder": Mistake(("serve", "--database", "sqlite:///a-file/x.db"), ("--database", "a-file is a file, not a folder")),
    "sqlite-not-a-database": Mistake(("serve", "--database", "sqlite:///petstore.yaml"),
                                     ("--database", "cannot open petstore.yaml")),
    "postgresql-unreachable": Mistake(("serve", "--database", f"postgresql://bob:{PASSWORD}@127.0.0.1:{{closed}}/uapi"),
                                      ("--database postgresql://bob:***@127.0.0.1:", "cannot connect")),
    "postgresql-unknown-host": Mistake(("serve", "--database", f"postgresql://bob:{PASSWORD}@no-such-host.invalid/x"),
                                       ("--database", "cannot connect")),
    # Only libpq's parameters go in the URL; a driver option such as psycopg's prepare_threshold is
    # refused (nothing is needed for PgBouncer: the server never prepares statements).
    "postgresql-driver-option": Mistake(("serve", "--database",
                                         f"postgresql://bob:{PASSWORD}@127.0.0.1:{{closed}}/uapi?prepare_threshold=0"),
                                        ("--database postgresql://bob:***@", 'invalid URI query parameter: "prepare_threshold"')),
    "database-unsupported": Mistake(("serve", "--database", f"mysql://bob:{PASSWORD}@db/x"),
                                    ("--database mysql://bob:***@db/x", "sqlite:///PATH")),
    "database-not-a-url": Mistake(("serve", "--database", "uapi.db"), ("--database uapi.db",)),
    # serve: address
    "port-in-use": Mistake(("serve", "--port", "{taken}"), ("--port {taken}", "already in use")),
    "port-out-of-range": Mistake(("serve", "--port", "70000"), ("--port", "70000")),
    "port-not-a-number": Mistake(("serve", "--port", "http"), ("--port", "'http'")),
    "host-not-here": Mistake(("serve", "--directory", "own.yaml", "--host", "203.0.113.7"), ("--host 203.0.113.7", "not an address")),
    "host-unknown": Mistake(("serve", "--directory", "own.yaml", "--host", "no-such-host.invalid"), ("--host no-such-host.invalid",)),
    # serve: files
    "spec-other-openapi": Mistake(("serve", "--spec", "petstore.yaml"), ("--spec petstore.yaml", "PhoneCall")),
    "spec-yaml-error": Mistake(("serve", "--spec", "broken.yaml"), ("--spec", "broken.yaml:6:")),
    "spec-missing": Mistake(("serve", "--spec", "nope.yaml"), ("--spec", "nope.yaml")),
    "directory-missing": Mistake(("serve", "--directory", "nope.yaml"), ("--directory", "nope.yaml")),
    "directory-yaml-error": Mistake(("serve", "--directory", "directory.yaml"), ("--directory", "directory.yaml",
                                                                                  "line")),
    "directory-not-text": Mistake(("serve", "--directory", "binary.yaml"), ("--directory", "binary.yaml")),
    "tls-cert-alone": Mistake(("serve", "--tls-cert", "not-pem.pem"), ("--tls-cert and --tls-key",)),
    "tls-not-pem": Mistake(("serve", "--tls-cert", "not-pem.pem", "--tls-key", "not-pem.pem"),
                           ("--tls-cert not-pem.pem", "cannot load")),
    "log-level": Mistake(("serve", "--log-level", "loud"), ("--log-level", "'loud'")),
    # serve: workers
    "workers-zero": Mistake(("serve", "--workers", "0"), ("--workers", "'0'")),
    "workers-sip": Mistake(("serve", "--workers", "2", "--switch", "sip"),
                           ("--workers", "--sip-engine", "Several API processes, one Kamailio")),
    "workers-reload": Mistake(("serve", "--workers", "2", "--reload"), ("--workers and --reload",)),
    # serve: the SIP switch
    "sip-without-kamailio": Mistake(("serve", "--switch", "sip"), ("Kamailio", "apt-get install kamailio"),
                                    env={"PATH": "/nonexistent"}),
    "sip-listen": Mistake(("serve", "--switch", "sip", "--sip-listen", "5060"), ("--sip-listen", "HOST:PORT")),
    "sip-reload": Mistake(("serve", "--switch", "sip", "--reload"), ("--reload",)),
    "sip-listen-taken": Mistake(("serve", "--switch", "sip", "--sip-listen", "127.0.0.1:{udp_taken}"),
                                ("--sip-listen 127.0.0.1:{udp_taken}", "in use")),
    "sip-engine-taken": Mistake(("serve", "--switch", "sip", "--sip-listen", "127.0.0.1:{udp_closed}",
                                 "--sip-engine", "127.0.0.1:{udp_taken}"), ("--sip-engine", "in use")),
    # the other commands
    "no-command": Mistake(("frobnicate",), ("uapi: error:", "frobnicate")),
    "generate-unwritable-out": Mistake(("generate", "--lang", "python", "--out", "a-file/x"),
                                       ("--out a-file/x", "cannot write", "Not a directory")),
    "generate-yaml-error": Mistake(("generate", "--lang", "python", "--spec", "broken.yaml"), ("broken.yaml:6:",)),
    "generate-spec-missing": Mistake(("generate", "--lang", "python", "--spec", "nope.yaml"), ("--spec", "nope.yaml")),
    "generate-lang": Mistake(("generate", "--lang", "cobol"), ("--lang", "'cobol'")),
    "lint-missing": Mistake(("lint", "nope.yaml"), ("nope.yaml",)),
    "lint-yaml-error": Mistake(("lint", "broken.yaml"), ("broken.yaml:6:",)),
    "diff-missing": Mistake(("diff", "nope.yaml", "petstore.yaml"), ("nope.yaml",)),
    "handlers-spec-missing": Mistake(("handlers", "--spec", "nope.yaml"), ("nope.yaml",)),
    "handlers-unwritable": Mistake(("handlers", "--spec", "petstore.yaml", "--handlers", "a-file/x", "--scaffold"),
                                   ("a-file/x",)),
    "kamailio-config-out": Mistake(("kamailio-config", "--sip-engine", "127.0.0.1:5999", "--out", "a-file/x"),
                                   ("--out", "a-file/x", "cannot write")),
    "kamailio-config-directory": Mistake(("kamailio-config", "--sip-engine", "127.0.0.1:5999", "--directory",
                                          "nope.yaml"), ("--directory", "nope.yaml")),
}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_mistake_is_one_line_and_status_two(case: str, tmp_path: Path, taken_port: int,
                                           taken_udp_port: int) -> None:
    mistake = MISTAKES[case]
    ports = {"closed": str(free_port()), "taken": str(taken_port), "udp_taken": str(taken_udp_port),
             "udp_closed": str(free_udp_port())}
    args = with_fixed_port(tuple(arg.format(**ports) for arg in mistake.args), free_port())
    files(tmp_path)
    env = {**os.environ, **mistake.env}
    result = subprocess.run([sys.executable, "-m", "uapi", *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    command = args[0] if args[0] in {"serve", "generate", "lint", "diff", "handlers", "kamailio-config"} else ""
    prefix = f"uapi {command}: error: " if command else "uapi: error: "
    # Warnings (`uapi serve: warning: ...`, e.g. about a directory's plaintext secrets) may precede it.
    lines = [line for line in result.stderr.splitlines() if not line.startswith(prefix.replace("error", "warning"))]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith(prefix), result.stderr
    assert result.stdout == "", f"printed before failing:\n{result.stdout}"
    for fragment in mistake.says:
        assert fragment.format(**ports) in lines[0], lines[0]
    assert PASSWORD not in result.stderr
    assert "<unicode string>" not in result.stderr


def test_a_bug_is_one_line_too_and_uapi_debug_shows_the_traceback(tmp_path: Path) -> None:
    # A command that fails on a bug (here a fake one, `boom`) is not the user's mistake: status 1, one
    # line without a traceback; UAPI_DEBUG=1 shows the traceback to whoever reports it.
    code = "import sys, uapi.cli as c; c.COMMANDS['boom'] = ('tests.e2e.test_cli_errors', ''); sys.exit(c.main())"
    def run(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, "boom"], cwd=Path(__file__).parents[2], env={**os.environ, **extra},
            capture_output=True, text=True, timeout=60)
    quiet = run({})
    assert quiet.returncode == 1 and quiet.stderr.startswith("uapi boom: internal error: ZeroDivisionError")
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in run({"UAPI_DEBUG": "1"}).stderr


def configure(parser: object) -> None:   # the `boom` command of the test above
    pass


def run(args: object) -> int:
    return 1 // 0
