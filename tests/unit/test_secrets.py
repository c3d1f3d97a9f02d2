"""Item 2 of issue 11 in isolation: secret hashing, the hash-secret command, query tokens kept
out of the access log, and private SQLite files."""
from __future__ import annotations

import asyncio
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from uapi.client_secrets import hash_secret, is_hashed, secret_matches
from uapi.log_redaction import TokenRedactingFilter, redact, redact_access_log
from uapi.store.sql import SqlStore


def test_hashed_and_plaintext_secrets_both_verify():
    stored = hash_secret("s3cret")
    assert is_hashed(stored) and stored.startswith("$argon2id$")
    assert asyncio.run(secret_matches(stored, "s3cret"))
    assert not asyncio.run(secret_matches(stored, "s3creT"))
    assert asyncio.run(secret_matches("plain", "plain"))
    assert not asyncio.run(secret_matches("plain", "plain "))
    assert not asyncio.run(secret_matches("$argon2id$garbage", "x"))   # a broken hash never matches


def test_uapi_hash_secret_reads_stdin_and_prints_a_hash_that_verifies():
    done = subprocess.run([sys.executable, "-m", "uapi.cli", "hash-secret"], input="s3cret\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    assert printed.startswith("$argon2id$") and "s3cret" not in printed
    assert asyncio.run(secret_matches(printed, "s3cret"))
    empty = subprocess.run([sys.executable, "-m", "uapi.cli", "hash-secret"], input="\n",
                           capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and empty.stderr.count("\n") == 1


@pytest.mark.parametrize("path, expected", [
    ("/uapi/phoneCalls/@me/210?accessRequestToken=Bearer%20abc.DEF", "/uapi/phoneCalls/@me/210?accessRequestToken=[redacted]"),
    ("/x?count=2&accessrequesttoken=abc&fields=id", "/x?count=2&accessrequesttoken=[redacted]&fields=id"),
    ("/x?access%52equestToken=abc", "/x?access%52equestToken=[redacted]"),
    ("/x?count=2", "/x?count=2"),
    ("/x", "/x"),
])
def test_query_tokens_are_redacted(path, expected):
    assert redact(path) == expected


def test_the_access_log_record_is_redacted_before_any_handler_formats_it():
    redact_access_log()
    redact_access_log()   # idempotent
    logger = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, TokenRedactingFilter) for f in logger.filters) == 1
    # uvicorn's access record: client, method, path with query, HTTP version, status.
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/uapi/x?accessRequestToken=tok123", "1.1", 200), None)
    assert logger.filters[0].filter(record)
    assert "tok123" not in record.getMessage() and "[redacted]" in record.getMessage()


async def test_a_new_sqlite_database_file_is_private(tmp_path: Path):
    old_umask = os.umask(0o022)
    try:
        store = SqlStore(f"sqlite:///{tmp_path / 'new.db'}")
        await store.start()
        await store.close()
    finally:
        os.umask(old_umask)
    for path in tmp_path.iterdir():   # the database and any -wal / -shm beside it
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


async def test_an_existing_sqlite_file_keeps_its_mode(tmp_path: Path):
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    store = SqlStore(f"sqlite:///{path}")
    await store.start()
    await store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
