"""sdk_archive: layouts pip and npm accept, byte-stable output, caching by spec hash."""
from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest

from tests.clients.conftest import SPEC, SPECS
from uapi.codegen import archive
from uapi.codegen.archive import sdk_archive
from uapi.codegen.generate import generate
from uapi.codegen.spec import CodegenError


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def read(data: bytes, name: str) -> str:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        return handle.read().decode()


def test_python_archive_is_an_sdist() -> None:
    data = sdk_archive("python", SPEC)
    names = members(data)
    top = "uapi_client-1.0.0"
    assert {f"{top}/pyproject.toml", f"{top}/PKG-INFO", f"{top}/uapi_client/__init__.py",
            f"{top}/uapi_client/py.typed"} <= names.keys()
    assert all(name.startswith(top + "/") for name in names)
    assert "Name: uapi-client\nVersion: 1.0.0\n" in read(data, f"{top}/PKG-INFO")
    assert read(data, f"{top}/uapi_client/client.py") == generate("python", SPEC)["uapi_client/client.py"]


def test_typescript_archive_is_an_npm_package() -> None:
    data = sdk_archive("typescript", SPEC)
    names = members(data)
    assert {"package/package.json", "package/dist/index.js", "package/src/index.ts", "package/README.md"} <= names.keys()
    assert all(name.startswith("package/") for name in names)
    assert "package/.gitignore" not in names and "package/.uapi-generated" not in names


@pytest.mark.parametrize("lang", ["python", "typescript"])
def test_archives_are_byte_stable_and_cached(lang: str, tmp_path: Path) -> None:
    first = sdk_archive(lang, SPEC)
    archive._cache.clear()
    assert sdk_archive(lang, SPEC) == first  # rebuilt, identical
    for info in members(first).values():
        assert (info.mtime, info.uid, info.gid, info.uname, info.mode) == (499162500, 0, 0, "", 0o644)
    assert sdk_archive(lang, SPEC) is sdk_archive(lang, SPEC)  # served from the cache

    # The cache key is the spec's content, not its path.
    copy = tmp_path / "copy.yaml"
    shutil.copy(SPEC, copy)
    assert sdk_archive(lang, copy) is sdk_archive(lang, SPEC)
    other = sdk_archive(lang, SPECS / "mini.yaml")
    assert other != first


def test_archive_of_a_document_that_is_not_openapi_3_raises(tmp_path: Path) -> None:
    swagger = tmp_path / "swagger.yaml"
    swagger.write_text("swagger: '2.0'\ninfo: {title: Old, version: '1'}\npaths: {}\n")
    with pytest.raises(CodegenError):
        sdk_archive("python", swagger)
    with pytest.raises(CodegenError):
        sdk_archive("java", SPEC)
