"""Client libraries for download, generated from the spec this server serves.

`pip install http://HOST/uapi/sdk/python.tar.gz` and `npm install http://HOST/uapi/sdk/typescript.tgz`
install clients that match the running server exactly. These are files, not API operations,
so like /uapi/openapi.json they live beside the spec rather than in it.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from uapi.codegen.archive import sdk_archive

ARCHIVES = {
    "/uapi/sdk/python.tar.gz": ("python", "uapi-client-python.tar.gz"),
    "/uapi/sdk/typescript.tgz": ("typescript", "uapi-client-typescript.tgz"),
}


def archive_endpoint(spec_path: Path, lang: str, filename: str):  # type: ignore[no-untyped-def]
    async def download(_request: Request) -> Response:
        # Generation is CPU work (cached after the first request); keep it off the event loop.
        data = await asyncio.to_thread(sdk_archive, lang, spec_path)
        return Response(data, media_type="application/gzip",
                         headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    return download
