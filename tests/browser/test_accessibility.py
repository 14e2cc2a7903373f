"""Every page in both languages, at a phone's 360 px and a desktop's 1280 px: no serious or critical axe-core
violation and no element off the screen (tables become cards on a phone); and the Content-Security-Policy of
UI.md on what is served."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from e2e_support import Server
from playwright.sync_api import Browser, Page
from web_support import off_the_screen, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
AXE = Axe()
CUSTOMER = {("English", 360): "pia", ("English", 1280): "quin", ("繁體中文", 360): "ray", ("繁體中文", 1280): "sol"}


def serious_violations(page: Page) -> list[str]:
    found = AXE.run(page).response["violations"]
    return [
        f"{item['id']} ({item['impact']}): {[node['target'] for node in item['nodes']]}"
        for item in found
        if item["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("language", ["English", "繁體中文"])
@pytest.mark.parametrize("width", [360, 1280])
def test_every_page_is_accessible_and_fits_the_screen(
    browser: Browser, server: Server, language: str, width: int
) -> None:
    """Found by structure, not by words, so that one walk serves both languages."""
    name = CUSTOMER[(language, width)]
    context = browser.new_context(viewport={"width": width, "height": 800}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    found: dict[str, list[str]] = {}

    def sign_in_again(username: str, group_box: str) -> None:
        """Signs out, then in as staff of one group (the local form's checkbox)."""
        page.locator("#tools button").click()  # sign out
        page.locator("main form").wait_for()
        page.locator("main input[type=text]").fill(username)
        page.locator(group_box).check()
        page.locator("main form button[type=submit]").click()

    def check(page_name: str) -> None:
        found[page_name] = serious_violations(page)
        found[page_name].extend(f"off the screen: {element}" for element in off_the_screen(page))
        screenshot(page, f"{width}-{name}-{page_name}")

    try:
        page.goto(server.base + "/")
        page.locator("#language").select_option(label=language)
        page.locator("main form").wait_for()
        check("sign-in")
        page.locator("main input[type=text]").fill(name)
        page.locator("main form button[type=submit]").click()
        page.locator("main table").first.wait_for()
        page.locator("main .requests :is(table, p:not(.loading))").wait_for()  # the customer's requests
        check("refunds")
        page.locator("main tbody tr", has_text=f"{name.upper()}-40").locator("button").click()
        page.locator("main form textarea").wait_for()
        check("request-form")
        page.locator("main form textarea").fill("It drops.")
        page.locator("main form input[type=text]").fill(f"T-{name}")
        page.locator("main form .actions button[type=button]").click()  # check before you send
        page.locator("main form ul.checks").wait_for()
        check("request-form-checked")
        page.locator("main form button[type=submit]").click()
        # The request's own page (the form's check has a list of checks too: waiting for one is no wait).
        page.locator("main #request-status").wait_for()
        page.locator("main ul.checks").wait_for()
        check("request")
        page.locator("main .actions button").first.click()
        page.locator("dialog[open]").wait_for()
        check("cancel-dialog")
        page.keyboard.press("Escape")

        sign_in_again(f"staff-{name}", "#sign-in-supervisor")
        page.locator("main svg[role=img]").wait_for()
        page.locator("main a[download]").wait_for()
        page.locator("main section.exports > div > button").click()  # a long period's export, listed
        page.locator("main section.exports table").wait_for()
        check("service-levels")
        page.locator("nav a[href='#/queue']").click()
        page.locator("main tbody tr").first.wait_for()
        check("review-queue")
        page.locator("main tbody tr", has_text=name).locator("a").click()
        page.locator("main .facts").wait_for()
        check("request-staff")
        page.locator("main .actions button:not(.secondary)").first.click()  # Approve (Take, Re-assess: secondary)
        page.locator("main form.decision").wait_for()
        check("decision-form")

        sign_in_again(f"owner-{name}", "#sign-in-policyOwner")
        page.locator("main form.settings").wait_for()
        check("policy")
        page.locator("main form.settings input[name=version]").fill(f"a11y-{name}")
        page.locator("main form.settings button[type=submit]").click()
        # The simulation acts on the draft just saved (another customer's may be the latest until then).
        page.locator("main h2", has_text=f"a11y-{name}").first.wait_for()
        page.locator("main form.filters button[type=submit]").click()
        page.locator("main svg[role=img]").wait_for()
        check("policy-simulated")

        sign_in_again(f"fin-{name}", "#sign-in-finance")
        page.locator("main table").wait_for()
        check("payouts")
    finally:
        context.close()
    assert {page_name: problems for page_name, problems in found.items() if problems} == {}
    assert len(found) == 13


def test_what_is_served_carries_the_content_security_policy(server: Server) -> None:
    for path in ("/", "/app/main.js", "/app/styles.css", "/app/i18n/en.json", "/config.json"):
        response = server.session.get(server.base + path, timeout=10)
        assert response.status_code == 200, path
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
    for outside in ("/app/../template.yaml", "/app/%2e%2e/template.yaml", "/web/index.html"):
        assert server.session.get(server.base + outside, timeout=10).status_code == 404, outside
