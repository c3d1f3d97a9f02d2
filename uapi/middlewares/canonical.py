"""Requests as the original clients send them, rewritten to what the router and parsers take.

* A path ending in a slash is served as it is, not redirected (those clients treat a 307 as
  an error), so the slash is dropped before routing.
* `/oauth/token.php`, the original token path, is the same operation as `/oauth/token`.
* The router mounts the API with a `.*` pattern, which stops at a line feed: a path carrying
  one (%0A) would be a 404 whatever it names. It becomes U+FFFD, which no path parameter
  accepts either, so a bad parameter still answers 400 with its own code.
* Raw bytes beyond ASCII in a query are percent-encoded, as a browser would send them, so
  nothing downstream (URL building, parameter parsing) has to decode them.
"""
from __future__ import annotations

from urllib.parse import quote, quote_from_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIXES = ("/uapi/phoneCalls/", "/oauth/")
PATH_ALIASES = {"/oauth/token.php": "/oauth/token"}
PATH_SAFE = "/@*:!$&'()+,;="
QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))  # printable ASCII stays as sent


def canonical_path(path: str) -> str:
    if path.startswith(API_PREFIXES) and len(path) > 1:
        path = path.rstrip("/") or "/"
    return PATH_ALIASES.get(path, path)


class CanonicalRequest:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = canonical(scope)
        await self.app(scope, receive, send)


def canonical(scope: Scope) -> Scope:
    path = canonical_path(scope["path"].replace("\n", "\ufffd"))
    if path != scope["path"]:
        scope = dict(scope, path=path, raw_path=quote(path, safe=PATH_SAFE, errors="surrogatepass").encode())
    query = scope.get("query_string", b"")
    if not query.isascii():
        scope = dict(scope, query_string=quote_from_bytes(query, safe=QUERY_SAFE).encode())
    return scope
