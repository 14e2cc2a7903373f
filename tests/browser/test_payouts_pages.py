"""The payout on the customer's request page, in words and in their language, and finance's Payouts page:
the payout found by its state and marked paid by hand (PAYOUTS.md "Finance", "The customer")."""

from __future__ import annotations

import json
import re

import pytest
from e2e_support import Server, iso
from playwright.sync_api import Page, expect
from web_support import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def refund_region(page: Page, heading: str, text: re.Pattern[str]) -> None:
    """The request page's refund section shows `text` (the page is read again until it does: the payout moves
    on its own, a second or two after the approval)."""
    for _ in range(30):
        region = page.get_by_role("region", name=heading)
        if region.count() and text.search(region.inner_text()):
            return
        page.wait_for_timeout(500)
        page.reload()
    expect(page.get_by_role("region", name=heading)).to_contain_text(text)


@pytest.mark.parametrize(
    ("username", "order_id", "language", "heading", "sent", "paid"),
    [
        (
            "max",
            "MAX-5",
            "English",
            "Your refund",
            re.compile(r"sent on .*\(reference re_"),
            re.compile("completed on"),
        ),
        ("mei", "MEI-5", "繁體中文", "您的退款", re.compile(r"已於.*發出（參考編號 re_"), re.compile("已於.*完成")),
    ],
)
def test_the_customer_sees_the_refund_sent_and_finance_marks_it_paid(
    page: Page, server: Server, username: str, order_id: str, language: str, heading: str,
    sent: re.Pattern[str], paid: re.Pattern[str],
) -> None:  # fmt: skip
    sign_in(page, server, username)
    if language != "English":
        page.get_by_role("combobox", name=re.compile("Language|語言")).select_option(label=language)
    # The orders as the page shows them in that language (a row of the English page, clicked while the page
    # changes language, would lead to a form the new page then draws again, empty).
    expect(page.locator("html")).to_have_attribute("lang", "en" if language == "English" else "zh-HK")
    row = page.get_by_role("row").filter(has_text=order_id)
    row.get_by_role("button", name=re.compile("Request a refund|申請退款")).click()
    page.locator("main form textarea").fill("It drops.")
    page.locator("main form input[type=text]").fill(f"T-{username}")
    page.locator("main form button[type=submit]").click()
    # The request's page, once the request is made: reading the form's page again before would lose it (a cold
    # start of the function takes longer than refund_region's first wait).
    expect(page).to_have_url(re.compile("#/requests/"))
    refund_region(page, heading, sent)
    request_id = page.url.rsplit("/", 1)[-1]
    screenshot(page, f"payout-sent-{username}")

    page.get_by_role("button", name=re.compile("Sign out|登出")).click()
    sign_in(page, server, f"fin-{username}", "Finance") if language == "English" else None
    if language != "English":
        page.locator("main input[type=text]").fill(f"fin-{username}")
        page.locator("#sign-in-finance").check()
        page.locator("main form button[type=submit]").click()
    page.locator("#payouts-state").select_option("SENT")
    payout_row = page.get_by_role("row").filter(has_text=request_id)
    payout_row.get_by_role("button").first.click()  # Mark paid (標示為已付款)
    page.locator("main form.decision input[name=reference]").fill(f"BANK-{username}")
    screenshot(page, f"payout-mark-paid-{username}")
    page.locator("main form.decision button[type=submit]").click()
    expect(page.locator("main p.notice[role=status]")).to_contain_text(request_id)
    screenshot(page, f"payout-marked-{username}")

    page.goto(server.base + f"/#/requests/{request_id}")
    refund_region(page, heading, paid)
    screenshot(page, f"payout-paid-staff-{username}")


def test_finance_is_offered_nothing_to_do_with_a_refund_billing_is_paying(page: Page, server: Server) -> None:
    """Billing was asked to pay it: until billing answers, finance neither takes it over nor pays it by hand."""
    filed = server.filed("bil", "BIL-5", "T-bil")  # a clear full refund: approved at once
    sign_in(page, server, "fin-bil", "Finance")
    row = page.get_by_role("row").filter(has_text=filed["requestId"])  # the payouts being sent, shown first
    expect(row).to_contain_text("the billing system")
    expect(row.get_by_role("button")).to_have_count(0)
    # Billing answers that it failed: the payout is finance's to take over, send again or pay by hand.
    failed = {"requestId": filed["requestId"], "reason": "The PayPal account is closed.", "failedAt": iso(0)}
    entry = {"Source": "smart-security.billing", "DetailType": "PayoutFailed", "Detail": json.dumps(failed)}
    assert server.session.post(server.base + "/_local/events", json={"Entries": [entry]}, timeout=30).ok
    failed_row = row.filter(has_text="Failed")
    for _ in range(30):  # the records queue applies it a moment later
        page.locator("#payouts-state").select_option("FAILED")
        page.wait_for_timeout(500)
        if failed_row.count():
            break
        page.locator("#payouts-state").select_option("SCHEDULED")
    expect(failed_row.get_by_role("button", name="Hand to finance")).to_be_visible()


def test_sign_in_offers_the_finance_group(page: Page, server: Server) -> None:
    page.goto(server.base + "/")
    expect(page.get_by_role("checkbox", name="Finance")).to_be_visible()
    sign_in(page, server, "fin-nav", "Finance")
    # Exactly the menu's link: once the page has its CSV ready, "Download payouts (CSV)" is a link too.
    expect(page.get_by_role("link", name="Payouts", exact=True)).to_be_visible()
    expect(page.get_by_role("table", name="Payouts")).to_be_visible()
    expect(page.get_by_role("combobox", name="State")).to_be_visible()
