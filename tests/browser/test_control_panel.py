"""The customers' Control Panel: Manage Account → Refunds, a request checked, sent and withdrawn, past requests,
errors in words, a double click that sends once, an API that does not answer, the language chosen and remembered."""

from __future__ import annotations

import json
import re
import time

import pytest
from e2e_support import Server
from playwright.sync_api import Browser, Page, Route, expect
from web_support import off_the_screen, request_refund, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
DECISION_BY = re.compile(r"Decision by (Monday|Tuesday|Wednesday|Thursday|Friday) \d{1,2} [A-Z][a-z]+ \d{4}")


def test_a_customer_requests_a_refund_sees_the_checks_and_cancels_it(page: Page, server: Server) -> None:
    sign_in(page, server, "bea")
    page.get_by_role("link", name="Manage Account").click()
    expect(page.get_by_role("heading", name="Refunds")).to_be_visible()
    orders = page.get_by_role("table", name="Your orders")
    expect(orders.get_by_role("row")).to_have_count(3)  # the header and two orders, newest first
    expect(orders.get_by_role("row").nth(1)).to_contain_text("BEA-5")

    request_refund(page, "BEA-40", "The VPN drops every few minutes.", "T-bea")
    expect(page.get_by_role("heading", name=re.compile(r"^Refund request rr_"))).to_be_visible()
    expect(page.get_by_text("About order BEA-40: US$99.00, paid by card.")).to_be_visible()
    status = page.get_by_role("status").filter(has_text="Being reviewed")
    expect(status).to_contain_text(DECISION_BY)
    checks = page.get_by_role("list", name="Policy checks").get_by_role("listitem")
    expect(checks).to_have_count(10)
    # Filed late, the claim is a partial one: the check says it reduces the refund, not that it refuses it.
    expect(checks.filter(has_text="Reduces the refund")).to_contain_text("40 days after your order")
    expect(page.get_by_text("a reviewer sets at the company's discretion")).to_be_visible()

    page.get_by_role("button", name="Cancel request").click()
    page.get_by_role("dialog").get_by_role("button", name="Keep it").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Being reviewed")).to_be_visible()

    page.get_by_role("button", name="Cancel request").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_role("status").filter(has_text="Cancelled")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel request")).to_have_count(0)

    page.get_by_role("link", name="Manage Account").click()
    row = page.get_by_role("table", name="Your orders").get_by_role("row").filter(has_text="BEA-40")
    expect(row.get_by_role("button", name="Request a refund")).to_be_visible()  # only a cancelled one: again
    request_refund(page, "BEA-40", "It still drops, I would like my money back.", "T-bea")
    expect(page.get_by_role("status").filter(has_text="Being reviewed")).to_be_visible()
    statuses = [
        item["status"]
        for status in ("CANCELLED", "PENDING")
        for item in server.call("GET", f"/refund-requests?status={status}", user="bea").json()["items"]
    ]
    assert statuses == ["CANCELLED", "PENDING"]

    # The cancelled request is still there among the customer's requests, newest first, with what was bought.
    page.get_by_role("link", name="Manage Account").click()
    past = page.get_by_role("table", name="Your requests").get_by_role("row")
    expect(past).to_have_count(3)
    expect(past.nth(1)).to_contain_text("Being reviewed")
    expect(past.nth(2)).to_contain_text("Cancelled")
    for row in (past.nth(1), past.nth(2)):
        expect(row).to_contain_text("BEA-40")
        expect(row).to_contain_text("365-day plan, new order")
        expect(row).to_contain_text("US$99.00")


def test_cancelling_works_from_the_keyboard_alone(page: Page, server: Server) -> None:
    sign_in(page, server, "ben")
    request_refund(page, "BEN-40", "It drops.", "T-ben")
    expect(page.get_by_role("button", name="Cancel request")).to_be_visible()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Cancel request":
            break
    else:
        pytest.fail("Tab never reached the Cancel request button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Keep it")).to_be_focused()  # the safe choice first
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Yes, cancel it")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Cancelled")).to_be_visible()


def test_the_apis_message_is_shown_beside_the_field_it_concerns(page: Page, server: Server) -> None:
    sign_in(page, server, "cat")
    request_refund(page, "CAT-40", "   ", "T-cat")  # white space only: 400 naming reason
    reason = page.get_by_role("textbox", name="Reason")
    expect(reason).to_have_attribute("aria-invalid", "true")
    error = page.locator(f"#{reason.get_attribute('aria-describedby')}")
    expect(error).to_be_visible()
    # In words a customer uses, beside the field; the empty ticket beside its own.
    expect(error).to_have_text("Please write something here: spaces alone are not enough.")
    expect(error).not_to_contain_text("400")
    assert server.call("GET", "/refund-requests", user="cat").json()["items"] == []


def test_errors_are_beside_their_fields_in_chinese_words(page: Page, server: Server) -> None:
    sign_in(page, server, "cat")
    page.get_by_role("combobox", name="Language").select_option(label="繁體中文")
    row = page.get_by_role("table", name="您的訂單").get_by_role("row").filter(has_text="CAT-40")
    row.get_by_role("button", name="申請退款").click()
    page.get_by_role("textbox", name="原因").fill("x" * 2001)
    page.get_by_role("button", name="提交申請").click()
    reason = page.get_by_role("textbox", name="原因")
    expect(reason).to_have_attribute("aria-invalid", "true")
    error = page.locator(f"#{reason.get_attribute('aria-describedby')}")
    expect(error).to_have_text("請將內容縮短至不多於 2000 個字元。")
    ticket = page.get_by_role("textbox", name="支援個案編號")
    expect(page.locator(f"#{ticket.get_attribute('aria-describedby')}")).to_have_text("請填寫此欄。")
    screenshot(page, "request-form-errors-zh")
    for text in page.locator(".error, [role=alert]").all_inner_texts():
        assert not re.search(r"[A-Za-z]{2,}", text), text
    assert server.call("GET", "/refund-requests", user="cat").json()["items"] == []


def test_a_double_click_sends_one_request(page: Page, server: Server) -> None:
    sign_in(page, server, "dan")
    row = page.get_by_role("table", name="Your orders").get_by_role("row").filter(has_text="DAN-40")
    row.get_by_role("button", name="Request a refund").click()
    page.get_by_role("textbox", name="Reason").fill("It drops.")
    page.get_by_role("textbox", name="Support ticket").fill("T-dan")
    page.get_by_role("button", name="Send request").dblclick()
    expect(page.get_by_role("heading", name=re.compile(r"^Refund request rr_"))).to_be_visible()
    assert len(server.call("GET", "/refund-requests", user="dan").json()["items"]) == 1


def test_an_api_that_does_not_answer_shows_a_message_and_a_retry(page: Page, server: Server) -> None:
    def unreachable(route: Route) -> None:
        route.abort("connectionrefused")

    page.route("**/orders*", unreachable)
    sign_in(page, server, "eve")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("did not answer")
    page.unroute("**/orders*")
    alert.get_by_role("button", name="Try again").click()
    expect(page.get_by_role("table", name="Your orders")).to_be_visible()


def test_the_language_choice_changes_every_word_and_is_remembered(page: Page, server: Server) -> None:
    sign_in(page, server, "fay")
    page.get_by_role("link", name="Manage Account").click()
    page.get_by_role("combobox", name="Language").select_option(label="繁體中文")
    expect(page.get_by_role("heading", name="退款")).to_be_visible()
    expect(page.get_by_role("table", name="您的訂單")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "zh-HK"
    page.reload()
    expect(page.get_by_role("combobox", name="語言")).to_have_value("zh-HK")
    request_refund_zh = page.get_by_role("table", name="您的訂單").get_by_role("row").filter(has_text="FAY-40")
    request_refund_zh.get_by_role("button", name="申請退款").click()
    page.get_by_role("textbox", name="原因").fill("經常斷線。")
    page.get_by_role("textbox", name="支援個案").fill("T-fay")
    page.get_by_role("button", name="提交申請").click()
    expect(page.get_by_role("status").filter(has_text="審核中")).to_contain_text(re.compile(r"2026年|20\d\d年"))
    # Every check's reason in Chinese, its date the Chinese way, and once that the English policy prevails.
    checks = page.get_by_role("list", name="政策核對").get_by_role("listitem")
    expect(checks).to_have_count(10)
    failed = checks.filter(has_text="減少退款").filter(has_text="日送達")
    expect(failed).to_contain_text(re.compile(r"訂購日期（\d{4}年\d{1,2}月\d{1,2}日）後 40 日送達"))
    for text in checks.all_inner_texts():
        # Ids, amounts and Apple's own name for its store are as written.
        assert not re.search(r"[A-Za-z]{2,}", re.sub(r"\d+(\.\d+)? GB|T-fay|FAY-\d+|Apple iTunes Store", "", text)), (
            text
        )
    expect(page.get_by_text("(English prevails)")).to_have_count(1)
    screenshot(page, "request-checks-zh")
    page.get_by_role("combobox", name="語言").select_option(label="English")
    expect(page.get_by_role("status").filter(has_text="Being reviewed")).to_contain_text(DECISION_BY)
    expect(checks.filter(has_text="40 days after your order")).to_have_count(0)
    english = page.get_by_role("list", name="Policy checks").get_by_role("listitem")
    expect(english.filter(has_text="Reduces the refund")).to_contain_text(re.compile(r"40 days after your order of \d"))
    expect(page.get_by_text("(English prevails)")).to_have_count(0)


def test_an_expired_session_says_so_and_signs_in_again(page: Page, server: Server) -> None:
    sign_in(page, server, "joe")
    expect(page.get_by_role("table", name="Your orders")).to_be_visible()
    page.route("**/orders*", lambda route: route.fulfill(status=401, json={"message": "Unauthorized"}))
    page.reload()
    expect(page.get_by_role("alert")).to_have_text("Your session has ended. Please sign in again.")
    page.unroute("**/orders*")
    page.get_by_role("textbox", name="Username").fill("joe")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("table", name="Your orders")).to_be_visible()


def test_an_app_store_order_says_apple_refunds_it_and_offers_no_request(page: Page, server: Server) -> None:
    sign_in(page, server, "apu")
    page.get_by_role("link", name="Manage Account").click()
    row = page.get_by_role("table", name="Your orders").get_by_role("row").filter(has_text="APL-5")
    expect(row).to_contain_text("refunded by Apple, not by us")
    expect(row.get_by_role("button")).to_have_count(0)
    page.get_by_role("combobox", name="Language").select_option(label="繁體中文")
    row = page.get_by_role("table", name="您的訂單").get_by_role("row").filter(has_text="APL-5")
    expect(row).to_contain_text("由 Apple 而非本公司退款")
    expect(row.get_by_role("button")).to_have_count(0)
    screenshot(page, "app-store-order-zh")


def test_a_customer_checks_before_sending_and_is_warned_that_it_is_the_one_claim(page: Page, server: Server) -> None:
    """The policy's result on the customer's own facts, and what sending uses up; nothing is recorded."""
    sign_in(page, server, "uma")
    row = page.get_by_role("table", name="Your orders").get_by_role("row").filter(has_text="UMA-5")
    row.get_by_role("button", name="Request a refund").click()
    page.get_by_role("button", name="Check before you send").click()
    ticket = page.get_by_role("textbox", name="Support ticket")
    expect(page.locator(f"#{ticket.get_attribute('aria-describedby')}")).to_have_text("Please fill this in.")

    ticket.fill("T-uma")
    page.get_by_role("button", name="Check before you send").click()
    checked = page.get_by_role("region", name="If you sent it now")
    expect(checked).to_contain_text("Full refund")
    expect(checked).to_contain_text("decided at once, with no reviewer and no time to cancel it")
    expect(checked).to_contain_text("refund or refusal, it is your one claim under the Refund Policy")
    expect(checked.get_by_role("list", name="Policy checks").get_by_role("listitem")).to_have_count(10)
    expect(ticket).not_to_have_attribute("aria-invalid", "true")
    screenshot(page, "request-form-checked")
    assert server.call("GET", "/refund-requests", user="uma").json()["items"] == []

    page.get_by_role("textbox", name="Reason").fill("It drops every few minutes.")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("status").filter(has_text="Approved")).to_be_visible()


def test_the_check_on_a_phone_in_chinese_says_a_reviewer_decides_and_cancelling_frees_the_claim(
    browser: Browser, server: Server
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 800}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, server, "vic")
        page.get_by_role("combobox", name="Language").select_option(label="繁體中文")
        row = page.get_by_role("table", name="您的訂單").get_by_role("row").filter(has_text="VIC-40")
        row.get_by_role("button", name="申請退款").click()  # on the screen: the orders are cards on a phone
        page.get_by_role("textbox", name="支援個案編號").fill("T-vic")
        page.get_by_role("button", name="提交前先核對").click()
        checked = page.get_by_role("region", name="如現在提交")
        expect(checked).to_contain_text("部分退款")
        expect(checked).to_contain_text("申請將由審核員決定；決定前您可以取消。")
        expect(checked).to_contain_text("如在決定前取消，則不計算在內。")
        for warning in checked.locator("p").all_inner_texts()[:3]:
            assert not re.search(r"[A-Za-z]{2,}", warning), warning
        assert off_the_screen(page) == []
        screenshot(page, "360-request-form-checked-zh")
    finally:
        context.close()
    assert server.call("GET", "/refund-requests", user="vic").json()["items"] == []


# What may stay in Latin letters on a Chinese page: ids, money, units, names of things that have no other (the file
# formats too), and the one "(English prevails)" under translated reasons.
NOT_WORDS = re.compile(
    r"\(English prevails\)|rr_\w+|\b[A-Z]{2,}-\d+\b|\bT-\w+|US\$[\d,.]+|\b[GMK]B\b|PayPal|Apple iTunes Store|\bHKT\b"
    r"|\b(PDF|PNG|JPEG)\b"
)


def latin_words(page: Page) -> list[str]:
    """The words in Latin letters the page's main part shows, ids, money and units aside."""
    return re.findall(r"[A-Za-z]{2,}", NOT_WORDS.sub(" ", page.get_by_role("main").inner_text()))


def test_the_whole_customer_flow_in_chinese_shows_no_english_word(page: Page, server: Server) -> None:
    sign_in(page, server, "wen")
    page.get_by_role("combobox", name="Language").select_option(label="繁體中文")
    orders = page.get_by_role("table", name="您的訂單")
    expect(orders.get_by_role("row").filter(has_text="WEN-40")).to_be_visible()
    assert latin_words(page) == []

    orders.get_by_role("row").filter(has_text="WEN-40").get_by_role("button", name="申請退款").click()
    page.get_by_role("button", name="提交申請").click()  # nothing filled in: each field says what it needs
    expect(page.get_by_role("textbox", name="原因")).to_have_attribute("aria-invalid", "true")
    assert latin_words(page) == []
    page.get_by_role("textbox", name="原因").fill("連線經常中斷。")
    page.get_by_role("textbox", name="支援個案編號").fill("T-wen")
    page.get_by_role("button", name="提交前先核對").click()
    expect(page.get_by_role("region", name="如現在提交")).to_contain_text("部分退款")
    assert latin_words(page) == []
    page.get_by_role("button", name="提交申請").click()
    expect(page.get_by_role("status").filter(has_text="審核中")).to_be_visible()
    expect(page.get_by_text("關於訂單 WEN-40：以信用卡支付 US$99.00。")).to_be_visible()
    expect(page.get_by_role("list", name="政策核對").get_by_role("listitem")).to_have_count(10)
    assert latin_words(page) == []
    screenshot(page, "zh-request-pending")

    page.get_by_role("button", name="取消申請").click()
    page.get_by_role("dialog").get_by_role("button", name="是，取消申請").click()
    expect(page.get_by_role("status").filter(has_text="已取消")).to_be_visible()
    assert latin_words(page) == []

    page.get_by_role("link", name="管理帳戶").click()
    page.get_by_role("table", name="您的訂單").get_by_role("row").filter(has_text="WEN-9").get_by_role(
        "button", name="申請退款"
    ).click()
    page.get_by_role("textbox", name="原因").fill("速度太慢。")
    page.get_by_role("textbox", name="支援個案編號").fill("T-wen")
    page.get_by_role("button", name="提交申請").click()
    refused = page.get_by_role("status").filter(has_text="已拒絕")
    expect(refused).to_contain_text("250")
    expect(page.get_by_text("(English prevails)")).to_have_count(1)  # said once on the page
    assert latin_words(page) == []
    screenshot(page, "zh-request-refused")

    page.get_by_role("link", name="管理帳戶").click()
    expect(page.get_by_role("table", name="您的退款申請").get_by_role("row")).to_have_count(3)
    assert latin_words(page) == []


def test_a_customer_downloads_all_kept_about_them_and_a_supervisor_the_same_file(page: Page, server: Server) -> None:
    sign_in(page, server, "ria")
    page.get_by_role("link", name="Manage Account").click()
    page.get_by_role("table", name="Your orders").get_by_role("row").filter(has_text="RIA-40").get_by_role(
        "button", name="Request a refund"
    ).click()
    # Before anything is sent, the form says what is kept, why, for how long, and where to get it.
    expect(page.get_by_text("is used only to decide this request under our Refund Policy")).to_contain_text("(7 years)")
    page.get_by_role("link", name="Back to your orders").click()
    request_refund(page, "RIA-40", "It drops every evening.", "T-ria")
    expect(page.get_by_role("status").filter(has_text="Being reviewed")).to_be_visible()
    # Once the acknowledgement is sent the request stays as it is: both files below are of the same request.
    request_id = page.url.rsplit("/", 1)[1]
    deadline = time.monotonic() + 30
    while "email sent" not in [entry["event"] for entry in server.read(request_id).json()["history"]]:
        assert time.monotonic() < deadline, "the acknowledgement was never sent"
        time.sleep(0.2)

    page.get_by_role("link", name="Manage Account").click()
    section = page.get_by_role("region", name="Your personal data")
    with page.expect_download() as downloading:
        section.get_by_role("button", name="Download my data").click()
    assert downloading.value.suggested_filename == "personal-data-ria.json"
    own = json.loads(downloading.value.path().read_text(encoding="utf-8"))
    assert [request["orderId"] for request in own["refundRequests"]] == ["RIA-40"]
    assert own["refundRequests"][0]["reason"] == "It drops every evening."
    assert sorted(order["orderId"] for order in own["orders"]) == ["RIA-40", "RIA-5"]
    expect(section.get_by_role("status")).to_have_text("Saved as personal-data-ria.json.")
    screenshot(page, "personal-data-customer")

    # A supervisor answers ria's written request with the same file; a name is needed, and said beside its field.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, "sid", "Supervisor")
    page.get_by_role("link", name="Service levels").click()
    theirs = page.get_by_role("region", name="A customer's personal data")
    theirs.get_by_role("button", name="Download their data").click()
    name = theirs.get_by_label("Customer's username")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"#{name.get_attribute('aria-describedby')}")).to_have_text("Please fill this in.")
    name.fill("ria")
    with page.expect_download() as downloading:
        theirs.get_by_role("button", name="Download their data").click()
    answered = json.loads(downloading.value.path().read_text(encoding="utf-8"))
    assert {**answered, "generatedAt": None} == {**own, "generatedAt": None}
    name.fill("nobody-here")
    with page.expect_download():
        theirs.get_by_role("button", name="Download their data").click()
    expect(theirs.get_by_role("status")).to_have_text(
        "We keep nothing about nobody-here. Saved as personal-data-nobody-here.json."
    )
    screenshot(page, "personal-data-supervisor")


def test_the_personal_data_download_speaks_chinese(page: Page, server: Server) -> None:
    sign_in(page, server, "mei")
    page.get_by_role("combobox", name="Language").select_option(label="繁體中文")
    page.get_by_role("link", name="管理帳戶").click()
    section = page.get_by_role("region", name="您的個人資料")
    expect(section).to_contain_text("下載我們所保存有關您的全部資料的副本")
    with page.expect_download() as downloading:
        section.get_by_role("button", name="下載我的資料").click()
    assert json.loads(downloading.value.path().read_text(encoding="utf-8"))["profile"]["language"] == "zh-HK"
    expect(section.get_by_role("status")).to_have_text("已儲存為 personal-data-mei.json。")
    page.set_viewport_size({"width": 360, "height": 800})
    assert off_the_screen(page) == []
    screenshot(page, "zh-personal-data-360")
