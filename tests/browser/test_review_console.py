"""The reviewers' console and the supervisors' service levels: the queue and its filters, the facts, a
decision with an internal note the customer never sees, the chart and the decisions export."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import UTC, datetime

import pytest
from e2e_support import Server
from playwright.sync_api import Page, expect
from web_support import off_the_screen, screenshot, sign_in

from refund_local.events import claims_for
from refund_local.tokens import make_token

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_a_reviewer_finds_a_request_in_the_queue_and_approves_it(page: Page, server: Server) -> None:
    filed = server.submit("gus", "GUS-40", "T-gus").json()
    assert filed["status"] == "PENDING"
    sign_in(page, server, "rosa", "Reviewer")
    page.get_by_role("link", name="Review queue").click()
    expect(page.get_by_role("combobox", name="Status")).to_have_value("PENDING")
    expect(page.get_by_role("checkbox", name="Overdue only")).not_to_be_checked()
    row = page.get_by_role("table", name="Requests").get_by_role("row").filter(has_text=filed["requestId"])
    expect(row).to_contain_text("gus")
    expect(row).to_contain_text("Partial refund")
    expect(row.get_by_role("cell").last).to_have_text("10")

    page.get_by_role("checkbox", name="Overdue only").check()
    expect(
        page.get_by_role("table", name="Requests").get_by_role("row").filter(has_text=filed["requestId"])
    ).to_have_count(0)
    page.get_by_role("checkbox", name="Overdue only").uncheck()

    page.get_by_role("table", name="Requests").get_by_role("link", name=filed["requestId"]).click()
    facts = page.get_by_role("region", name="Facts")
    expect(facts).to_contain_text("GUS-40")
    # The records' codes in words, and the facts read before the decision's buttons.
    expect(facts).to_contain_text("T-gus · technical problem · support cannot fix it")
    expect(facts).not_to_contain_text("cannot_fix")
    expect(facts).to_contain_text("HKT")
    facts_then_approve = page.evaluate(
        "() => Boolean(document.querySelector('.facts').compareDocumentPosition("
        "[...document.querySelectorAll('button')].find((b) => b.textContent === 'Approve')) & 4)"
    )
    assert facts_then_approve
    page.get_by_role("button", name="Approve").click()
    amount = page.get_by_role("textbox", name="Refund amount")
    expect(amount).to_have_value(filed["assessment"]["suggestedAmount"]["amount"])
    amount.fill("50")  # less than suggested: the reviewer's call
    page.get_by_role("textbox", name="Note to the customer").fill("Half, for the outages we confirmed.")
    page.get_by_role("textbox", name="Internal note").fill("Checked with the network team: outages confirmed.")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status").filter(has_text="Approved")).to_contain_text("partial refund of US$50.00")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    # The customer, in their Control Panel: the decision and the note, no internal note, no reviewer's name.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, "gus")
    page.goto(f"{server.base}/#/requests/{filed['requestId']}")
    decision = page.get_by_role("status").filter(has_text="Approved")
    expect(decision).to_contain_text("US$50.00")
    expect(decision).to_contain_text("Half, for the outages we confirmed.")
    expect(page.get_by_role("main")).not_to_contain_text("network team")
    expect(page.get_by_role("main")).not_to_contain_text("rosa")
    expect(page.get_by_role("region", name="Facts")).to_have_count(0)
    # Their history in their words: no policy version, no hand-off to billing, no staff emails.
    history = page.get_by_role("list").filter(has_text="We received your request")
    expect(history).to_contain_text("Decided: Approved")
    expect(history.get_by_role("listitem").first).not_to_contain_text("by you")
    expect(page.get_by_role("main")).not_to_contain_text("policy version")
    expect(page.get_by_role("main")).not_to_contain_text("passed to billing")
    expect(page.get_by_role("main")).to_contain_text("Checked against our Refund Policy on")


def test_a_refusal_without_a_note_is_refused_beside_the_note(page: Page, server: Server) -> None:
    filed = server.submit("hal", "HAL-40", "T-hal").json()
    sign_in(page, server, "rosa", "Reviewer")
    page.goto(f"{server.base}/#/requests/{filed['requestId']}")
    page.get_by_role("button", name="Refuse").click()
    page.get_by_role("button", name="Confirm").click()
    note = page.get_by_role("textbox", name="Note to the customer")
    expect(note).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"#{note.get_attribute('aria-describedby')}")).to_have_text("Please fill this in.")
    assert server.read(filed["requestId"]).json()["status"] == "PENDING"


def test_re_assess_records_a_new_assessment(page: Page, server: Server) -> None:
    filed = server.submit("ida", "IDA-40", "T-ida").json()
    sign_in(page, server, "rosa", "Reviewer")
    page.goto(f"{server.base}/#/requests/{filed['requestId']}")
    page.get_by_role("button", name="Re-assess").click()
    by_rosa = page.get_by_role("list").filter(has_text="Assessed").get_by_role("listitem").filter(has_text="by rosa")
    expect(by_rosa.filter(has_text="Assessed")).to_have_count(1)
    # Under the version in force when the request was received, as the history says.
    expect(by_rosa.filter(has_text="Under the policy in force at receipt")).to_have_count(1)


def test_customers_see_no_queue_and_reviewers_no_service_levels(page: Page, server: Server) -> None:
    sign_in(page, server, "joe")
    expect(page.get_by_role("link", name="Review queue")).to_have_count(0)
    page.goto(f"{server.base}/#/queue")
    expect(page.get_by_role("heading", name="Refunds")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, "rosa", "Reviewer")
    expect(page.get_by_role("link", name="Service levels")).to_have_count(0)


def test_a_supervisor_reads_the_service_levels_and_downloads_the_decisions(page: Page, server: Server) -> None:
    decided = server.submit("kim", "KIM-5", "T-kim").json()
    assert decided["status"] == "APPROVED"
    server.submit("lea", "LEA-40", "T-lea")
    sign_in(page, server, "sid", "Supervisor")
    page.get_by_role("link", name="Service levels").click()
    chart = page.get_by_role("img", name="Open requests by working days left")
    expect(chart).to_be_visible()
    expect(page.get_by_text("Open requests", exact=True)).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download decisions (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    (row,) = [row for row in rows if row["requestId"] == decided["requestId"]]
    assert (row["status"], row["refundType"], row["amount"], row["currency"], row["decidedBy"]) == (
        "APPROVED", "FULL", decided["decision"]["amount"]["amount"], "USD", "auto"
    )  # fmt: skip
    assert re.fullmatch(r"decisions-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv", download.value.suggested_filename)
    # A period the API refuses is said once, in words, beside the field it is about.
    page.get_by_label("From", exact=True).fill("2026-12-05")
    page.get_by_label("To", exact=True).fill("2026-12-01")
    page.get_by_role("button", name="Show").click()
    start = page.get_by_label("From", exact=True)
    expect(start).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"#{start.get_attribute('aria-describedby')}")).to_have_text(
        "The first day must not be after the last."
    )
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_role("button", name="Try again")).to_have_count(0)
    # A supervisor may do all that a reviewer may.
    page.get_by_role("link", name="Review queue").click()
    expect(page.get_by_role("table", name="Requests")).to_be_visible()


def test_a_supervisor_exports_a_long_period_and_downloads_the_file_when_it_is_ready(page: Page, server: Server) -> None:
    decided = server.submit("kit", "KIT-5", "T-kit").json()
    assert decided["status"] == "APPROVED"
    sign_in(page, server, "sid", "Supervisor")
    page.get_by_role("link", name="Service levels").click()
    page.get_by_label("From", exact=True).fill("2026-01-01")
    page.get_by_label("To", exact=True).fill("2026-12-31")
    page.get_by_role("button", name="Export decisions").click()
    # Prepared in the background (a job on the exports' queue), the list read again until it is done.
    exports = page.get_by_role("table", name="Exports of the last 7 days")
    row = exports.get_by_role("row").filter(has_text="sid").first
    expect(row.get_by_text("Ready:")).to_be_visible(timeout=20_000)
    screenshot(page, "service-levels-export")
    with page.expect_download() as download:
        row.get_by_role("button", name=re.compile(r"^Download the decisions from ")).click()
    assert download.value.suggested_filename == "decisions-2026-01-01-2026-12-31.csv"
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    (kit,) = [line for line in rows if line["requestId"] == decided["requestId"]]
    assert (kit["status"], kit["username"], kit["decidedBy"]) == ("APPROVED", "kit", "auto")
    # A period the API refuses is said beside its field, and nothing is exported.
    listed = exports.get_by_role("row").count()
    page.get_by_label("To", exact=True).fill("2025-12-01")
    page.get_by_role("button", name="Export decisions").click()
    expect(page.get_by_label("From", exact=True)).to_have_attribute("aria-invalid", "true")
    page.reload()  # the list as the API has it now
    expect(exports.get_by_role("row")).to_have_count(listed)


# The page's first read of the exports answers 3 s late (as behind a worker's cold start): the answer it got
# before the export was asked for arrives after the one read since.
FIRST_EXPORTS_READ_LATE = """
const original = window.fetch;
let first = true;
window.fetch = async (input, init) => {
  const answer = await original(input, init);
  const url = String(input.url ?? input);
  if (first && url.includes("/reports/decisions-exports") && (init?.method ?? "GET").toUpperCase() === "GET") {
    first = false;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    document.documentElement.dataset.lateAnswer = "given";
  }
  return answer;
};
"""


def test_an_export_asked_for_while_the_list_loads_stays_listed(page: Page, server: Server) -> None:
    page.add_init_script(FIRST_EXPORTS_READ_LATE)
    sign_in(page, server, "tia", "Supervisor")
    page.get_by_role("link", name="Service levels").click()
    page.get_by_role("button", name="Export decisions").click()
    exports = page.get_by_role("table", name="Exports of the last 7 days")
    expect(exports.get_by_role("row").filter(has_text="tia")).to_have_count(1)
    # Once the late answer is in, it must not have taken the export off the list.
    expect(page.locator("html[data-late-answer=given]")).to_have_count(1)
    expect(exports.get_by_role("row").filter(has_text="tia").get_by_text("Ready:")).to_be_visible(timeout=20_000)


def test_two_reviewers_see_who_holds_a_request_and_the_second_decides_only_explicitly(
    page: Page, server: Server
) -> None:
    filed = server.submit("nia", "NIA-40", "T-nia").json()
    sign_in(page, server, "rosa", "Reviewer")
    page.goto(f"{server.base}/#/requests/{filed['requestId']}")
    expect(page.get_by_text("Nobody is reviewing this request yet.")).to_be_visible()
    page.get_by_role("button", name="Take").click()
    expect(page.get_by_text("You are reviewing this request")).to_be_visible()
    page.get_by_role("link", name="Review queue").click()
    page.get_by_role("checkbox", name="Mine").check()
    mine = page.get_by_role("table", name="Requests").get_by_role("row").filter(has_text=filed["requestId"])
    expect(mine).to_contain_text("rosa")
    expect(page.get_by_role("table", name="Requests").get_by_role("row")).to_have_count(2)  # header and hers

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, "remy", "Reviewer")
    page.goto(f"{server.base}/#/requests/{filed['requestId']}")
    expect(page.get_by_text("Being reviewed by rosa")).to_be_visible()
    page.get_by_role("button", name="Refuse").click()
    expect(page.get_by_text("rosa is reviewing this request.")).to_be_visible()
    expect(page.get_by_role("button", name="Decide instead of rosa")).to_be_visible()
    expect(page.get_by_role("button", name="Confirm")).to_have_count(0)
    page.get_by_role("button", name="Take over").click()
    expect(page.get_by_text("You are reviewing this request")).to_be_visible()
    expect(page.get_by_role("list").filter(has_text="Taken over from rosa")).to_be_visible()
    assert server.read(filed["requestId"]).json()["heldBy"] == "remy"


def test_a_reviewer_narrows_sorts_and_counts_the_queue_and_opens_a_request_by_reference(
    page: Page, server: Server
) -> None:
    older = server.submit("oto", "OTO-40", "T-oto").json()["requestId"]
    newer = server.submit("pax", "PAX-40", "T-pax").json()["requestId"]
    sign_in(page, server, "rhys", "Reviewer")
    page.get_by_role("link", name="Review queue").click()
    counts = page.get_by_role("list", name="Open requests")
    expect(counts).to_contain_text("Nobody reviewing")
    expect(counts).to_contain_text("Yours")
    table = page.get_by_role("table", name="Requests")
    expect(table.get_by_role("row").filter(has_text=newer)).to_be_visible()

    page.get_by_role("textbox", name="Customer's username").fill("oto")
    page.get_by_role("button", name="Search").click()
    expect(table.get_by_role("row")).to_have_count(2)  # the header and oto's
    expect(table.get_by_role("row").nth(1)).to_contain_text(older)
    page.get_by_role("textbox", name="Customer's username").fill("")
    page.get_by_role("textbox", name="Order").fill("PAX-40")
    page.get_by_role("button", name="Search").click()
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table.get_by_role("row").nth(1)).to_contain_text(newer)
    page.get_by_role("textbox", name="Order").fill("")

    # A day the API refuses is said beside its field, and the table stays as it was.
    received_from = page.get_by_label("Received from")
    received_from.fill("1999-12-31")
    page.get_by_role("button", name="Search").click()
    expect(received_from).to_have_attribute("aria-invalid", "true")
    expect(table.get_by_role("row")).to_have_count(2)
    received_from.fill("")
    page.get_by_role("button", name="Search").click()
    expect(received_from).not_to_have_attribute("aria-invalid", "true")

    sort = page.get_by_role("combobox", name="Sort the requests shown")
    sort.select_option(label="Received, newest first")
    expect(table.get_by_role("row").nth(1)).to_contain_text(newer)
    sort.select_option(label="Received, oldest first")
    expect(table.get_by_role("row").nth(1)).not_to_contain_text(newer)
    screenshot(page, "queue-narrowed-sorted")

    page.get_by_role("button", name="Open request").click()
    reference = page.get_by_role("textbox", name="Request reference")
    expect(reference).to_have_attribute("aria-invalid", "true")
    reference.fill(older)
    page.get_by_role("button", name="Open request").click()
    expect(page.get_by_role("heading", name=f"Refund request {older}")).to_be_visible()

    page.get_by_role("link", name="Review queue").click()
    page.get_by_role("combobox", name="Language").select_option(label="繁體中文")
    expect(page.get_by_role("list", name="處理中的申請")).to_contain_text("無人審核")
    expect(page.get_by_role("button", name="搜尋")).to_be_visible()
    page.set_viewport_size({"width": 360, "height": 800})
    assert off_the_screen(page) == []
    screenshot(page, "zh-queue-360")


def test_an_approval_above_the_policys_amount_waits_for_a_second_reviewer(page: Page, server: Server) -> None:
    owner = {"Authorization": f"Bearer {make_token(claims_for('opal', policy_owner=True))}"}
    in_force = server.call("GET", "/policy", headers=owner).json()["inForce"]["document"]
    version = "2026-12-31.7"
    document = in_force | {"version": version, "secondApprovalAbove": {"HKD": "100.00"}}
    saved = server.call("PUT", f"/policy/drafts/{version}", headers=owner, json=document)
    assert saved.status_code == 200, saved.text
    published = server.call(
        "POST",
        f"/policy/drafts/{version}/publish",
        headers=owner,
        json={"effectiveFrom": datetime.now(UTC).isoformat()},
    )
    assert published.status_code == 200, published.text
    # Published now, it takes effect once every function has read it (PolicyCacheSeconds): wait for that moment.
    effective = datetime.fromisoformat(published.json()["effectiveFrom"])
    time.sleep(max(0.0, (effective - datetime.now(UTC)).total_seconds()) + 0.2)
    filed = server.submit("ulf", "ULF-40", "T-ulf").json()
    assert filed["assessment"]["policyVersion"] == version

    sign_in(page, server, "rosa", "Reviewer")
    page.goto(f"{server.base}/#/requests/{filed['requestId']}")
    page.get_by_role("button", name="Approve").click()
    page.get_by_role("textbox", name="Refund amount").fill("400")
    page.get_by_role("button", name="Confirm").click()
    waiting = page.get_by_role("region", name="Awaiting second approval")
    expect(waiting).to_contain_text("rosa approved a refund of HK$400.00")
    expect(waiting).to_contain_text("You approved it: another reviewer must confirm it.")
    expect(waiting.get_by_role("button", name="Confirm approval")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="Being reviewed")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, "remy", "Reviewer")
    page.goto(f"{server.base}/#/requests/{filed['requestId']}")
    page.get_by_role("combobox", name="Language").select_option(label="繁體中文")
    waiting = page.get_by_role("region", name="等待第二位審核人批准")
    expect(waiting).to_contain_text("須由另一位審核人確認")
    screenshot(page, "zh-second-approval")
    waiting.get_by_role("button", name="確認批准").click()
    expect(page.get_by_role("status").filter(has_text="已批准")).to_be_visible()
    decision = server.read(filed["requestId"]).json()["decision"]
    assert (decision["amount"]["amount"], decision["decidedBy"], decision["confirmedBy"]) == ("400.00", "rosa", "remy")


def test_a_filter_changed_while_the_queue_is_loading_is_not_lost(page: Page, server: Server) -> None:
    server.submit("vik", "VIK-40", "T-vik")
    filed = server.submit("wes", "WES-40", "T-wes").json()
    rory = {"Authorization": f"Bearer {make_token(claims_for('rory', reviewer=True))}"}
    taken = server.call(
        "POST", f"/refund-requests/{filed['requestId']}/evaluate", headers=rory, json={"action": "take"}
    )
    assert taken.status_code == 200, taken.text
    # Every search of the queue answers 1.5 s late: "Mine" is ticked while the first one is still loading.
    page.add_init_script("""
      const original = window.fetch;
      window.fetch = async (...args) => {
        if (String(args[0]).includes("/refund-requests?")) await new Promise((done) => setTimeout(done, 1500));
        return original(...args);
      };""")
    sign_in(page, server, "rory", "Reviewer")
    page.get_by_role("link", name="Review queue").click()
    page.get_by_role("checkbox", name="Mine").check()
    rows = page.get_by_role("table", name="Requests").get_by_role("row")
    expect(rows).to_have_count(2, timeout=15_000)  # the header and rory's
    expect(rows.nth(1)).to_contain_text(filed["requestId"])


def test_a_supervisor_keeps_canned_replies_and_a_reviewer_starts_a_note_from_one(page: Page, server: Server) -> None:
    sign_in(page, server, "sage", "Supervisor")
    page.get_by_role("link", name="Service levels").click()
    library = page.get_by_role("region", name="Canned replies")
    library.get_by_role("button", name="Save reply").click()  # nothing filled in: each field says so
    expect(library.get_by_role("textbox", name="Title")).to_have_attribute("aria-invalid", "true")
    library.get_by_role("textbox", name="Title").fill("Outage confirmed")
    library.get_by_role("textbox", name="Text in English").fill("We confirmed the outages you reported.")
    library.get_by_role("textbox", name="Text in Chinese").fill("我們已確認您報告的服務中斷。")
    library.get_by_role("button", name="Save reply").click()
    # The list reloads as it says so ("Loading…", a status too): the saved message is the one that names the reply.
    expect(library.get_by_role("status").filter(has_text="Saved: Outage confirmed")).to_be_visible()
    row = library.get_by_role("table", name="Replies kept").get_by_role("row").filter(has_text="Outage confirmed")
    expect(row).to_contain_text("In use")
    library.get_by_role("textbox", name="Title").fill("Old wording")
    library.get_by_role("textbox", name="Text in English").fill("Old.")
    library.get_by_role("textbox", name="Text in Chinese").fill("舊。")
    library.get_by_role("button", name="Save reply").click()
    old = library.get_by_role("table", name="Replies kept").get_by_role("row").filter(has_text="Old wording")
    old.get_by_role("button", name="Retire").click()
    expect(old).to_contain_text("Retired")
    screenshot(page, "canned-replies")

    filed = server.submit("xia", "XIA-40", "T-xia").json()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, "rosa", "Reviewer")
    page.goto(f"{server.base}/#/requests/{filed['requestId']}")
    page.get_by_role("button", name="Approve").click()
    canned = page.get_by_role("combobox", name="Start from a canned reply")
    expect(canned.get_by_role("option", name="Outage confirmed (中文)")).to_have_count(1)
    expect(canned.get_by_role("option", name="Old wording (English)")).to_have_count(0)  # retired
    canned.select_option(label="Outage confirmed (中文)")
    note = page.get_by_role("textbox", name="Note to the customer")
    expect(note).to_have_value("我們已確認您報告的服務中斷。")
    note.fill("我們已確認您報告的服務中斷，並退還部分費用。")  # edited before sending
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status").filter(has_text="Approved")).to_be_visible()
    assert server.read(filed["requestId"]).json()["decision"]["note"] == "我們已確認您報告的服務中斷，並退還部分費用。"
