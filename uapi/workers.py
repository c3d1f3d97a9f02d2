"""`uapi serve --workers N`: N server processes on the one listening socket the CLI bound.

uvicorn's own `--workers` binds its listener with `socket.socket(family)` (protocol 0); accepted
connections inherit protocol 0 and asyncio then never sets TCP_NODELAY on them, so every keep-alive
response written in two pieces waits ~40 ms for the client's delayed ACK (uvicorn issue #3149;
about 3x less throughput, see ../shared/research/scale-events-auth.md). Here the listener comes from
`uapi.preflight.bind_listener` (created with IPPROTO_TCP, which survives the pickling of the socket
into each worker), and `uapi.edge_protocol.EdgeProtocol` sets TCP_NODELAY on every connection it
accepts anyway, so neither path depends on the other.

uvicorn's `Multiprocess` supervisor starts the workers (fresh interpreters: spawn), restarts one
that dies, and on SIGINT/SIGTERM stops them all before it returns. A spawned worker cannot be
handed the app object, so it gets :class:`WorkerApp`, a picklable factory that builds the app
from the very Settings the CLI built. Each worker runs the app's lifespan: its own store pool and
its own sweeper. The sweeper's writes are conditional (`UPDATE ... WHERE state <> 'ended'`, token
and retention purges are plain deletes of rows already expired), so several sweepers at once end
each call exactly once and never fail on one another's work.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from uapi.settings import Settings


@dataclass(frozen=True)
class WorkerApp:
    """The app factory a spawned worker calls (uvicorn `factory=True`)."""

    settings: Settings

    def __call__(self) -> Any:
        from uapi import heap
        from uapi.app import create_app

        app = create_app(self.settings)
        heap.settle()
        return app


async def prepare_database(url: str) -> None:
    """Create the schema once, before the workers start: N processes creating the tables of a fresh
    database at once would race (`table calls already exists`) and one of them would fail."""
    from uapi.store.sql import SqlStore

    store = SqlStore(url)
    try:
        await store.start()
    finally:
        await store.close()


def run_workers(config: Any, listener: socket.socket, database_url: str) -> int:
    """Serve with `config.workers` processes until SIGINT/SIGTERM; 1 if a worker could not start."""
    import asyncio

    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    asyncio.run(prepare_database(database_url))
    supervisor = Multiprocess(config, sockets=[listener])
    supervisor.run()
    listener.close()
    failed = any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)
    return 1 if failed else 0


def set_nodelay(sock: socket.socket | None) -> None:
    """TCP_NODELAY on an accepted TCP connection (a no-op for Unix sockets and when unknown)."""
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:   # the peer is already gone: the connection closes on its own
            pass
