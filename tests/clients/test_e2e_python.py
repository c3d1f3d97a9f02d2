"""End to end: the committed Python client against a real `uapi serve` process
(built-in demo directory, app demo-user acting for user 12 with extension 210)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from uapi_client import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    CreatePhoneCallRequest,
    CreatePhoneCallView,
    UapiError,
)

from tests.clients.conftest import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, GENERATED, SPEC
from tests.support.servers import ServerProcess
from uapi.codegen.archive import sdk_archive

EXTENSION = "0003*210"


def counting_http() -> tuple[httpx.Client, list[str]]:
    """An httpx client that records the path of every request it sends."""
    paths: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda request: paths.append(request.url.path)]})
    return http, paths


def place_call(client: Client, destination: str = "3334444") -> str:
    body = CreatePhoneCallRequest(extension="210", phone_call_view=[CreatePhoneCallView(destination=[destination])],
                                  nonce="e2e")
    created = client.create_simple_phone_call(user_id="@me", body=body)
    assert len(created) == 1 and created[0].extension == EXTENSION and created[0].nonce == "e2e"
    return created[0].id


def test_create_list_hang_up_and_typed_errors(server: ServerProcess) -> None:
    with Client(server.base_url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET) as client:
        call_id = place_call(client)

        page = client.list_phone_calls(user_id="@me", extension=EXTENSION)
        assert call_id in [c.id for c in page.entry] and page.total_results >= 1
        assert call_id in [c.id for c in client.iter_phone_calls("@me", EXTENSION, count=1)]
        only_ids = client.list_phone_calls("@me", "@self", fields="id")
        assert all(c.extension is None for c in only_ids.entry)  # absent fields stay absent

        with pytest.raises(BadRequestError) as caught:
            client.hang_up_phone_call(user_id="@me", extension=EXTENSION, phone_call_id=call_id, phone_number="abc")
        assert (caught.value.status, caught.value.code) == (400, "pc_phonenumber_invalid")
        assert isinstance(caught.value, UapiError) and caught.value.message

        hung = client.hang_up_phone_call(user_id="@me", extension=EXTENSION, phone_call_id=call_id)
        assert [c.id for c in hung] == [call_id] and hung[0].ended is not None and hung[0].ended_by == "api"
        assert client.hang_up_phone_call(user_id="@me", extension=EXTENSION, phone_call_id=call_id) == []

        ended = client.get_phone_call("@me", EXTENSION, call_id).entry[0]
        assert ended.cause == "hangup" and ended.phone_call_view and ended.phone_call_view[0].disposition is not None


def test_models_re_encode_exactly_what_the_server_sent(server: ServerProcess) -> None:
    with Client(server.base_url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET) as client:
        call_id = place_call(client)
        token = client._auth.token
        raw = httpx.get(f"{server.base_url}/uapi/phoneCalls/@me/{EXTENSION}/{call_id}",
                        headers={"Authorization": f"Bearer {token}"}).json()
        assert client.get_phone_call("@me", EXTENSION, call_id).to_dict() == raw
        client.hang_up_phone_calls("@me", EXTENSION)


def test_empty_answers_are_empty_values(server: ServerProcess) -> None:
    with Client(server.base_url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET) as client:
        client.hang_up_phone_calls("@me", "@self")
        assert client.hang_up_phone_calls("@me", "@self") == []
        page = client.list_phone_calls("@me", "@self")
        assert page.entry == [] and page.total_results == 0


def test_token_renewal(server: ServerProcess) -> None:
    http, paths = counting_http()
    # A margin longer than the token's life: every call finds its token about to expire.
    # The client does not close an httpx client it was given: its owner (this test) does.
    with http, Client(server.base_url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                      token_refresh_margin=3600, http_client=http) as client:
        client.list_phone_calls("@me", "@self")
        client.list_phone_calls("@me", "@self")
    assert paths.count("/oauth/token") == 2

    http, paths = counting_http()
    with http, Client(server.base_url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                      http_client=http) as client:
        client.list_phone_calls("@me", "@self")
        client.list_phone_calls("@me", "@self")
        assert paths.count("/oauth/token") == 1
        client._auth.token = "revoked-or-unknown"  # the server answers 401 to it
        client.list_phone_calls("@me", "@self")
    assert paths.count("/oauth/token") == 2
    assert paths[-3:] == ["/uapi/phoneCalls/@me/@self", "/oauth/token", "/uapi/phoneCalls/@me/@self"]


def test_fixed_token_and_bad_credentials(server: ServerProcess) -> None:
    with Client(server.base_url) as anonymous:
        issued = anonymous.issue_token(body={"grant_type": "client_credentials", "client_id": DEMO_CLIENT_ID,
                                             "client_secret": DEMO_CLIENT_SECRET})
        assert issued.token_type == "Bearer" and issued.expires_in > 0
        with pytest.raises(AuthenticationError) as caught:
            anonymous.list_phone_calls("@me", "@self")
        assert caught.value.code == "missing_credentials"
    with Client(server.base_url, token=issued.access_token) as client:
        assert client.list_phone_calls("@me", "@self").start_index == 0
    with Client(server.base_url, token="not-a-token") as client, pytest.raises(AuthenticationError) as caught:
        client.list_phone_calls("@me", "@self")
    assert caught.value.status == 401 and "www-authenticate" in caught.value.headers
    with Client(server.base_url, client_id=DEMO_CLIENT_ID, client_secret="wrong") as client, \
            pytest.raises(AuthenticationError) as caught:
        client.list_phone_calls("@me", "@self")
    assert caught.value.code == "invalid_client"


async def test_async_client(server: ServerProcess) -> None:
    async with AsyncClient(server.base_url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET) as client:
        created = await client.create_simple_phone_call(
            "@me", body={"extension": "210", "phoneCallView": [{"destination": "3334444"}]})
        ids = [c.id async for c in client.iter_phone_calls("@me", EXTENSION)]
        assert created[0].id in ids
        with pytest.raises(BadRequestError) as caught:
            await client.hang_up_phone_calls("@me", EXTENSION, phone_number="abc")
        assert caught.value.code == "pc_phonenumber_invalid"
        hung = await client.hang_up_phone_calls("@me", EXTENSION)
        assert created[0].id in [c.id for c in hung]


def test_readme_snippets_run_in_order(server: ServerProcess) -> None:
    """Every ```python block of generated/python/README.md, run as one script."""
    readme = (GENERATED / "python" / "README.md").read_text()
    script = "\n".join(re.findall(r"```python\n(.*?)```", readme, re.S))
    env = {**os.environ, "UAPI_BASE_URL": server.base_url, "UAPI_CLIENT_ID": DEMO_CLIENT_ID,
           "UAPI_CLIENT_SECRET": DEMO_CLIENT_SECRET, "PYTHONPATH": str(GENERATED / "python")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pc_" in result.stdout or "user_invalid" in result.stdout  # the error example printed its code


def pip_install(source: str, target: Path) -> None:
    # As users do it: pip builds the sdist in an isolated environment (setuptools from the index).
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                             "--target", str(target), source], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def run_installed(target: Path, server: ServerProcess) -> Any:
    code = ("from uapi_client import Client\n"
            "import sys, uapi_client\n"
            "assert uapi_client.__file__.startswith(sys.argv[1]), uapi_client.__file__\n"
            "with Client(sys.argv[2], client_id=sys.argv[3], client_secret=sys.argv[4]) as c:\n"
            "    print(c.list_phone_calls('@me', '@self').start_index)\n")
    return subprocess.run([sys.executable, "-c", code, str(target), server.base_url, DEMO_CLIENT_ID,
                           DEMO_CLIENT_SECRET], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(target)})


def test_sdk_archive_installs_with_pip(server: ServerProcess, tmp_path: Path) -> None:
    archive = tmp_path / "python.tar.gz"
    archive.write_bytes(sdk_archive("python", SPEC))
    pip_install(str(archive), tmp_path / "site")
    result = run_installed(tmp_path / "site", server)
    assert result.returncode == 0 and result.stdout.strip() == "0", result.stderr


def test_sdk_download_url_installs_with_pip(server: ServerProcess, tmp_path: Path) -> None:
    """`pip install <server>/uapi/sdk/python.tar.gz`, once the server mounts sdk_archive there."""
    url = f"{server.base_url}/uapi/sdk/python.tar.gz"
    if httpx.head(url).status_code == 404 and httpx.get(url).status_code == 404:
        pytest.skip("this server does not serve /uapi/sdk/python.tar.gz yet")
    pip_install(url, tmp_path / "site")
    result = run_installed(tmp_path / "site", server)
    assert result.returncode == 0 and result.stdout.strip() == "0", result.stderr
