"""§1 compatibility with the original clients and the transport rows of §4."""
from __future__ import annotations

import pytest

ME = "/uapi/phoneCalls/@me"


async def test_trailing_slashes_are_served_directly_never_redirected(api):
    call = await api.create()
    for method, path in (("GET", f"{ME}/210/"), ("GET", f"{ME}/0003*210/{call['id']}/"),
                         ("DELETE", f"{ME}/0003*210/{call['id']}/?phoneNumber=8887777")):
        response = await api.request(method, path)
        assert response.status_code == 200, (method, path, response.status_code)
    created = await api.request("POST", f"{ME}/simple/", json={"extension": "210", "phoneCallView": [{"destination": "1"}]})
    assert created.status_code == 200


async def test_escaped_and_unescaped_at_and_star_are_the_same_path(api):
    await api.create()
    for path in (f"{ME}/0003*210", "/uapi/phoneCalls/%40me/0003%2A210"):
        assert (await api.request("GET", path)).status_code == 200


async def test_get_and_delete_with_a_json_content_type_and_no_body_are_accepted(api):
    call = await api.create()
    headers = {"Content-Type": "application/json"}
    assert (await api.request("GET", f"{ME}/210", headers=headers)).status_code == 200
    assert (await api.request("DELETE", f"{ME}/210/{call['id']}", headers=headers)).status_code == 200


@pytest.mark.parametrize("path", ["/uapi/nothing", "/uapi/phoneCalls", "/uapi/phoneCalls/@me/210/x/y"])
async def test_unknown_paths_are_404_resource_not_found(api, path):
    response = await api.request("GET", path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_not_found"


@pytest.mark.parametrize("method, path, allowed", [
    ("PATCH", f"{ME}/210/abc", {"GET", "HEAD", "PUT", "DELETE"}),
    ("POST", f"{ME}/210", {"GET", "HEAD", "DELETE"}),
    ("PATCH", f"{ME}/simple", {"POST"}),  # the literal path wins over /{userId}/{extension}
    ("GET", "/oauth/token", {"POST"}),
])
async def test_wrong_method_is_405_with_a_correct_allow_header(api, method, path, allowed):
    response = await api.request(method, path)
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == allowed
    body = response.json()
    assert body["error"]["code"] == "method_not_allowed" if path.startswith("/uapi") else body["error"] == "invalid_request"


async def test_a_body_over_the_limit_is_413(api, app):
    limit = app.services.settings.max_body_bytes
    body = b'{"extension": "210", "nonce": "' + b"x" * limit + b'"}'
    response = await api.request("POST", f"{ME}/simple", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


async def test_a_chunked_body_over_the_limit_is_413(api, app):
    limit = app.services.settings.max_body_bytes

    async def chunks():
        for _ in range(limit // 1000 + 2):
            yield b"x" * 1000

    response = await api.request("POST", f"{ME}/simple", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_json_is_415(api, content_type):
    response = await api.request("POST", f"{ME}/simple", content=b"extension=210", headers={"Content-Type": content_type})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "content_type_invalid"


async def test_errors_never_leak_internals(api):
    response = await api.request("POST", f"{ME}/simple", json={"extension": "210", "phoneCallView": "nope"})
    message = response.json()["error"]["message"]
    assert "Failed validating" not in message and "{" not in message


async def test_spec_and_swagger_ui_are_served(client):
    spec = await client.get("/uapi/openapi.json")
    assert spec.status_code == 200 and spec.json()["openapi"] == "3.0.3"
    ui = await client.get("/uapi/ui/")
    assert ui.status_code == 200 and "swagger" in ui.text.lower()
