"""The policy owners' page: the settings as a form saved as a draft, a simulation with its chart, the money
difference and the requests that change, and publication from a moment in Hong Kong time."""

from __future__ import annotations

import re

import pytest
from e2e_support import Server
from playwright.sync_api import Page, expect
from web_support import screenshot, sign_in

from refund_local.events import claims_for
from refund_local.tokens import make_token

# One worker runs the browser tests: one web server and one Chromium, not one on each worker.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_a_policy_owner_simulates_a_fortnight_window_and_publishes_it_for_later(page: Page, server: Server) -> None:
    filed = server.submit("pol", "POL-20", "T-pol").json()
    assert (filed["status"], filed["assessment"]["outcome"]) == ("APPROVED", "FULL_REFUND")
    sign_in(page, server, "olive", "Policy owner")
    page.get_by_role("link", name="Policy").click()
    versions = page.get_by_role("table", name="Versions of the policy")
    expect(versions.get_by_role("cell", name="In force", exact=True)).to_have_count(1)

    page.get_by_role("textbox", name="Draft version").fill("2030-01-01.1")
    page.get_by_role("textbox", name="Claim window (days)").fill("14")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft 2030-01-01.1 saved at")).to_be_visible()

    page.get_by_role("button", name="Simulate").click()
    expect(page.get_by_role("img", name="Outcomes before and after")).to_be_visible()
    changed = page.get_by_role("table", name="Requests that would change")
    row = changed.get_by_role("row").filter(has_text=filed["requestId"])
    expect(row).to_contain_text("Full refund")
    expect(row).to_contain_text("Partial refund")
    # 73.00 − 73.00 × 20 / 365 = 69.00 under the draft.
    expect(row).to_contain_text("US$69.00")
    # A shorter window only ever refunds less: said in words, not in an accountant's parentheses.
    usd = page.get_by_role("listitem").filter(has_text="Refunded by the rules (USD)")
    expect(usd).to_contain_text(re.compile(r"US\$[\d,]+\.\d\d → US\$[\d,]+\.\d\d: US\$[\d,]+\.\d\d less$"))
    screenshot(page, "policy-simulated")
    # The simulation ran as a job: listed, and shown again from the list after a reload.
    recent = page.get_by_role("table", name="Simulations of the last 7 days")
    expect(recent.get_by_role("row").filter(has_text="2030-01-01.1")).to_contain_text("Done")
    page.reload()
    page.get_by_role("button", name=re.compile(r"^Show the simulation of draft 2030-01-01\.1")).first.click()
    expect(page.get_by_role("table", name="Requests that would change").get_by_role("row").filter(
        has_text=filed["requestId"])).to_contain_text("US$69.00")  # fmt: skip

    page.get_by_label("Takes effect from").fill("2030-01-01T09:00")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Version 2030-01-01.1 published: in force from")).to_be_visible()
    expect(versions.get_by_role("row").filter(has_text="2030-01-01.1")).to_contain_text("Scheduled")
    audit = page.get_by_role("list", name="Audit trail")
    expect(audit.get_by_role("listitem").first).to_contain_text("Version 2030-01-01.1 published")


def test_publishing_before_a_scheduled_version_is_warned_of_then_done_on_a_second_press(
    page: Page, server: Server
) -> None:
    """A version published now lasts only until one already scheduled takes over: said before anything is
    published. The lists are choices in words, not typed codes."""
    sign_in(page, server, "oona", "Policy owner")
    page.get_by_role("link", name="Policy").click()
    channels = page.get_by_role("group", name="Payment channels we cannot refund")
    expect(channels.get_by_role("checkbox", name="Apple iTunes Store")).to_be_checked()
    expect(channels.get_by_role("checkbox", name="PayPal")).not_to_be_checked()
    kinds = page.get_by_role("group", name="Kinds of order that count as new")
    expect(kinds.get_by_role("checkbox", name="new order")).to_be_checked()
    expect(kinds.get_by_role("checkbox", name="renewal")).not_to_be_checked()

    page.get_by_role("textbox", name="Draft version").fill("2031-06-01.1")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft 2031-06-01.1 saved at")).to_be_visible()
    page.get_by_label("Takes effect from").fill("2031-06-01T09:00")
    page.get_by_role("button", name="Publish").click()
    versions = page.get_by_role("table", name="Versions of the policy")
    expect(versions.get_by_role("row").filter(has_text="2031-06-01.1")).to_contain_text("Scheduled")

    # The same settings as in force, published now: nothing else in the shared server's policy changes.
    page.get_by_role("textbox", name="Draft version").fill("2031-06-01.0-now")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft 2031-06-01.0-now saved at")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    # (The earliest scheduled is named: another test's version may come before this one's.)
    warning = page.get_by_role("alert").filter(has_text=re.compile(r"Version \S+ is already scheduled"))
    expect(warning).to_contain_text("lasts only until then")
    expect(versions.get_by_role("row").filter(has_text="2031-06-01.0-now")).to_have_count(0)
    page.get_by_role("button", name="Publish anyway").click()
    expect(page.get_by_text("Version 2031-06-01.0-now published: in force from")).to_be_visible()


def test_an_invalid_setting_is_named_beside_its_field_and_nothing_is_saved(page: Page, server: Server) -> None:
    sign_in(page, server, "owen", "Policy owner")
    page.get_by_role("link", name="Policy").click()
    page.get_by_role("textbox", name="Draft version").fill("broken-1")
    page.get_by_role("textbox", name="Claim window (days)").fill("-3")
    page.get_by_role("textbox", name="Reminder (working days before the deadline)").fill("12")
    page.get_by_role("button", name="Save draft").click()
    window = page.get_by_role("textbox", name="Claim window (days)")
    expect(window).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("textbox", name="Reminder (working days before the deadline)")).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(window).to_be_focused()
    # Nothing saved: no draft of that name to simulate, no audit entry (other tests' drafts may be there).
    expect(page.get_by_role("heading", name="Simulate draft broken-1")).to_have_count(0)
    expect(page.get_by_role("list", name="Audit trail")).not_to_contain_text("broken-1")


def test_nobody_else_sees_the_policy_page(page: Page, server: Server) -> None:
    sign_in(page, server, "sid2", "Supervisor")
    expect(page.get_by_role("link", name="Policy")).to_have_count(0)
    page.goto(server.base + "/#/policy")
    expect(page.get_by_role("heading", name="Service levels")).to_be_visible()


def test_a_policy_owner_sets_the_amount_above_which_an_approval_needs_a_second_reviewer(
    page: Page, server: Server
) -> None:
    sign_in(page, server, "otis", "Policy owner")
    page.get_by_role("link", name="Policy").click()
    page.get_by_role("textbox", name="Draft version").fill("2031-01-01.1")
    above = page.get_by_role("textbox", name="Second reviewer for approvals above (HKD)")
    expect(above).to_have_value("")  # none yet: one reviewer decides
    above.fill("a lot")
    page.get_by_role("button", name="Save draft").click()
    expect(above).to_have_attribute("aria-invalid", "true")
    above.fill("1000.00")
    page.get_by_role("textbox", name="Years a request's personal data is kept after its decision").fill("8")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft 2031-01-01.1 saved at")).to_be_visible()
    owner = {"Authorization": f"Bearer {make_token(claims_for('otis', policy_owner=True))}"}
    (draft,) = [
        d for d in server.call("GET", "/policy", headers=owner).json()["drafts"] if d["version"] == "2031-01-01.1"
    ]
    assert (draft["document"]["secondApprovalAbove"], draft["document"]["personalDataYears"]) == ({"HKD": "1000.00"}, 8)
