"""A draft is tried on sample claims before it may be saved or published (refund_core.policy.trial): a document
the service cannot apply is refused with the setting named, and any document the validation accepts applies
to every sample claim (hypothesis over the settings' whole accepted ranges)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from refund_core.policy import calendar, trial
from refund_core.policy.document import Policy, parse_policy, shipped_policy
from refund_core.policy.models import Outcome
from refund_core.policy.rules import assess

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def shipped() -> dict[str, Any]:
    text = resources.files("refund_core.policy").joinpath("policy_documents/refund-policy.json").read_text("utf-8")
    return dict(json.loads(text))


def test_the_shipped_policy_applies_to_every_sample_claim() -> None:
    assert trial.problems(shipped_policy(), shipped_policy(), NOW) == []


def test_the_samples_reach_every_outcome_and_every_rule_result() -> None:
    policy = shipped_policy()
    assessments = [assess(facts, policy, facts.received_at) for facts in trial.sample_claims(policy, NOW)]
    assert {assessment.outcome for assessment in assessments} == set(Outcome)
    results = {(rule.id, rule.result) for assessment in assessments for rule in assessment.rules}
    assert {result for _, result in results} == {"pass", "fail", "unknown"}
    for rule in {rule_id for rule_id, _ in results}:
        assert {(rule, "pass"), (rule, "fail")} <= results or {(rule, "pass"), (rule, "unknown")} <= results


def test_a_setting_the_code_cannot_run_is_named() -> None:
    """Categories outside what the validation knows (a document stored by an older release, say) are caught by
    trying them, and the setting at fault is named, not the ones merely changed beside it."""
    broken = shipped_policy().model_copy(
        update={"holiday_categories": ("public", "bank"), "claim_window_days": 45, "version": "2027-01-01.1"}
    )
    ((setting, why),) = trial.problems(broken, shipped_policy(), NOW)
    assert setting == "holidayCategories" and "bank" in why


def test_what_fails_only_in_the_emails_is_caught_too(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = shipped_policy().model_copy(update={"refund_paths": {"default": "back", "card": "{broken}"}})

    def path_that_fails(channel: str | None, policy: Policy, language: str = "en") -> str:
        if policy.refund_paths.get(channel or "") == "{broken}":
            raise KeyError("broken")
        return "back"

    monkeypatch.setattr("refund_core.policy.emails.money_path", path_that_fails)
    ((setting, why),) = trial.problems(policy, shipped_policy(), NOW)
    assert setting == "refundPaths" and "KeyError" in why


def test_a_calendar_that_fails_on_a_day_the_samples_reach_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = calendar.ReviewCalendar.working_day_after

    def fails_with_many_days(self: calendar.ReviewCalendar, day: Any, count: int) -> Any:
        if count > 20:
            raise OverflowError("date value out of range")
        return original(self, day, count)

    monkeypatch.setattr(calendar.ReviewCalendar, "working_day_after", fails_with_many_days)
    longer = shipped_policy().model_copy(update={"review_working_days": 25})
    assert [setting for setting, _ in trial.problems(longer, shipped_policy(), NOW)] == ["reviewWorkingDays"]


# ---- every document the validation accepts applies --------------------------------------------------------------

CHANNELS = st.sampled_from(["card", "paypal", "crypto", "apple_itunes"])
CURRENCIES = st.sampled_from(["USD", "HKD", "EUR", "GBP", "JPY", "BHD", "KWD", "CLP"])
WORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30).filter(
    str.strip
)


@st.composite
def accepted_documents(draw: st.DrawFn) -> dict[str, Any]:
    excluded = draw(st.sets(CHANNELS, max_size=2))
    review_days = draw(st.integers(1, 200))
    prices: dict[str, str] = {}
    for currency in draw(st.sets(CURRENCIES, max_size=4)):
        places = 0 if currency in ("JPY", "CLP") else 3 if currency in ("BHD", "KWD") else 2
        price = draw(st.decimals(min_value=0, max_value=10**6, places=places, allow_nan=False, allow_infinity=False))
        prices[currency] = str(price)
    return shipped() | {
        "version": "trial",
        "claimWindowDays": draw(st.integers(0, 3660)),
        "trafficLimitBytes": draw(st.integers(1, 10**18)),
        "bytesPerGb": draw(st.integers(1, 10**12)),
        "newOrderKinds": sorted(draw(st.sets(st.sampled_from(["new", "renewal", "upgrade", "trial"]), max_size=3))),
        "maxConnections": draw(st.integers(0, 10**6)),
        "violationBlockReasons": sorted(draw(st.sets(st.sampled_from(["terms_violation", "fraud", "abuse"])))),
        "excludedPaymentChannels": sorted(excluded),
        "excludedChannelReasons": {channel: draw(WORDS) for channel in excluded},
        "cancelledClaimsCount": draw(st.booleans()),
        "excessTrafficPricePerGb": prices,
        "chargeElapsedTime": draw(st.booleans()),
        "automaticDecisions": {"fullRefund": draw(st.booleans()), "refused": draw(st.booleans())},
        "reviewWorkingDays": review_days,
        "reminderWorkingDaysBeforeDeadline": draw(st.integers(0, review_days - 1)),
        "holidayCategories": draw(st.sampled_from([["public"], ["optional"], ["public", "optional"]])),
        "refundPaths": {"default": draw(WORDS)} | {channel: draw(WORDS) for channel in draw(st.sets(CHANNELS))},
        "timeZone": draw(st.sampled_from(["Asia/Hong_Kong", "UTC", "Pacific/Kiritimati", "Etc/GMT+12"])),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=accepted_documents(), now=st.datetimes(datetime(2000, 1, 1), datetime(2999, 1, 1), timezones=st.just(UTC))
)
def test_any_draft_the_validation_accepts_applies_to_every_sample_claim(
    document: dict[str, Any], now: datetime
) -> None:
    try:
        policy = parse_policy(json.dumps(document))
    except ValidationError:
        return  # refused at the door: a 400 naming the setting, never stored
    assert trial.problems(policy, shipped_policy(), now) == []
