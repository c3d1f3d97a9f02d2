"""§5 accounts, apps and scope, and the 400 / 401 / 403 rows of §4."""
from __future__ import annotations

import base64
import re

import pytest

from tests.support import sql_store
from uapi.tokens import token_hash

TOKEN_FORM = {"grant_type": "client_credentials", "client_id": "john", "client_secret": "john-secret"}


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/token.php", "/oauth/token/"])
async def test_client_credentials_in_the_form_issue_a_bearer_token(client, path):
    response = await client.post(path, data={**TOKEN_FORM, "type": "x", "redirect_uri": "y", "state": "z"})
    assert response.status_code == 200
    answer = response.json()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", answer["access_token"])
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("header", ["Basic \xff\xfe", "Basic \u00e9", "Basic !!!", "Basic am9obg=="])
async def test_undecodable_basic_credentials_are_invalid_client_not_a_crash(client, header):
    response = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 headers={"Authorization": header.encode("latin-1")})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_client_credentials_as_http_basic(client):
    basic = base64.b64encode(b"john:john-secret").decode()
    response = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200


@pytest.mark.parametrize("form, status, error", [
    ({**TOKEN_FORM, "client_secret": "wrong"}, 401, "invalid_client"),
    ({**TOKEN_FORM, "client_id": "nobody"}, 401, "invalid_client"),
    ({"grant_type": "client_credentials"}, 401, "invalid_client"),
    ({**TOKEN_FORM, "grant_type": "password"}, 400, "unsupported_grant_type"),
    ({"client_id": "john", "client_secret": "john-secret"}, 400, "invalid_request"),
])
async def test_token_errors_follow_rfc_6749(client, form, status, error):
    response = await client.post("/oauth/token", data=form)
    assert response.status_code == status
    assert response.json()["error"] == error and "error_description" in response.json()


async def test_token_endpoint_rejects_a_json_body_with_an_oauth_error(client):
    response = await client.post("/oauth/token", json=TOKEN_FORM)
    assert response.status_code == 415
    assert response.json()["error"] == "invalid_request"


async def test_token_in_the_query_parameter_access_request_token(api, client):
    token = await api.token("john")
    for value in (f"Bearer {token}", token):
        response = await client.get("/uapi/phoneCalls/@me/210", params={"accessRequestToken": value})
        assert response.status_code == 204


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic am9objpq"}])
async def test_missing_or_unknown_token_is_401_access_denied_with_a_challenge(client, headers):
    response = await client.get("/uapi/phoneCalls/@me/210", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "access_denied"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_expired_token_is_401(api, clock):
    await api.token("john")
    clock.advance(3601)
    response = await api.request("GET", "/uapi/phoneCalls/@me/210")
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_tokens_are_stored_hashed(api, app):
    token = await api.token("john")
    hashes = await sql_store.stored_token_hashes(app.services.store)   # SQL-specific: the rows as kept
    assert hashes == [token_hash(token)] and token not in hashes[0]


@pytest.mark.parametrize("user", ["@me", "@viewer", "12"])
async def test_user_app_names_its_user(api, user):
    await api.create()
    response = await api.request("GET", f"/uapi/phoneCalls/{user}/210")
    assert response.status_code == 200


async def test_owner_is_the_user_who_owns_the_extension(api):
    await api.create()
    assert (await api.request("GET", "/uapi/phoneCalls/@owner/0003*210", as_="org3")).status_code == 200
    assert (await api.request("GET", "/uapi/phoneCalls/@owner/210", as_="john")).status_code == 200
    call = await api.create(user="@owner", as_="org3", extension="220")
    assert call["extension"] == "0003*220"


@pytest.mark.parametrize("as_, path", [
    ("john", "/uapi/phoneCalls/13/220"),             # another user, by id
    ("john", "/uapi/phoneCalls/@owner/0003*220"),   # another user, through @owner
    ("org3", "/uapi/phoneCalls/21/0004*210"),        # a user of another organization
    ("org4", "/uapi/phoneCalls/@owner/0003*210"),
])
async def test_a_user_outside_the_app_scope_is_403(api, as_, path):
    response = await api.request("GET", path, as_=as_)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "access_denied"
    assert (await api.request("DELETE", path, as_=as_)).status_code == 403


@pytest.mark.parametrize("as_, path", [
    ("org3", "/uapi/phoneCalls/@me/210"),   # @me needs a user app
    ("admin", "/uapi/phoneCalls/999/210"),  # unknown user: only an admin app, which sees everyone, learns it
    ("john", "/uapi/phoneCalls/1-2/210"),   # malformed user id
    ("admin", "/uapi/phoneCalls/@viewer/210"),
])
async def test_malformed_or_unknown_user_is_user_invalid(api, as_, path):
    response = await api.request("GET", path, as_=as_)
    assert response.status_code == 400 and response.json()["error"]["code"] == "user_invalid"


@pytest.mark.parametrize("as_, path", [
    ("john", "/uapi/phoneCalls/@me/220"),        # exists, but Jane's
    ("john", "/uapi/phoneCalls/@me/0004*210"),   # exists, another organization
    ("john", "/uapi/phoneCalls/@me/999"),        # unknown
    ("john", "/uapi/phoneCalls/@me/21a"),        # malformed
    ("john", "/uapi/phoneCalls/@me/0003*"),
    ("john", "/uapi/phoneCalls/@owner/@self"),   # @owner needs one extension
    ("john", "/uapi/phoneCalls/@owner/999"),
])
async def test_an_extension_that_is_not_the_users_is_extension_invalid(api, as_, path):
    response = await api.request("GET", path, as_=as_)
    assert response.status_code == 400 and response.json()["error"]["code"] == "extension_invalid"


async def test_organization_and_admin_apps_act_on_users_in_scope(api):
    await api.create()
    assert (await api.request("GET", "/uapi/phoneCalls/12/210", as_="org3")).status_code == 200
    assert (await api.request("GET", "/uapi/phoneCalls/12/0003*210", as_="admin")).status_code == 200
    assert (await api.request("GET", "/uapi/phoneCalls/21/210", as_="admin")).status_code == 204
    assert (await api.request("GET", "/uapi/phoneCalls/@owner/0004*210", as_="admin")).status_code == 204


async def test_short_numbers_resolve_inside_the_users_organization(api):
    mine = await api.create()
    response = await api.request("GET", "/uapi/phoneCalls/21/210", as_="org4")
    assert response.status_code == 204  # 0004*210 has no calls; 0003*210 does
    assert (await api.request("GET", "/uapi/phoneCalls/12/210", as_="org3")).json()["entry"][0]["id"] == mine["id"]


async def test_a_user_with_no_extensions_has_nothing_under_self(api):
    assert (await api.request("GET", "/uapi/phoneCalls/22/@self", as_="org4")).status_code == 204
    assert (await api.request("DELETE", "/uapi/phoneCalls/22/@self", as_="org4")).status_code == 204
