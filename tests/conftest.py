"""Shared fixtures: a real database (SQLite file and PostgreSQL), an injected clock and ids,
and the app served in-process over httpx's ASGI transport."""
from __future__ import annotations

import itertools
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

from tests.support import sql_store  # noqa: E402
from tests.support.postgres import throwaway_postgres  # noqa: E402
from uapi.accounts import Directory  # noqa: E402
from uapi.app import create_app  # noqa: E402
from uapi.settings import Settings  # noqa: E402

TEST_DIRECTORY = Path(__file__).parent / "support" / "directory.yaml"
START = datetime(2026, 11, 27, 5, 27, tzinfo=UTC).timestamp()  # the spec examples' instant


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    with throwaway_postgres() as url:
        yield url


def fresh_postgres_database(server_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> str:
    """One database for the API tests; each test empties its tables (see `app`)."""
    return fresh_postgres_database(postgres_server)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'uapi.db'}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def directory() -> Directory:
    return Directory.load(TEST_DIRECTORY)


@pytest.fixture
def settings(database_url: str, clock: FakeClock) -> Settings:
    counter = itertools.count(1)
    return Settings(database_url=database_url, directory_path=TEST_DIRECTORY, clock=clock,
                    new_id=lambda: f"{next(counter):020x}")


@pytest.fixture
async def app(settings: Settings, directory: Directory) -> AsyncIterator[object]:
    application = create_app(settings, directory)
    store = application.services.store
    await store.start()
    await sql_store.empty(store)
    try:
        yield application
    finally:
        await application.services.store.close()


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


class Api:
    """Thin helpers over the HTTP client; every test still reads raw responses."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self._tokens: dict[str, str] = {}

    async def token(self, client_id: str) -> str:
        if client_id not in self._tokens:
            response = await self.http.post("/oauth/token", data={"grant_type": "client_credentials",
                                                                   "client_id": client_id,
                                                                   "client_secret": f"{client_id}-secret"})
            assert response.status_code == 200, response.text
            self._tokens[client_id] = response.json()["access_token"]
        return self._tokens[client_id]

    async def request(self, method: str, path: str, as_: str = "john", **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.token(as_)}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return await self.http.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]

    async def create(self, destination: object = "8887777", as_: str = "john", user: str = "@me",
                     extension: str = "210", nonce: str | None = None, **view: object) -> dict:
        body: dict = {"extension": extension, "phoneCallView": [{"destination": destination, **view}]}
        if nonce is not None:
            body["nonce"] = nonce
        response = await self.request("POST", f"/uapi/phoneCalls/{user}/simple", as_=as_, json=body)
        assert response.status_code == 200, response.text
        return response.json()[0]


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)
