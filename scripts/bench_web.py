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

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
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
    page.on("requestfinished", fetched.append)
    started = time.perf_counter()
    page.goto(base + "/")
    page.get_by_role("button", name="Sign in").wait_for()
    interactive = (time.perf_counter() - started) * 1000
    size = sum(len(request.response().body()) for request in fetched if request.response())  # type: ignore[union-attr]
    return FirstLoad(len(fetched), size / 1024, interactive)


def _api_calls(page: Page, action: Any) -> int:
    calls: Counter[str] = Counter()

    def count(request: Request) -> None:
        if any(part in request.url for part in API):
            calls[request.url] += 1

    page.on("request", count)
    action()
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
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page()
        loaded = _first_load(page, base)
        page.get_by_role("textbox", name="Username").fill("bea")
        pages = {"Refunds (sign-in)": _api_calls(page, lambda: page.get_by_role("button", name="Sign in").click())}
        page.get_by_role("table", name="Your orders").wait_for()

        def send() -> None:
            page.get_by_role("button", name="Request a refund").click()
            page.get_by_role("textbox", name="Reason").fill("It drops.")
            page.get_by_role("textbox", name="Support ticket").fill("T-1")
            page.get_by_role("button", name="Send request").click()
            page.get_by_role("list", name="Policy checks").wait_for()

        pages["request form → request"] = _api_calls(page, send)
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("textbox", name="Username").fill("sue")
        page.get_by_role("checkbox", name="Supervisor").check()
        pages["service levels (sign-in)"] = _api_calls(page, lambda: page.get_by_role("button", name="Sign in").click())
        pages["review queue"] = _api_calls(page, lambda: page.get_by_role("link", name="Review queue").click())
        browser.close()
    return loaded, pages
