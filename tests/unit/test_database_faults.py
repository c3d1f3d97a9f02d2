"""Database failures a retry may cure answer 503 `service_unavailable`; the others stay 500."""
from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import exc

from uapi.http_errors import SpecPaths, render, uapi_error_for

NO_PATHS = SpecPaths({})


class DriverError(Exception):
    """Stands for the driver's exception SQLAlchemy wraps."""


@pytest.mark.parametrize("error", [
    exc.OperationalError("INSERT", {}, DriverError("server closed the connection unexpectedly\nline two")),
    exc.InterfaceError("SELECT", {}, DriverError("the connection is closed")),
    exc.DBAPIError("SELECT", {}, DriverError("lost"), connection_invalidated=True),
    exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached"),
], ids=["operational", "interface", "invalidated", "pool-timeout"])
def test_database_out_of_reach_answers_503_with_retry_after_and_logs_one_line(
        error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="uapi.errors"):
        mapped = uapi_error_for(error, "/uapi/phoneCalls/@me/simple", NO_PATHS)
    assert (mapped.status, mapped.code, mapped.headers) == (503, "service_unavailable", {"Retry-After": "2"})
    (record,) = caplog.records
    assert record.exc_info is None and "\n" not in record.getMessage(), record.getMessage()


@pytest.mark.parametrize("error", [
    exc.IntegrityError("INSERT", {}, DriverError("duplicate key")),
    exc.ProgrammingError("SELECT", {}, DriverError("syntax error")),
], ids=["integrity", "programming"])
def test_other_database_errors_stay_500(error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="uapi.errors"):
        assert uapi_error_for(error, "/uapi/phoneCalls/@me/simple", NO_PATHS).status == 500


def test_token_endpoint_says_temporarily_unavailable() -> None:
    error = uapi_error_for(exc.OperationalError("INSERT", {}, DriverError("disk full")), "/oauth/token", NO_PATHS)
    response = render(error, oauth=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert json.loads(response.body)["error"] == "temporarily_unavailable"
