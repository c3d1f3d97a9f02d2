"""`GET /`: where a person who opened the server's address in a browser (or curl) finds everything.

The API itself lives under /uapi/phoneCalls/{userId}/... and needs a token, so without this page
the first URL anyone tries answers 404. HTML for browsers, JSON for everything else.
"""
from __future__ import annotations

import html
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from uapi.downloads import ARCHIVES

LINKS = {
    "spec": "/uapi/openapi.json",
    "swaggerUi": "/uapi/ui/",
    "token": "/oauth/token",
    "api": "/uapi/phoneCalls/@me/@self",
    **{f"{lang}Client": url for url, (lang, _filename) in ARCHIVES.items()},
}
DESCRIPTIONS = {
    "spec": "the contract this server serves (OpenAPI 3.0)",
    "swaggerUi": "try every operation in the browser",
    "token": "POST grant_type=client_credentials with client_id and client_secret for a Bearer token",
    "api": "the live calls of the token's user (GET with Authorization: Bearer TOKEN)",
    "pythonClient": "pip install this URL for a Python client",
    "typescriptClient": "npm install this URL for a TypeScript client",
}


def home_endpoint(title: str, version: str) -> Any:
    async def home(request: Request) -> Response:
        if "text/html" in request.headers.get("accept", ""):
            items = "".join(f'<li><a href="{url}">{html.escape(url)}</a>: {html.escape(DESCRIPTIONS.get(name, ""))}</li>'
                            for name, url in LINKS.items())
            page = (f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)} "
                    f"{html.escape(version)}</h1><ul>{items}</ul>")
            return HTMLResponse(page)
        return JSONResponse({"name": title, "version": version, "links": LINKS, "descriptions": DESCRIPTIONS})

    return home
