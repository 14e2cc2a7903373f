"""The web app in Debian's Chromium (never a downloaded browser), driven by Playwright, against one
`refund-local serve` per worker. Each test signs in as its own customers; screenshots go to
tests/browser/screenshots/ (ignored by git) for a person to look at."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_support import Server, customer, order, running_server, ticket
from web_support import screenshot

from refund_local.chromium import CHROMIUM, CHROMIUM_ARGS

CUSTOMERS = (
    *("bea", "ben", "cat", "dan", "eve", "fay", "gus", "hal", "ida", "joe", "kim", "lea"),
    *("pia", "quin", "ray", "sol"),  # the accessibility checks'
    *("uma", "vic"),  # the checks before sending
    "nia",  # casework: two reviewers and one request
    "ria",  # personal data: downloaded by the customer and by a supervisor
    *("oto", "pax"),  # the queue narrowed, sorted and counted
    *("vik", "wes"),  # a filter changed while the queue is loading
    "xia",  # a canned reply picked and edited
    *("ava", "ivo", "ena", "oda"),  # a reviewer's question answered on the page, with a file
    "kit",  # a long period's decisions exported
)

# As long as the actions' own timeout: on a loaded 2-core machine a call that starts another function worker (a
# cold start of 3 to 4 s here) can take longer than Playwright's default 5 s of waiting for what it shows.
expect.set_options(timeout=15_000)

SEED: dict[str, Any] = {
    "customers": [customer(name) for name in CUSTOMERS]
    + [customer("zoe", language="zh-HK"), customer("pol"), customer("max"), customer("mei", language="zh-HK")]
    + [customer("apu"), customer("wen", language="zh-HK", name="王文"), customer("ulf"), customer("bil")],
    # A pending order (40 days old: a partial refund for a reviewer) and a clear full refund for each.
    "orders": [order(f"{name.upper()}-40", name, days_ago=40, amount="99.00") for name in CUSTOMERS]
    + [order(f"{name.upper()}-5", name, days_ago=5) for name in CUSTOMERS]
    + [order("ZOE-40", "zoe", days_ago=40, amount="99.00")]
    # The policy owner's simulation: a full refund at 20 days, a partial one under a fortnight's window.
    + [order("POL-20", "pol", days_ago=20, amount="73.00")]
    # Clear full refunds whose payouts the customer watches and finance marks paid.
    + [order("MAX-5", "max"), order("MEI-5", "mei")]
    # Paid with PayPal: the billing system pays its refund.
    + [order("BIL-5", "bil", paymentChannel="paypal", paymentReference="CAPTURE-BIL")]
    # Paid through the App Store: Apple refunds it, not the company.
    + [order("APL-5", "apu", paymentChannel="apple_itunes")]
    # The whole flow in Chinese: a partial claim sent and cancelled, then one the rules refuse at once.
    + [order("WEN-40", "wen", days_ago=40, amount="99.00"), order("WEN-9", "wen", days_ago=9, connections=250)]
    # Four eyes: paid in Hong Kong dollars, the only currency the test's policy asks a second approval in.
    + [order("ULF-40", "ulf", days_ago=40, amount="999.00", currency="HKD")],
    "tickets": [
        ticket(f"T-{name}", name) for name in (*CUSTOMERS, "zoe", "pol", "max", "mei", "apu", "wen", "ulf", "bil")
    ],
}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The reconciler runs only when a test asks: a payout the tests watch SENT is not paid behind their back.
    with running_server(tmp_path_factory.mktemp("browser"), SEED, "--schedules-every-seconds", "86400") as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
    with sync_playwright() as playwright:
        # launch() gives every run a fresh, temporary user-data dir of its own.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh context (storage, language) at 1280 px; any console error or uncaught exception fails the test
    (a Content-Security-Policy violation is one)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", accept_downloads=True)
    context.set_default_timeout(15_000)
    opened = context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # A failed load the test provokes (a 4xx, a refused connection) is not one; "Refused to ..." (CSP) is.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    opened.on("console", console)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    call = getattr(request.node, "report_call", None)
    screenshot(opened, request.node.name, failed=call is not None and call.failed)
    context.close()
    assert not problems, problems


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Each phase's report kept on its test (`report_call`...), for the page fixture to see whether it failed."""
    report: pytest.TestReport = yield
    setattr(item, f"report_{report.when}", report)
    return report
