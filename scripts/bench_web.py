"""The web app in `make bench` (issue 13): its first load in headless Chromium on loopback against
`refund-local serve` (the requests and bytes the browser fetched, the time until the sign-in form can be
used), and the API calls each page makes once signed in."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Request, sync_playwright

from refund_local.chromium import CHROMIUM, CHROMIUM_ARGS

SEED: dict[str, Any] = {
    "customers": [{"username": "bea", "email": "bea@example.com"}],
    "orders": [
        {"orderId": "B-1", "username": "bea", "orderedAt": "2026-10-20T10:00:00+08:00", "amount": "99.00",
         "currency": "USD", "paymentChannel": "card", "kind": "new", "servicePeriodDays": 365,
         "paymentState": "settled", "trafficBytes": 10**9, "connections": 3},
    ],
    "tickets": [{"ticketId": "T-1", "username": "bea", "openedAt": "2026-11-30T10:00:00+08:00",
                 "category": "technical", "officialResponse": "cannot_fix"}],
}  # fmt: skip
API = ("/orders", "/refund-requests", "/reports/")


@dataclass(frozen=True)
class FirstLoad:
    requests: int
    kilobytes: float
    interactive_ms: float


def _first_load(page: Page, base: str) -> FirstLoad:
    fetched: list[Request] = []

    def finished(request: Request) -> None:
        fetched.append(request)

    page.on("requestfinished", finished)
    started = time.perf_counter()
    page.goto(base + "/")
    page.get_by_role("button", name="Sign in").wait_for()
    interactive = (time.perf_counter() - started) * 1000
    size = sum(len(request.response().body()) for request in fetched if request.response())  # type: ignore[union-attr]
    return FirstLoad(len(fetched), size / 1024, interactive)


def _api_calls(page: Page, action: Any, ready: str) -> int:
    """The API calls made from `action` until the page shows `ready` (a CSS selector) and the network rests."""
    calls: Counter[str] = Counter()

    def count(request: Request) -> None:
        if any(part in request.url for part in API):
            calls[request.url] += 1

    page.on("request", count)
    action()
    page.locator(ready).first.wait_for()
    page.wait_for_load_state("networkidle")
    page.remove_listener("request", count)
    return sum(calls.values())


def run() -> tuple[FirstLoad, dict[str, int]]:
    from refund_local.subprocess_server import serve_in_subprocess  # noqa: PLC0415

    with (
        tempfile.TemporaryDirectory() as directory,
        serve_in_subprocess(Path(directory), SEED) as base,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        loaded = _first_load(page, base)
        page.get_by_role("textbox", name="Username").fill("bea")
        sign_in = page.get_by_role("button", name="Sign in")
        pages = {"Refunds (sign-in)": _api_calls(page, sign_in.click, "main table")}

        def send() -> None:
            page.get_by_role("button", name="Request a refund").click()
            page.get_by_role("textbox", name="Reason").fill("It drops.")
            page.get_by_role("textbox", name="Support ticket").fill("T-1")
            page.get_by_role("button", name="Send request").click()

        pages["request form → request"] = _api_calls(page, send, "main ul.checks")
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("textbox", name="Username").fill("sue")
        page.get_by_role("checkbox", name="Supervisor").check()
        pages["service levels (sign-in)"] = _api_calls(page, sign_in.click, "main a[download]")
        queue = page.get_by_role("link", name="Review queue")
        pages["review queue"] = _api_calls(page, queue.click, "main tbody tr")
        browser.close()
    return loaded, pages
