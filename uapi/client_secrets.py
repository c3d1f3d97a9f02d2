"""Client secrets of the directory: an Argon2id hash (`uapi hash-secret`), or plaintext.

Argon2id (argon2-cffi) rather than the standard library's scrypt: it is the first choice of
RFC 9106 and OWASP, and its PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`) carries
its own parameters, so a directory file needs no format of ours and hashes made with stronger
parameters later still verify. scrypt has no standard string form.

A verification costs tens of milliseconds and 64 MiB by design: it runs in a worker thread
(the C code releases the GIL), never on the event loop, and callers bound how many run at once.
"""
from __future__ import annotations

import asyncio
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASH_PREFIX = "$argon2"
# RFC 9106's second recommended profile (argon2-cffi's default): t=3, m=64 MiB, p=4.
_hasher = PasswordHasher()


def is_hashed(stored: str) -> bool:
    return stored.startswith(HASH_PREFIX)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def _verify_hash(stored: str, given: str) -> bool:
    try:
        return _hasher.verify(stored, given)
    except (VerificationError, InvalidHashError):
        return False


async def secret_matches(stored: str, given: str) -> bool:
    """Does `given` match the directory's `stored` secret (hashed or plaintext)?"""
    if is_hashed(stored):
        return await asyncio.to_thread(_verify_hash, stored, given)
    # Plaintext (warned about at start-up): compared in constant time.
    return hmac.compare_digest(stored.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass"))
