"""Debian's Chromium as the browser tests and the bench start it: never a downloaded browser, and the flags
without which this closed network floods it with refused background calls."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
