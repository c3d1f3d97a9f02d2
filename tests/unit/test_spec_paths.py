"""SpecPaths: what the contract says about the resource a concrete path names."""
from __future__ import annotations

from uapi.http_errors import SpecPaths
from uapi.spec_core import DEFAULT_SPEC, load_spec

PATHS = SpecPaths(load_spec(DEFAULT_SPEC)["paths"])


def test_the_error_body_follows_the_operations_x_error_schema():
    assert PATHS.oauth_errors("/oauth/token")
    assert not PATHS.oauth_errors("/uapi/phoneCalls/@me/210/abc")
    assert not PATHS.oauth_errors("/oauth/authorize")   # names no resource: the API's own body


def test_a_literal_segment_wins_over_a_template():
    assert PATHS.methods_for("/uapi/phoneCalls/@me/simple") == ["POST"]
    assert PATHS.methods_for("/uapi/phoneCalls/@me/210") == ["DELETE", "GET", "HEAD"]
    assert PATHS.methods_for("/nowhere") == []


def test_body_types_come_from_the_request_bodies():
    assert PATHS.body_types("/oauth/token") == ("application/x-www-form-urlencoded",)
    assert PATHS.body_types("/uapi/phoneCalls/@me/simple") == ("application/json",)
    assert PATHS.body_types("/nowhere") == ()
