"""Database files readable by their owner only.

A SQLite file holds the hashes of live tokens and every call's parties: it is created 0600
before SQLite opens it (SQLite gives its -wal and -shm files the database file's mode), so
no umask can make it readable by other local users. An existing file keeps the mode its
owner chose.
"""
from __future__ import annotations

import os
from pathlib import Path

SQLITE_PREFIX = "sqlite+pysqlite:///"


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite+pysqlite:///PATH` URL; None for memory or another database."""
    if not url.startswith(SQLITE_PREFIX):
        return None
    path = url[len(SQLITE_PREFIX):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def create_private_sqlite_file(url: str) -> None:
    path = sqlite_path(url)
    if path is None:
        return
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)
