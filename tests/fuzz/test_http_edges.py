"""What fuzzing the HTTP layer turned up, pinned: bytes and bodies a fuzzer (or a careless
client) sends must get a contract error, never a 500 or a dropped connection.

Requests go straight to the ASGI app, so they can carry what an HTTP client library would
refuse to build (raw non-ASCII query bytes, a chunked body, a broken Content-Length).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ME = "/uapi/phoneCalls/@me"
CREATE_BODY = json.dumps({"extension": "210", "phoneCallView": [{"destination": "3334444"}]}).encode()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The transport is the same on every database; SQLite is enough here."""
    return f"sqlite:///{tmp_path / 'uapi.db'}"


async def asgi(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes] = (),
               query: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request straight into the app: status, headers, body."""
    messages = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)]
    messages = messages or [{"type": "http.request", "body": b""}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query,
             "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 50000),
             "server": ("testserver", 80)}
    await app(scope, receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start", sent
    response_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start.get("headers", [])}
    return start["status"], response_headers, b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
async def bearer(api: Any) -> tuple[bytes, bytes]:
    return b"authorization", f"Bearer {await api.token('john')}".encode()


JSON = (b"content-type", b"application/json")


def error_code(body: bytes) -> str:
    return json.loads(body)["error"]["code"]


async def test_raw_non_ascii_query_bytes_are_read_as_percent_encoded(app, bearer):
    status, _, body = await asgi(app, "GET", f"{ME}/210", [bearer], query=b"fields=\xff")
    assert (status, error_code(body)) == (400, "fields_invalid")
    # An unknown parameter is ignored; the answer is built (links use the URL) without failing.
    status, _, _ = await asgi(app, "GET", f"{ME}/210", [bearer], query=b"x=\xff\xfe")
    assert status in (200, 204)


@pytest.mark.parametrize("body", [b"[" * 5000 + b"]" * 5000, b'{"extension": "210", "nonce": NaN}',
                                  b'{"extension": "210", "x": Infinity}'])
async def test_json_python_reads_but_json_forbids_is_request_invalid(app, bearer, body):
    status, _, answer = await asgi(app, "POST", f"{ME}/simple",
                                   [bearer, JSON, (b"content-length", str(len(body)).encode())], [body])
    assert (status, error_code(answer)) == (400, "request_invalid")


async def test_a_chunked_body_is_read_like_any_other(app, bearer):
    status, _, body = await asgi(app, "POST", f"{ME}/simple", [bearer, JSON, (b"transfer-encoding", b"chunked")],
                                 [CREATE_BODY[:7], CREATE_BODY[7:20], CREATE_BODY[20:]])
    assert status == 200, body
    assert json.loads(body)[0]["extension"] == "0003*210"


async def test_a_content_length_that_is_not_a_number_is_request_invalid(app, bearer):
    status, _, body = await asgi(app, "POST", f"{ME}/simple", [bearer, JSON, (b"content-length", b"12abc")], [CREATE_BODY])
    assert (status, error_code(body)) == (400, "request_invalid")


async def test_a_non_ascii_content_type_is_noise_without_a_body_and_415_with_one(app, bearer):
    odd = (b"content-type", b"\xff/\xfe")
    status, _, _ = await asgi(app, "GET", f"{ME}/210", [bearer, odd])
    assert status in (200, 204)
    status, _, body = await asgi(app, "POST", f"{ME}/simple",
                                 [bearer, odd, (b"content-length", str(len(CREATE_BODY)).encode())], [CREATE_BODY])
    assert (status, error_code(body)) == (415, "content_type_invalid")


async def test_a_literal_path_is_not_an_extension_named_like_it(app, bearer):
    status, headers, body = await asgi(app, "GET", f"{ME}/simple", [bearer])
    assert (status, headers.get("allow"), error_code(body)) == (405, "POST", "method_not_allowed")


FORM = (b"content-type", b"application/x-www-form-urlencoded")


@pytest.mark.parametrize("form, code", [
    (b"grant_type=password&client_id=john&client_secret=john-secret", "unsupported_grant_type"),
    (b"client_id=john&client_secret=john-secret", "invalid_request"),
])
async def test_token_form_errors_use_rfc_6749_codes(app, form, code):
    status, _, body = await asgi(app, "POST", "/oauth/token", [FORM, (b"content-length", str(len(form)).encode())], [form])
    assert (status, json.loads(body)["error"]) == (400, code)


async def test_a_token_request_that_is_not_a_form_says_which_media_type_it_needs(app):
    status, _, body = await asgi(app, "POST", "/oauth/token", [JSON, (b"content-length", b"2")], [b"{}"])
    answer = json.loads(body)
    assert (status, answer["error"]) == (415, "invalid_request")
    assert "x-www-form-urlencoded" in answer["error_description"]


@pytest.mark.parametrize("path, code", [
    ("/uapi/phoneCalls/a\nb/210", "user_invalid"),
    ("/uapi/phoneCalls/@me/21\n0", "extension_invalid"),
    ("/uapi/phoneCalls/@me/210/abc\n", "pc_phonecall_invalid"),
])
async def test_a_line_feed_in_a_path_parameter_is_that_parameters_400_not_a_404(app, bearer, path, code):
    status, _, body = await asgi(app, "GET", path, [bearer])
    assert (status, error_code(body)) == (400, code)
