"""What `uapi serve` checks before it prints its banner, so a mistake is one line and nothing starts.

Each check turns one kind of input (the database URL, the listening address, the TLS files, the
contract) into a :class:`UsageError` naming the flag and the value, passwords masked. The server
would hit the same problems later, but as a traceback from SQLAlchemy, uvicorn or Connexion after
a banner announcing a server that never ran.
"""
from __future__ import annotations

import errno
import os
import socket
import sqlite3
import ssl
from pathlib import Path
from typing import Any

from uapi.cli_errors import UsageError, mask_url, os_problem

PG_CONNECT_TIMEOUT_SECONDS = 5   # an unreachable host must not hold the start-up for minutes


def check_database(url: str) -> None:
    """The database the URL names can be opened (SQLite: created) and spoken to."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    shown = mask_url(url)
    scheme = url.partition("://")[0].split("+", 1)[0]
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise UsageError(f"--database {shown}: not a database URL ({exc}); "
                         "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB") from None
    if scheme == "sqlite":
        _check_sqlite(shown, url, parsed.host, parsed.database)
    elif scheme in ("postgresql", "postgres"):
        _check_postgresql(shown, parsed)


def _check_sqlite(shown: str, url: str, host: str | None, database: str | None) -> None:
    if host:   # sqlite://uapi.db reads "uapi.db" as a host name and the database as in-memory
        raise UsageError(f"--database {shown}: a SQLite URL has three slashes before a relative path "
                         f"(sqlite:///{host}{'/' + database if database else ''}) and four before an absolute one")
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--database {shown}: {folder} is a file, not a folder (choose another path)")
    if not folder.is_dir():
        raise UsageError(f"--database {shown}: folder {folder} does not exist (create it, or choose another path)")
    if path.is_dir():
        raise UsageError(f"--database {shown}: {path} is a folder, not a database file")
    if not path.exists():
        # The server creates it (with its own permissions, so it is not created here).
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"--database {shown}: cannot create {path}: folder {folder} is not writable")
        return
    try:
        # Read-only, so the check changes nothing; the query fails on a file that is not SQLite.
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            connection.execute("PRAGMA schema_version").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise UsageError(f"--database {shown}: cannot open {path}: {exc}") from None


def _check_postgresql(shown: str, parsed: Any) -> None:
    import psycopg

    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, connect_timeout=PG_CONNECT_TIMEOUT_SECONDS):
            pass
    except psycopg.Error as exc:
        # libpq's first line says what failed (refused, unknown host, authentication); never the password.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--database {shown}: cannot connect: {mask_url(reason)}") from None


def bind_listener(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so a taken port is an error before the banner, not after.

    uvicorn serves on this very socket (`Server.run(sockets=...)`), so nothing can take the port
    between the check and the start.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: unknown address ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as uvicorn does: restart over TIME_WAIT
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"--port {port}: {where} is already in use (stop the other server or choose "
                             "another --port)") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UsageError(f"--host {host}: not an address of this machine") from None
        if exc.errno == errno.EACCES:
            raise UsageError(f"--port {port}: not allowed to listen on {where} (ports below 1024 need "
                             "privileges)") from None
        raise UsageError(f"--host/--port: cannot listen on {where}: {os_problem(exc)}") from None
    sock.set_inheritable(True)
    return sock


def check_port_free(host: str, port: int) -> None:
    """For `--reload`, where uvicorn binds itself: the same errors, then the port is let go."""
    bind_listener(host, port).close()


def check_udp_free(flag: str, where: tuple[str, int]) -> None:
    """A SIP address (Kamailio's or the engine's) must be free now: they bind it a moment later,
    inside the server, where a failure could no longer be a one-line error."""
    family = socket.AF_INET6 if ":" in where[0] else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind(where)
    except OSError as exc:
        raise UsageError(f"{flag} {where[0]}:{where[1]}: that UDP port is in use or not an address of this "
                         f"machine ({os_problem(exc)}; stop the other SIP server or choose another port)") from None


def check_tls(cert: Path, key: Path) -> None:
    """The certificate and key load, and belong together."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        # An encrypted key would make OpenSSL prompt on the terminal; the empty password fails instead.
        context.load_cert_chain(cert, key, password=lambda: b"")
    except ssl.SSLError as exc:
        raise UsageError(f"--tls-cert {cert} / --tls-key {key}: cannot load them as a PEM certificate and its "
                         f"unencrypted key ({exc.reason or exc})") from None
    except OSError as exc:
        raise UsageError(f"--tls-cert {cert} / --tls-key {key}: {os_problem(exc)}") from None


def check_contract(spec_path: Path, document: dict[str, Any]) -> None:
    """The spec is one this server implements: every operation has its handler and the PhoneCall
    schema the server answers with exists (another valid OpenAPI file fails here, not in a KeyError)."""
    from uapi.handlers_check import check
    from uapi.package_data import HANDLERS_PACKAGE, handlers_dir

    schemas = (document.get("components") or {}).get("schemas") or {}
    if not isinstance((schemas.get("PhoneCall") or {}).get("properties"), dict):
        raise UsageError(f"--spec {spec_path}: not a PhoneCalls contract (no components.schemas.PhoneCall "
                         "with properties, which the server answers with)")
    report = check(document, handlers_dir())
    if report.missing or report.unresolvable:
        first = (f"{HANDLERS_PACKAGE}.{report.missing[0].module}.{report.missing[0].function} for "
                 f"{report.missing[0].where}") if report.missing else str(report.unresolvable[0])
        count = len(report.missing) + len(report.unresolvable)
        raise UsageError(f"--spec {spec_path}: {count} operation(s) have no handler, first {first} "
                         f"(see `uapi handlers --spec {spec_path}`)")
