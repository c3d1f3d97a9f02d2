"""End to end: several `uapi serve` processes on one PostgreSQL through PgBouncer in transaction mode.

In transaction mode PgBouncer lends a server connection for one transaction only, so anything a
client leaves on "its" connection between transactions is gone or, worse, someone else's at the
next one. The server keeps nothing there; psycopg would, by preparing statements it runs often
(uapi.store.runner.PSYCOPG_CONNECT_ARGS turns that off). The first test shows that failure with the
driver's default and its absence with the store's runner. It is the one that catches a regression:
requests alone rarely reach psycopg's threshold, because the pool's rollback when a read hands its
connection back resets psycopg's counts (an idle server's sweeper reached it within seconds).
The second runs the deployment the README describes: a `--workers 2` server and a single-process
one, both through the bouncer.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import fresh_postgres_database
from tests.e2e.test_server_process import JSON_NO_BODY, bearer, issue_tokens, place_call, write_directory
from tests.support.pgbouncer import PgBouncer, running_pgbouncer
from tests.support.servers import ServerProcess, running_server
from uapi.store.runner import AsyncRunner, SqlRunner, runner_for
from uapi.store.sql import driver_url

PREPARE_THRESHOLD = 5   # psycopg's default: a statement one connection ran 5 times is prepared
REPEATS = 3 * PREPARE_THRESHOLD
CONTESTED = 20          # calls both servers hang up at once
ATTEMPTS = 4            # hang-ups per contested call, half through each server


@pytest.fixture
def bouncer(postgres_server: str) -> Iterator[PgBouncer]:
    with running_pgbouncer(postgres_server) as started:
        yield started


async def alternate_writes(first: SqlRunner, second: SqlRunner, repeats: int) -> None:
    """The same statement, each time in a committed unit of work, from two engines in turn: what
    two server processes' sweepers do when nothing else runs."""
    try:
        for n in range(repeats):
            for runner in (first, second):
                await runner.write(lambda conn, n=n: conn.execute(text("SELECT CAST(:n AS integer) + 1"), {"n": n}))
    finally:
        await first.close()
        await second.close()


def test_prepared_statements_break_behind_transaction_pooling_and_the_store_runner_prepares_none(
        bouncer: PgBouncer, postgres_server: str) -> None:
    url = driver_url(bouncer.url(fresh_postgres_database(postgres_server)))

    def default_runner() -> AsyncRunner:
        return AsyncRunner(create_async_engine(url))   # psycopg's own prepare_threshold

    with pytest.raises(DBAPIError, match=r'prepared statement "_pg3_\d+" (already exists|does not exist)'):
        asyncio.run(alternate_writes(default_runner(), default_runner(), REPEATS))
    asyncio.run(alternate_writes(runner_for(url), runner_for(url), REPEATS))


@dataclass
class Deployment:
    workers: ServerProcess   # `uapi serve --workers 2`
    single: ServerProcess    # `uapi serve`


@pytest.fixture
def deployment(tmp_path: Path, postgres_server: str, bouncer: PgBouncer) -> Iterator[Deployment]:
    directory = str(write_directory(tmp_path / "directory.yaml"))
    database = bouncer.url(fresh_postgres_database(postgres_server))
    # One after the other: the first creates the schema, so the second does not race it.
    with running_server("--workers", "2", "--directory", directory, "--database", database, workdir=tmp_path,
                        log_name="workers.log", own_session=True) as workers, \
            running_server("--directory", directory, "--database", database, workdir=tmp_path,
                           log_name="single.log") as single:
        yield Deployment(workers, single)


def in_parallel(jobs: list[tuple[ServerProcess, str]], token: str) -> list[int]:
    """DELETE each (server, path) at once, each on its own connection; the status codes in order."""
    barrier = threading.Barrier(len(jobs))
    headers = {**bearer(token), **JSON_NO_BODY}

    def one(job: tuple[ServerProcess, str]) -> int:
        server, path = job
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            http.get("/uapi/openapi.json")   # connected before the barrier: the DELETEs leave together
            barrier.wait(timeout=30)
            return http.delete(path, headers=headers).status_code

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(one, jobs))


def test_two_servers_through_pgbouncer_share_tokens_and_calls_with_one_winner_per_hang_up(
        deployment: Deployment) -> None:
    workers, single = deployment.workers, deployment.single
    with workers.client() as via_workers, single.client() as via_single:
        tokens = {"workers": issue_tokens(via_workers)["form"], "single": issue_tokens(via_single)["form"]}
        # Each server places calls with the other's token (each statement more often than the threshold).
        placed = {"workers": [place_call(via_workers, tokens["single"], "210", f"55510{i:02d}") for i in range(REPEATS)],
                  "single": [place_call(via_single, tokens["workers"], "210", f"55520{i:02d}") for i in range(REPEATS)]}
        # ... and hangs up the calls the other placed.
        for http, token, ids in ((via_single, tokens["single"], placed["workers"]),
                                 (via_workers, tokens["workers"], placed["single"])):
            for call_id in ids:
                answer = http.delete(f"/uapi/phoneCalls/@me/0003*210/{call_id}", headers={**bearer(token), **JSON_NO_BODY})
                assert answer.status_code == 200, answer.text
                assert answer.json()[0]["id"] == call_id
        contested = [place_call(via_workers if i % 2 else via_single, tokens["workers"], "211", f"55530{i:02d}")
                     for i in range(CONTESTED)]

    jobs = [(workers if attempt % 2 else single, f"/uapi/phoneCalls/@me/0003*211/{call_id}")
            for call_id in contested for attempt in range(ATTEMPTS)]
    statuses = in_parallel(jobs, tokens["single"])
    for index, call_id in enumerate(contested):
        mine = statuses[index * ATTEMPTS:(index + 1) * ATTEMPTS]
        assert sorted(mine) == [200] + [204] * (ATTEMPTS - 1), (call_id, mine)

    with workers.client() as http:   # nothing is left live, whichever server is asked
        for extension in ("210", "211"):
            assert http.get(f"/uapi/phoneCalls/@me/{extension}",
                            headers={**bearer(tokens["single"]), **JSON_NO_BODY}).status_code == 204
    for server in (workers, single):   # neither a request nor a sweeper round failed
        assert "Traceback" not in server.output() and "failed" not in server.output(), server.output()
