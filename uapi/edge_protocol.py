"""Limits that only the HTTP connection can enforce: head size, slow heads, connection count.

uvicorn already has what it can: `timeout_keep_alive` closes idle keep-alive connections and
is used as it is. It has no limit on the size of a request head with httptools (the default
parser; `h11_max_incomplete_event_size` applies to h11 only, and answers a plain-text 400),
no timeout for a request head that arrives slowly or never, and `limit_concurrency` answers
a plain-text 503 while the descriptor of every idle connection stays open. So this protocol,
uvicorn's httptools protocol with three additions, adds just those:

* a head (request line and headers) over `max_header_bytes` answers 431 and closes, counted
  as the bytes arrive, so a 200 MB header costs at most one read beyond the limit;
* a head not complete `header_timeout_seconds` after its first byte (or after the connection
  opened, for a connection that sends nothing) answers 408 and closes;
* past `max_connections` open connections a new one answers 503 and is closed at once, which
  frees its descriptor; requests beyond as many in flight answer 503 like uvicorn's rule.

Every answer carries the contract's error body (`uapi.http_errors.render`), the one the
addressed resource declares when the request line arrived (`config.spec_paths`).
"""
from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from uapi.errors import UapiError
from uapi.http_errors import SpecPaths, render
from uapi.middlewares.canonical import canonical_path
from uapi.settings import EdgeLimits
from uapi.workers import set_nodelay

log = logging.getLogger("uapi.edge")
HEADER_OVERHEAD = 4   # ": " and CRLF of each header line


def head_too_large(limit: int) -> UapiError:
    return UapiError(431, "headers_too_large", f"The request line and headers are larger than {limit} bytes.")


def head_too_slow(seconds: float) -> UapiError:
    return UapiError(408, "request_timeout", f"The request headers did not arrive within {seconds:g} s.")


SERVER_BUSY = UapiError(503, "service_busy", "The server has too many connections; try again.", {"Retry-After": "1"})


def _path_of(url: bytes) -> str:
    return url.split(b"?", 1)[0].decode("latin-1")


def _response_bytes(error: UapiError, oauth: bool) -> bytes:
    response = render(error, oauth)
    body = response.body or b""
    lines = [STATUS_LINE[error.status], b"content-type: application/json\r\n",
             b"content-length: %d\r\n" % len(body), b"connection: close\r\n"]
    lines += [f"{name.lower()}: {value}\r\n".encode("latin-1") for name, value in (response.headers or {}).items()]
    return b"".join(lines) + b"\r\n" + body


def rejection_app(error: UapiError, oauth: bool) -> Any:
    """An ASGI app answering `error` and closing the connection (uvicorn honours `connection: close`)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        response = render(error, oauth)
        body = response.body or b""
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        headers += [(name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in (response.headers or {}).items()]
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


class EdgeProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of :class:`EdgeLimits` (read from
    `config.edge_limits`, which survives the pickling of a config for reload workers)."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: EdgeLimits = getattr(config, "edge_limits", None) or EdgeLimits()
        # Which error body a path's resource answers (`config.spec_paths`, set with edge_limits).
        self.paths: SpecPaths | None = getattr(config, "spec_paths", None)
        # uvicorn's own check would answer plain text; on_headers_complete applies the same rule.
        self.limit_concurrency = None
        self._in_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None

    # -- connection ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        set_nodelay(transport.get_extra_info("socket"))   # whatever the listener's protocol (uapi.workers)
        if len(self.connections) > self.limits.max_connections:
            log.debug("connection from %s refused: %d open", self.client, len(self.connections))
            self._answer_and_close(SERVER_BUSY)
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # Still inside the head after this read: every byte so far belongs to it.
        if self._in_head and self._head_bytes > self.limits.max_header_bytes and not self.transport.is_closing():
            self._answer_and_close(head_too_large(self.limits.max_header_bytes))

    # -- parser callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        size = len(self.url) + sum(len(name) + len(value) + HEADER_OVERHEAD for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            rejection: Any = rejection_app(head_too_large(self.limits.max_header_bytes), self._oauth())
        elif len(self.tasks) >= self.limits.max_connections:
            rejection = rejection_app(SERVER_BUSY, self._oauth())
        else:
            super().on_headers_complete()
            return
        # uvicorn starts self.app for the request: swap in the rejection for this one call,
        # so the parser's later callbacks (body, message complete) find the cycle they expect.
        app = self.app
        self.app = rejection
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    # -- helpers -------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout_seconds, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._answer_and_close(head_too_slow(self.limits.header_timeout_seconds))

    def _answer_and_close(self, error: UapiError) -> None:
        """Answer outside any request cycle (none started), unless a response is being written."""
        self._cancel_head_timer()
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_response_bytes(error, self._oauth()))
        self.transport.close()

    def _oauth(self) -> bool:
        """Whether the request so far addresses a resource with RFC 6749 error bodies."""
        url: bytes | None = getattr(self, "url", None)
        if self.paths is None or not url:
            return False
        return self.paths.oauth_errors(canonical_path(_path_of(url)))


def uvicorn_options(limits: EdgeLimits) -> dict[str, Any]:
    """The uvicorn.Config keywords that carry the limits uvicorn has itself."""
    return {
        "http": EdgeProtocol,
        "timeout_keep_alive": limits.keep_alive_seconds,
        # Used if someone runs the app on h11 instead: the same bound on an incomplete head.
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }


def raise_descriptor_limit(max_connections: int) -> str | None:
    """Lift the soft descriptor limit to the hard one; a warning when connections cannot fit.

    Descriptors beyond the open connections: the listening socket, the database, logs, Kamailio.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, max_connections + 256)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < max_connections + 64:
        return (f"the descriptor limit ({soft}) is close to --max-connections ({max_connections}); "
                f"lower --max-connections or raise `ulimit -n`")
    return None
