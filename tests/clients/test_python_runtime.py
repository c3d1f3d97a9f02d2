"""The generated Python client's behaviour against a scripted transport: wire format,
models, errors, retries, token handling, pagination; sync and async alike."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from uapi_client import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    CreatePhoneCallRequest,
    CreatePhoneCallView,
    NotFoundError,
    PermissionDeniedError,
    PhoneCall,
    PhoneCallCollection,
    RateLimitError,
    ServerError,
    UapiConnectionError,
    UapiError,
)

import tests.clients.conftest  # noqa: F401  (puts generated/python on sys.path)

BASE = "http://uapi.test"
Handler = Callable[[httpx.Request], httpx.Response]
CALL = {"id": "abc123", "extension": "0003*210", "published": "2026-11-27T05:27:00Z"}


def error(status: int, code: str, message: str = "nope", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}}, headers=headers)


def collection(entries: list[dict[str, Any]], start: int = 0, total: int | None = None) -> httpx.Response:
    return httpx.Response(200, json={"startIndex": start, "itemsPerPage": len(entries),
                                     "totalResults": len(entries) if total is None else total, "entry": entries})


class Recorder:
    """A transport handler that logs requests and answers from a script or a function."""

    def __init__(self, answer: Handler | list[httpx.Response | Exception]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.answer):
            return self.answer(request)
        item = self.answer.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


class Tokens:
    """A fake OAuth endpoint in front of an API handler; counts tokens issued."""

    def __init__(self, api: Handler, expires_in: int = 3600, secret: str = "s3cret") -> None:
        self.api = api
        self.expires_in = expires_in
        self.secret = secret
        self.issued: list[str] = []
        self.forms: list[dict[str, list[str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            form = parse_qs(request.content.decode())
            self.forms.append(form)
            assert request.headers["content-type"] == "application/x-www-form-urlencoded"
            if form.get("client_secret") != [self.secret]:
                return httpx.Response(401, json={"error": "invalid_client", "error_description": "wrong secret"})
            self.issued.append(f"tok{len(self.issued) + 1}")
            return httpx.Response(200, json={"access_token": self.issued[-1], "token_type": "Bearer",
                                             "expires_in": self.expires_in})
        return self.api(request)


def client_for(handler: Handler, **options: Any) -> tuple[Client, list[float]]:
    options.setdefault("token", None if "client_id" in options else "fixed-token")
    client = Client(BASE, http_client=httpx.Client(transport=httpx.MockTransport(handler)), **options)
    slept: list[float] = []
    client._sleep = slept.append  # type: ignore[method-assign]
    return client, slept


# -- wire format -------------------------------------------------------------


def test_path_parameters_keep_at_and_star_and_escape_the_rest() -> None:
    rec = Recorder(lambda r: collection([]))
    client, _ = client_for(rec)
    client.list_phone_calls("@me", "0003*210")
    client.list_phone_calls(user_id="a/b c", extension="210")
    assert rec.requests[0].url.raw_path == b"/uapi/phoneCalls/@me/0003*210"
    assert rec.requests[1].url.raw_path == b"/uapi/phoneCalls/a%2Fb%20c/210"


def test_query_token_and_absent_parameters() -> None:
    rec = Recorder(lambda r: httpx.Response(204))
    client, _ = client_for(rec)
    client.hang_up_phone_call(user_id="@me", extension="210", phone_call_id="abc", phone_number="+4031234567")
    client.hang_up_phone_call(user_id="@me", extension="210", phone_call_id="abc")
    first, second = rec.requests
    assert first.headers["authorization"] == "Bearer fixed-token"
    assert first.url.params.get("phoneNumber") == "+4031234567"
    assert b"phoneNumber=%2B4031234567" in first.url.raw_path
    assert "phoneNumber" not in second.url.params and "fields" not in second.url.params


def test_204_answers_are_empty_values_not_none() -> None:
    client, _ = client_for(Recorder(lambda r: httpx.Response(204)))
    page = client.list_phone_calls("@me", "210")
    assert page == PhoneCallCollection(start_index=0, items_per_page=0, total_results=0, entry=[])
    assert client.hang_up_phone_calls("@me", "210") == []
    assert client.hang_up_phone_call("@me", "210", "abc") == []


def test_body_accepts_a_model_or_a_dict_with_json_names() -> None:
    rec = Recorder(lambda r: httpx.Response(200, json=[CALL]))
    client, _ = client_for(rec)
    model = CreatePhoneCallRequest(extension="210", phone_call_view=[CreatePhoneCallView(destination=["3334444"])])
    as_dict = {"extension": "210", "phoneCallView": [{"destination": ["3334444"]}]}
    created = client.create_simple_phone_call("@me", body=model)
    client.create_simple_phone_call("@me", body=as_dict)
    assert [json.loads(r.content) for r in rec.requests] == [as_dict, as_dict]
    assert rec.requests[0].headers["content-type"] == "application/json"
    assert created == [PhoneCall(id="abc123", extension="0003*210", published="2026-11-27T05:27:00Z")]


def test_per_call_timeout_and_extra_headers() -> None:
    rec = Recorder(lambda r: collection([]))
    client, _ = client_for(rec, headers={"X-Default": "1"})
    client.list_phone_calls("@me", "210", timeout=1.5, extra_headers={"X-Request-Id": "r-1"})
    client.list_phone_calls("@me", "210")
    first, second = rec.requests
    assert first.extensions["timeout"]["read"] == 1.5 and second.extensions["timeout"]["read"] == 30.0
    assert first.headers["x-request-id"] == "r-1" and "x-request-id" not in second.headers
    assert first.headers["x-default"] == "1"


# -- models ------------------------------------------------------------------


def test_models_round_trip_exactly() -> None:
    wire = {
        "id": "7d28", "extension": "0003*210", "endedBy": "api", "futureField": {"x": [1, 2]},
        "phoneCallView": [{"id": "00", "source": ["210"], "flow": 4, "disposition": 0}],
        "links": {"self": "http://h/uapi/phoneCalls/12/0003*210/7d28"},
    }
    call = PhoneCall.from_dict(wire)
    assert call.ended_by == "api" and call.answered is None
    assert call.phone_call_view is not None and call.phone_call_view[0].disposition == 0
    assert call.links is not None and call.links.self_ == wire["links"]["self"]  # type: ignore[index]
    assert call.additional_properties == {"futureField": {"x": [1, 2]}}
    assert call.to_dict() == wire
    assert "answered" not in call.to_dict()


def test_union_fields_decode_either_form() -> None:
    single = CreatePhoneCallView.from_dict({"destination": "3334444"})
    many = CreatePhoneCallView.from_dict({"destination": ["1", "2"], "source": "210"})
    assert single.destination == "3334444" and many.destination == ["1", "2"] and many.source == "210"
    assert many.to_dict() == {"destination": ["1", "2"], "source": "210"}


def test_a_malformed_answer_is_a_uapi_error() -> None:
    client, _ = client_for(Recorder(lambda r: httpx.Response(200, json={"unexpected": True})))
    with pytest.raises(UapiError) as caught:
        client.list_phone_calls("@me", "210")
    assert caught.value.code == "invalid_response" and caught.value.status == 200


# -- errors ------------------------------------------------------------------


@pytest.mark.parametrize(("status", "cls"), [
    (400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError),
    (404, NotFoundError), (500, ServerError), (415, UapiError),
])
def test_error_families(status: int, cls: type[UapiError]) -> None:
    client, _ = client_for(Recorder(lambda r: error(status, "some_code", "why", {"X-Trace": "t"})))
    with pytest.raises(cls) as caught:
        client.get_phone_call("@me", "210", "abc")
    err = caught.value
    assert (err.status, err.code, err.message) == (status, "some_code", "why")
    assert err.headers["x-trace"] == "t"
    assert type(err) is cls


def test_error_without_json_body() -> None:
    client, _ = client_for(Recorder(lambda r: httpx.Response(502, text="<html>bad gateway</html>")))
    with pytest.raises(ServerError) as caught:
        client.create_simple_phone_call("@me", body={"extension": "210", "phoneCallView": []})
    assert caught.value.code == "http_502" and caught.value.status == 502


# -- retries -----------------------------------------------------------------


def test_idempotent_requests_retry_with_exponential_backoff() -> None:
    rec = Recorder([error(503, "unavailable"), httpx.ConnectError("refused"), error(503, "unavailable"),
                    collection([CALL])])
    client, slept = client_for(rec)
    assert client.list_phone_calls("@me", "210").total_results == 1
    assert slept == [0.5, 1.0, 2.0] and len(rec.requests) == 4


def test_retry_after_is_honoured() -> None:
    rec = Recorder([error(429, "too_many", headers={"Retry-After": "3"}), httpx.Response(204)])
    client, slept = client_for(rec)
    assert client.hang_up_phone_calls("@me", "210") == []
    assert slept == [3.0]


def test_retries_give_up_after_max_retries() -> None:
    rec = Recorder(lambda r: error(429, "too_many"))
    client, slept = client_for(rec, max_retries=2)
    with pytest.raises(RateLimitError):
        client.list_phone_calls("@me", "210")
    assert len(rec.requests) == 3 and slept == [0.5, 1.0]


def test_too_long_retry_after_is_not_waited_for() -> None:
    rec = Recorder(lambda r: error(503, "maintenance", headers={"Retry-After": "3600"}))
    client, slept = client_for(rec)
    with pytest.raises(ServerError):
        client.list_phone_calls("@me", "210")
    assert len(rec.requests) == 1 and slept == []


def test_post_is_never_retried() -> None:
    rec = Recorder([error(503, "unavailable"), httpx.ConnectError("refused")])
    client, slept = client_for(rec)
    with pytest.raises(ServerError):
        client.create_simple_phone_call("@me", body={"extension": "210", "phoneCallView": []})
    with pytest.raises(UapiConnectionError) as caught:
        client.create_simple_phone_call("@me", body={"extension": "210", "phoneCallView": []})
    assert caught.value.status == 0 and slept == []


# -- tokens ------------------------------------------------------------------


def test_client_credentials_fetch_reuse_and_renew_before_expiry() -> None:
    seen: list[str] = []
    oauth = Tokens(lambda r: (seen.append(r.headers["authorization"]), collection([]))[1], expires_in=600)
    client, _ = client_for(oauth, client_id="app", client_secret="s3cret", token_refresh_margin=60)
    now = [1000.0]
    client._auth.clock = lambda: now[0]
    client.list_phone_calls("@me", "210")
    client.list_phone_calls("@me", "210")
    now[0] += 600 - 60 - 1  # still fresh
    client.list_phone_calls("@me", "210")
    now[0] += 2  # inside the renewal margin
    client.list_phone_calls("@me", "210")
    assert seen == ["Bearer tok1", "Bearer tok1", "Bearer tok1", "Bearer tok2"]
    assert oauth.forms[0] == {"grant_type": ["client_credentials"], "client_id": ["app"], "client_secret": ["s3cret"]}


def test_a_401_renews_the_token_once() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return collection([]) if request.headers["authorization"] == "Bearer tok2" else error(401, "access_denied")

    oauth = Tokens(api)
    client, _ = client_for(oauth, client_id="app", client_secret="s3cret")
    client.list_phone_calls("@me", "210")  # tok1 refused, tok2 accepted
    assert oauth.issued == ["tok1", "tok2"]

    never = Tokens(lambda r: error(401, "access_denied"))
    client, _ = client_for(never, client_id="app", client_secret="s3cret")
    with pytest.raises(AuthenticationError):
        client.list_phone_calls("@me", "210")
    assert never.issued == ["tok1", "tok2"]  # one renewal, then the 401 is raised


def test_a_fixed_token_is_not_renewed() -> None:
    rec = Recorder(lambda r: error(401, "access_denied"))
    client, _ = client_for(rec)
    with pytest.raises(AuthenticationError):
        client.list_phone_calls("@me", "210")
    assert len(rec.requests) == 1


def test_wrong_app_credentials_raise_the_oauth_error() -> None:
    client, _ = client_for(Tokens(lambda r: collection([])), client_id="app", client_secret="wrong")
    with pytest.raises(AuthenticationError) as caught:
        client.list_phone_calls("@me", "210")
    assert (caught.value.code, caught.value.message) == ("invalid_client", "wrong secret")


def test_operations_without_security_send_no_token() -> None:
    oauth = Tokens(lambda r: collection([]))
    client, _ = client_for(oauth, token="fixed")
    answer = client.issue_token(body={"grant_type": "client_credentials", "client_id": "a", "client_secret": "s3cret"})
    assert answer.access_token == "tok1" and answer.token_type == "Bearer"


# -- pagination and lifecycle --------------------------------------------------


def paged(total: int) -> Handler:
    calls = [{"id": f"c{i}"} for i in range(total)]

    def answer(request: httpx.Request) -> httpx.Response:
        if not calls:
            return httpx.Response(204)
        start = int(request.url.params.get("startIndex", 0))
        count = int(request.url.params.get("count", 20))
        return collection(calls[start:start + count], start, total)
    return answer


def test_iter_phone_calls_walks_every_page() -> None:
    rec = Recorder(paged(5))
    client, _ = client_for(rec)
    assert [c.id for c in client.iter_phone_calls("@me", "210", count=2)] == ["c0", "c1", "c2", "c3", "c4"]
    assert [r.url.params["startIndex"] for r in rec.requests] == ["0", "2", "4"]
    client, _ = client_for(Recorder(paged(0)))
    assert list(client.iter_phone_calls("@me", "@self")) == []


def test_context_manager_closes_only_its_own_http_client() -> None:
    with Client(BASE, token="t") as client:
        own = client._http
    assert own.is_closed
    shared = httpx.Client(transport=httpx.MockTransport(lambda r: collection([])))
    with Client(BASE, token="t", http_client=shared) as client:
        client.list_phone_calls("@me", "210")
    assert not shared.is_closed


# -- async -------------------------------------------------------------------


def async_client_for(handler: Handler, **options: Any) -> tuple[AsyncClient, list[float]]:
    options.setdefault("token", None if "client_id" in options else "fixed-token")
    client = AsyncClient(BASE, http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), **options)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
    client._sleep = sleep  # type: ignore[method-assign]
    return client, slept


async def test_async_client_has_the_same_behaviour() -> None:
    busy = [True]

    def api(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer tok1":
            return error(401, "access_denied")  # as if revoked: the client renews once
        if request.method == "POST":
            return httpx.Response(200, json=[CALL])
        if request.url.params.get("phoneNumber") == "abc":
            return error(400, "pc_phonenumber_invalid")
        if request.method == "DELETE":
            return httpx.Response(204)
        if busy[0]:
            busy[0] = False
            return error(503, "busy", headers={"Retry-After": "1"})
        return paged(3)(request)

    oauth = Tokens(api)
    client, slept = async_client_for(oauth, client_id="app", client_secret="s3cret")
    async with client:
        created = await client.create_simple_phone_call("@me", body={"extension": "210", "phoneCallView": []})
        assert created[0].id == "abc123"
        assert [c.id async for c in client.iter_phone_calls("@me", "210", count=2)] == ["c0", "c1", "c2"]
        with pytest.raises(BadRequestError) as caught:
            await client.hang_up_phone_call("@me", "210", "abc123", phone_number="abc")
        assert caught.value.code == "pc_phonenumber_invalid"
        assert await client.hang_up_phone_calls("@me", "210") == []
    assert oauth.issued == ["tok1", "tok2"]
    assert slept == [1.0]
    assert client._http.is_closed is False  # passed in, so left open
