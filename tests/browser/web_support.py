"""What the browser tests do as people do: sign in with the local form, go where the navigation leads."""

from __future__ import annotations

import os
from pathlib import Path

from e2e_support import Server
from playwright.sync_api import Page, expect

SCREENSHOTS = Path(__file__).parent / "screenshots"
# Screenshots are for a person to look at (`make browser` takes them): a test run that nobody looks at (CI) takes
# only a failed test's last page, and saves the second or so of rendering that each full page costs.
TAKE_SCREENSHOTS = os.environ.get("SCREENSHOTS", "") not in ("", "0")


def screenshot(page: Page, name: str, *, failed: bool = False) -> None:
    """The whole page as a PNG in tests/browser/screenshots/, when screenshots are asked for or the test failed."""
    if not (TAKE_SCREENSHOTS or failed):
        return
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, server: Server, username: str, *groups: str) -> None:
    page.goto(server.base + "/")
    page.get_by_role("textbox", name="Username").fill(username)
    for group in groups:
        page.get_by_role("checkbox", name=group).check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def request_refund(page: Page, order_id: str, reason: str, ticket_id: str) -> None:
    row = page.get_by_role("table", name="Your orders").get_by_role("row").filter(has_text=order_id)
    row.get_by_role("button", name="Request a refund").click()
    page.get_by_role("textbox", name="Reason").fill(reason)
    page.get_by_role("textbox", name="Support ticket").fill(ticket_id)
    page.get_by_role("button", name="Send request").click()


# Every element that shows, with its left and right edges on the screen: one inside a frame that scrolls sideways
# (a wide table's) is off the screen too, though the page itself does not scroll.
OFF_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  const off = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    if (box.width < 2 || box.height < 2 || style.visibility === "hidden" || style.clipPath.startsWith("inset(50%")) continue;
    if (element.closest("thead, svg *")) continue;  // a header row hidden on a phone; a chart scales as a whole
    if (box.left < -1 || box.right > width + 1) off.push(`${element.tagName} ${element.textContent.trim().slice(0, 40)}`);
  }
  return off.slice(0, 5);
}"""


def off_the_screen(page: Page) -> list[str]:
    return list(page.evaluate(OFF_SCREEN))
