"""Downloadable client packages: `sdk_archive(lang, spec_path) -> bytes`.

Python: an sdist (`uapi-client-<version>/pyproject.toml`, PKG-INFO, package)
that `pip install <url>` builds. TypeScript: an npm tarball (`package/...`)
that `npm install <url>` accepts, with dist/index.js so it runs without a
compiler. Archives are byte-identical for the same spec (fixed mtimes, owners
and order), so they are cached by the spec's hash and safe to serve with an ETag.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import threading
from collections import OrderedDict
from pathlib import Path

from uapi.codegen.generate import MANIFEST, render
from uapi.codegen.model import Api, api_from_text
from uapi.codegen.spec import CodegenError, Problem

# 1985-10-26, the fixed mtime npm itself writes into packages; any constant would do.
_MTIME = 499162500
_CACHE_SIZE = 8
_cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
_lock = threading.Lock()
# Only what a package manager needs: the generator's bookkeeping stays out.
_LEFT_OUT = {MANIFEST, ".gitignore"}

CONTENT_TYPES = {"python": "application/gzip", "typescript": "application/gzip"}
FILE_NAMES = {"python": "python.tar.gz", "typescript": "typescript.tgz"}


def sdk_archive(lang: str, spec_path: str | Path) -> bytes:
    """The client package of `lang` generated from the spec at `spec_path`, as .tar.gz bytes."""
    if lang not in FILE_NAMES:
        raise CodegenError([Problem("lang", f"no archive for language {lang!r}; choose python or typescript")])
    text = Path(spec_path).read_bytes()
    key = (lang, hashlib.sha256(text).hexdigest())
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    data = build_archive(lang, api_from_text(text.decode("utf-8")))
    with _lock:
        _cache[key] = data
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return data


def build_archive(lang: str, api: Api) -> bytes:
    files = {name: text for name, text in render(api, lang).items() if name not in _LEFT_OUT}
    if lang == "python":
        top = f"{api.naming.module}-{api.version}"
        files["PKG-INFO"] = _pkg_info(api, files.get("README.md", ""))
    else:
        top = "package"
    return _tar_gz({f"{top}/{name}": text.encode("utf-8") for name, text in files.items()})


def _pkg_info(api: Api, readme: str) -> str:
    # Core metadata of an sdist (PEP 643 style); mirrors the generated pyproject.
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {api.naming.distribution}\n"
        f"Version: {api.version}\n"
        f"Summary: Python client for {api.title}\n"
        "Requires-Python: >=3.10\n"
        "Requires-Dist: httpx>=0.27\n"
        "Description-Content-Type: text/markdown\n"
        "\n" + readme
    )


def _tar_gz(entries: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            data = entries[name]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = _MTIME
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    # mtime=0 and no file name keep the gzip header identical between builds.
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()
