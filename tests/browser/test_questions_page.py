"""Reviewers ask, customers answer, in the web app: the reviewer's "Ask the customer", the customer's "Waiting for
you" with the deadline that still holds and their answer, a file attached (and one whose bytes are HTML though
named .png, refused), the queue's "Customer answered" marker, and the reviewer downloading the file; each state in
both languages, at a phone's 360 px and a desktop's 1280 px, axe clean and on the screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import Server
from playwright.sync_api import Browser, Page, expect
from test_accessibility import serious_violations
from web_support import off_the_screen, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

WORDS = {
    "English": {
        "language": "Language",
        "username": "Username",
        "sign in": "Sign in",
        "sign out": "Sign out",
        "reviewer": "Reviewer",
        "queue": "Review queue",
        "ask": "Ask the customer",
        "question": "Question to the customer",
        "send question": "Send question",
        "waiting for answer": "Waiting for the answer",
        "waiting for you": "Waiting for you",
        "deadline runs": "do not pause while we wait for your answer",
        "your answer": "Your answer",
        "send answer": "Send answer",
        "you answered": "You answered:",
        "answered marker": "Customer answered",
        "customer answered": "The customer answered on",
        "table": "Requests",
        "files": "Files",
        "file": "File to attach",
        "attach": "Attach file",
        "download": "Download",
        "not of its type": "not what its type says",
    },
    "繁體中文": {
        "language": "語言",
        "username": "用戶名稱",
        "sign in": "登入",
        "sign out": "登出",
        "reviewer": "審核員",
        "queue": "待審核申請",
        "ask": "向客戶查詢",
        "question": "向客戶提出的問題",
        "send question": "傳送問題",
        "waiting for answer": "正等待回覆",
        "waiting for you": "等待您的回覆",
        "deadline runs": "不會暫停計算",
        "your answer": "您的回覆",
        "send answer": "傳送回覆",
        "you answered": "您回覆：",
        "answered marker": "客戶已回覆",
        "customer answered": "客戶已於",
        "table": "申請",
        "files": "檔案",
        "file": "要附加的檔案",
        "attach": "附加檔案",
        "download": "下載",
        "not of its type": "與其類型不符",
    },
}


def checked(page: Page, name: str) -> list[str]:
    screenshot(page, name)
    return serious_violations(page) + [f"off the screen: {element}" for element in off_the_screen(page)]


# The customer and the reviewer of each language and width.
PEOPLE = {("English", 1280): ("ava", "rae"), ("繁體中文", 360): ("ivo", "roy"), ("English", 360): ("ena", "ned"),
          ("繁體中文", 1280): ("oda", "ole")}  # fmt: skip


@pytest.mark.parametrize(("language", "width"), list(PEOPLE))
def test_a_reviewer_asks_and_the_customer_answers_on_the_page_with_a_file(
    browser: Browser, server: Server, language: str, width: int, tmp_path: Path
) -> None:
    words = WORDS[language]
    customer, reviewer = PEOPLE[(language, width)]
    filed = server.submit(customer, f"{customer.upper()}-40", f"T-{customer}").json()
    assert filed["status"] == "PENDING", filed
    context = browser.new_context(viewport={"width": width, "height": 800}, locale="en-GB")
    page = context.new_page()
    problems: dict[str, list[str]] = {}

    def sign_in(username: str, *groups: str) -> None:
        page.goto(server.base + "/")
        page.locator("main form").wait_for()
        chooser = page.locator("#language")
        if chooser.locator("option:checked").inner_text() != language:  # the choice is kept from one sign-in on
            chooser.select_option(label=language)
        page.get_by_role("textbox", name=words["username"]).fill(username)
        for group in groups:
            page.get_by_role("checkbox", name=group).check()
        page.get_by_role("button", name=words["sign in"]).click()
        expect(page.get_by_role("button", name=words["sign out"])).to_be_visible()

    try:
        sign_in(reviewer, words["reviewer"])
        page.goto(f"{server.base}/#/requests/{filed['requestId']}")
        page.get_by_role("button", name=words["ask"]).click()
        question = page.get_by_role("textbox", name=words["question"])
        expect(question).to_be_focused()
        problems["ask-form"] = checked(page, f"{width}-{customer}-question-ask")
        question.fill("Which city were you connecting from?")
        page.get_by_role("button", name=words["send question"]).click()
        expect(page.get_by_text(words["waiting for answer"])).to_contain_text("Which city were you connecting from?")

        page.get_by_role("button", name=words["sign out"]).click()
        sign_in(customer)
        page.goto(f"{server.base}/#/requests/{filed['requestId']}")
        waiting = page.get_by_role("region", name=words["waiting for you"])
        expect(waiting).to_contain_text("Which city were you connecting from?")
        expect(waiting).to_contain_text(words["deadline runs"])
        problems["customer-question"] = checked(page, f"{width}-{customer}-question-waiting")
        waiting.get_by_role("button", name=words["send answer"]).click()  # empty: said beside the field
        answer = waiting.get_by_role("textbox", name=words["your answer"])
        expect(answer).to_have_attribute("aria-invalid", "true")
        answer.fill("Kowloon, every evening.")
        waiting.get_by_role("button", name=words["send answer"]).click()
        expect(page.get_by_role("region", name=words["waiting for you"])).to_have_count(0)
        expect(page.get_by_role("listitem").filter(has_text=words["you answered"])).to_contain_text(
            "Kowloon, every evening."
        )

        files = page.get_by_role("region", name=words["files"])
        disguised = tmp_path / "screenshot.png"
        disguised.write_bytes(b"<!DOCTYPE html><html><script>alert(1)</script></html>")
        files.get_by_label(words["file"]).set_input_files(str(disguised))
        files.get_by_role("button", name=words["attach"]).click()
        expect(files.get_by_label(words["file"])).to_have_attribute("aria-invalid", "true")
        expect(files).to_contain_text(words["not of its type"])
        problems["file-refused"] = checked(page, f"{width}-{customer}-evidence-refused")
        real = tmp_path / "路由器 error.png"
        real.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
        files.get_by_label(words["file"]).set_input_files(str(real))
        files.get_by_role("button", name=words["attach"]).click()
        expect(page.get_by_role("region", name=words["files"]).get_by_role("listitem")).to_contain_text(
            "路由器 error.png"
        )
        problems["file-attached"] = checked(page, f"{width}-{customer}-evidence-attached")

        page.get_by_role("button", name=words["sign out"]).click()
        sign_in(reviewer, words["reviewer"])
        page.get_by_role("link", name=words["queue"]).click()
        row = page.get_by_role("table", name=words["table"]).get_by_role("row").filter(has_text=filed["requestId"])
        expect(row).to_contain_text(words["answered marker"])
        problems["queue-answered"] = checked(page, f"{width}-{customer}-question-queue")
        row.get_by_role("link", name=filed["requestId"]).click()
        expect(page.get_by_text(words["customer answered"])).to_be_visible()
        with page.expect_download() as downloading:
            page.get_by_role("region", name=words["files"]).get_by_role("button", name=words["download"]).click()
        download = downloading.value
        assert download.suggested_filename == "路由器 error.png"
        assert Path(download.path()).read_bytes() == real.read_bytes()
    finally:
        context.close()
    assert {name: found for name, found in problems.items() if found} == {}
