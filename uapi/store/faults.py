"""Which database failures mean "out of reach for now" (503) rather than a fault of ours (500).

A connection refused or cut (PostgreSQL restarting, the network), SQLite failing to write (a
full disk, a read-only file) or no pooled connection free in time: the request's transaction
was rolled back, nothing of it is kept, and the same request may well succeed a moment later.
Such a request answers 503 `service_unavailable` with `Retry-After`, and the log gets one
line per failure, not a traceback. Anything else the database refuses (a constraint, malformed
SQL) stays a 500: asking again would not help.
"""
from __future__ import annotations

from sqlalchemy import exc

from uapi.errors import UapiError

RETRY_AFTER_SECONDS = 2

# DB-API's OperationalError: "errors related to the database's operation and not necessarily
# under the control of the programmer" (psycopg: connection lost or refused, admin shutdown;
# sqlite3: disk full, disk I/O error, read-only database, locked). InterfaceError: the
# driver's connection object is already closed. TimeoutError: the pool had no connection.
_UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)


def database_unavailable(error: BaseException) -> bool:
    if isinstance(error, _UNAVAILABLE):
        return True
    # Any other driver error that cost the connection (SQLAlchemy invalidated it) is the same case.
    return isinstance(error, exc.DBAPIError) and error.connection_invalidated


def unavailable_error() -> UapiError:
    return UapiError(503, "service_unavailable", "The database is unavailable; try again.",
                     {"Retry-After": str(RETRY_AFTER_SECONDS)})


def one_line(error: BaseException) -> str:
    """The driver's own message, first line only (SQLAlchemy appends SQL and a help link)."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else ''}"
