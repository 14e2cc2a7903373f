"""The service's own words in each language (`email_templates/<language>/phrases.json`): dates written out,
the way the money goes back, why a payout failed. The emails and the letters' replies use them."""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from refund_core.policy.document import Policy
from refund_core.policy.reasons import catalogue


@cache
def phrases(language: str) -> dict[str, Any]:
    text = (
        resources.files("refund_core.policy").joinpath("email_templates", language, "phrases.json").read_text("utf-8")
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def long_date(moment: datetime, zone: ZoneInfo, language: str = "en") -> str:
    """The local calendar date in full, with the year, the language's way: "Friday 11 December 2026",
    "2026年12月11日（星期五）"."""
    return day_words(moment.astimezone(zone).date().isoformat(), language)


def day_words(iso_date: str, language: str = "en") -> str:
    """An ISO calendar date as long_date writes it."""
    local = date.fromisoformat(iso_date)
    words = phrases(language)
    return str(words["longDate"]).format(
        weekday=words["weekdays"][local.weekday()], day=local.day, month=words["months"][local.month - 1],
        year=local.year,
    )  # fmt: skip


def refund_path_words(payment_channel: str | None, policy: Policy, language: str) -> str:
    """The channel's path back, in the catalogue's words where it has them, else the policy's."""
    paths = phrases(language).get("refundPaths", {})
    channel = payment_channel or ""
    path = paths.get(channel) or (paths.get("default") if channel not in policy.refund_paths else None)
    return str(path or policy.refund_path(payment_channel))


def payout_failure_words(reason: str | None, language: str) -> str:
    """Why a payout failed, in words: the processor's codes the catalogue knows, else its own words."""
    known = phrases(language).get("payoutFailureReasons", {})
    return str(known.get(reason or "unknown") or reason)


def money_path(payment_channel: str | None, policy: Policy, language: str = "en") -> str:
    """Where the money goes and how long it usually takes; for a channel the company cannot refund
    (the App Store), who refunds it instead. In English the policy's own words; in Chinese the catalogue's,
    falling back to the policy's where it has none."""
    words = phrases(language)
    channel = payment_channel or ""
    if payment_channel in policy.excluded_payment_channels:
        translated = catalogue(language)["tables"]["excludedChannels"].get(channel)
        if reason := translated or policy.excluded_channel_reasons.get(channel):
            return str(reason)
    return str(words["moneyPath"]).format(path=refund_path_words(payment_channel, policy, language))
