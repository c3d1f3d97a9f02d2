"""Swagger UI in a real headless Chromium, against a real `uapi serve` process.

What a designer or a client developer does by hand: open /uapi/ui/, find every operation,
read an example, authorize with a token from /oauth/token and run operations with
"Try it out". Chromium and chromedriver are Debian's (`chromium`, `chromium-driver`, installed
by .ci/run); Selenium drives them with no download of any kind. Missing pieces fail the test:
a skipped browser test would let a broken Swagger UI look green.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.servers import ServerProcess, running_server
from uapi.spec_core import DEFAULT_SPEC, iter_operations, load_spec

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 30.0   # seconds for any one thing to appear in the page
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--window-size=1400,1000"]
INSTALL_HINT = "install Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver; .ci/run does)"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    # No --directory: the built-in demo directory, whose demo-user app the UI signs in with.
    with running_server("--database", f"sqlite:///{tmp_path / 'ui.db'}", workdir=tmp_path) as running:
        yield running


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(f"no chromium binary on PATH: {INSTALL_HINT}")
    if not CHROMEDRIVER.is_file():
        pytest.fail(f"no {CHROMEDRIVER}: {INSTALL_HINT}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[test]'")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium   # given explicitly, with the driver: Selenium Manager never runs
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path, prefix='chromium-')}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})   # every request the page makes
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log")),
                              options=options)
    try:
        yield driver
    finally:
        driver.quit()


def demo_token(server: ServerProcess) -> str:
    form = {"grant_type": "client_credentials", "client_id": "demo-user", "client_secret": "demo-user-secret"}
    response = httpx.post(f"{server.base_url}/oauth/token", data=form, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def wait_for(driver: WebDriver, found: Callable[[WebDriver], Any], what: str) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT).until(found)
    except TimeoutException:
        raise AssertionError(f"Swagger UI: {what} within {WAIT}s; page text:\n{driver.find_element('tag name', 'body').text[:3000]}") from None


def css(scope: WebDriver | WebElement, selector: str) -> list[WebElement]:
    return scope.find_elements("css selector", selector)


def first(scope: WebDriver | WebElement, selector: str) -> WebElement | None:
    """The first match or None: what WebDriverWait polls for."""
    found = css(scope, selector)
    return found[0] if found else None


def requested_urls(driver: WebDriver) -> set[str]:
    """URLs of every network request since the last call, from Chromium's performance log."""
    urls = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.add(message["params"]["request"]["url"])
    return urls


def operation_block(driver: WebDriver, tag: str, operation_id: str) -> WebElement:
    """Expand an operation (Swagger UI's element id is operations-<tag>-<operationId>)."""
    block: WebElement = wait_for(driver, lambda d: first(d, f"#operations-{tag}-{operation_id}"),
                     f"operation {operation_id} not shown")
    if not css(block, ".opblock-body"):
        css(block, ".opblock-summary-control")[0].click()
        wait_for(driver, lambda _: css(block, ".opblock-body"), f"{operation_id} does not expand")
    return block


def try_it_out(driver: WebDriver, block: WebElement, params: dict[str, str]) -> tuple[str, str, str]:
    """Try it out with these path/query values, Execute; answer the status code, the server
    response panel and the curl command the UI shows for the request it sent."""
    css(block, ".try-out__btn")[0].click()
    for name, value in params.items():
        (field,) = css(block, f"tr[data-param-name={name}] input")
        field.clear()
        field.send_keys(value)
    css(block, "button.execute")[0].click()
    status = wait_for(driver, lambda _: first(block, ".live-responses-table .response .response-col_status"),
                      "no server response after Execute")
    return status.text.strip(), css(block, ".live-responses-table")[0].text, css(block, ".curl-command")[0].text


def authorize(driver: WebDriver, token: str) -> None:
    css(driver, ".auth-wrapper button.authorize")[0].click()
    modal = wait_for(driver, lambda d: first(d, ".modal-ux"), "the Authorize dialog does not open")
    css(modal, "input[aria-label=auth-bearer-value]")[0].send_keys(token)   # bearerAuth comes first
    css(modal, "button.modal-btn.authorize")[0].click()
    wait_for(driver, lambda _: "Authorized" in modal.text, "bearerAuth is not shown as Authorized")
    css(modal, "button.btn-done")[0].click()
    wait_for(driver, lambda d: not css(d, ".modal-ux"), "the Authorize dialog does not close")


def test_swagger_ui_shows_the_contract_and_runs_operations(server: ServerProcess, browser: WebDriver) -> None:
    spec = load_spec(DEFAULT_SPEC)
    token = demo_token(server)
    browser.get(f"{server.base_url}/uapi/ui/")

    # Every operation of the spec, under its tag, with its summary.
    for op in iter_operations(spec):
        tag, operation_id = op.node["tags"][0], op.node["operationId"]
        selector = f"#operations-{tag}-{operation_id}"
        block = wait_for(browser, lambda d, selector=selector: first(d, selector), f"operation {operation_id} not shown")
        assert css(block, ".opblock-summary-description")[0].text == op.node["summary"], operation_id
        assert css(block, ".opblock-summary-path")[0].get_attribute("data-path") == op.path, operation_id

    # An expanded operation shows the spec's request example.
    create = operation_block(browser, "PhoneCalls", "createSimplePhoneCall")
    example = spec["paths"]["/uapi/phoneCalls/{userId}/simple"]["post"]["requestBody"]["content"][
        "application/json"]["example"]
    shown = wait_for(browser, lambda _: first(create, ".body-param__example"), "no request example")
    assert json.loads(shown.text) == example

    # Authorize with a real token, then run the example through the real server.
    authorize(browser, token)
    status, panel, curl = try_it_out(browser, create, {"userId": "@me"})
    assert status == "200", panel
    assert f"Authorization: Bearer {token}" in curl   # the UI sent the token it was given
    call_id = re.search(r'"id": "([0-9a-f]{20})"', panel)
    assert call_id, panel

    # The call really exists: the API answers it, and listPhoneCalls in the UI lists it.
    response = httpx.get(f"{server.base_url}/uapi/phoneCalls/@me/0003*210/{call_id[1]}",
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    listing = operation_block(browser, "PhoneCalls", "listPhoneCalls")
    status, panel, _ = try_it_out(browser, listing, {"userId": "@me", "extension": "0003*210"})
    assert status == "200", panel
    assert call_id[1] in panel

    # Everything came from this server: no CDN, no validator badge, nothing from the internet.
    pages = {url for url in requested_urls(browser) if re.match(r"(https?|wss?)://", url)}
    assert f"{server.base_url}/uapi/ui/swagger-ui-bundle.js" in pages
    assert f"{server.base_url}/uapi/openapi.json" in pages
    assert all(url.startswith(f"{server.base_url}/") for url in pages), sorted(pages)
