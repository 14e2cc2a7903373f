"""The suggested partial amount: amount paid − excess-traffic charge − elapsed-time charge, never below 0,
rounded down to the currency's minor unit once, at the end (POLICY-RULES.md, Outcome)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from refund_core.policy.document import shipped_policy
from refund_core.policy.models import Outcome, PaymentState
from refund_core.policy.money import Money

HK = ZoneInfo("Asia/Hong_Kong")
GB = 1_000_000_000
ORDERED = datetime(2026, 11, 2, 10, tzinfo=HK)


def day(n: int) -> datetime:
    """A request n Hong Kong calendar days after ORDERED (2026-11-02 10:00 HKT)."""
    return datetime.combine(ORDERED.date() + timedelta(days=n), time(15), tzinfo=HK)


def priced(**prices: str) -> Any:
    policy = shipped_policy()
    table = dict(policy.excess_traffic_price_per_gb) | {k: Decimal(v) for k, v in prices.items()}
    return policy.model_copy(update={"excess_traffic_price_per_gb": table})


PARTIAL_CASES = [
    # The worked example: 100.00 USD, 40 days into a 365-day period, no excess traffic:
    # 100 − 100 × 40 / 365 = 89.0410… → 89.04
    pytest.param({"received_at": day(40)}, None, "89.04", id="worked-example-40-days"),
    pytest.param({"received_at": day(30), "kind": "renewal"}, None, "100.00", id="day-30-no-time-charge"),
    pytest.param({"received_at": day(31)}, None, "91.50", id="day-31-time-charge"),  # 91.5068…
    pytest.param({"kind": "renewal"}, None, "100.00", id="renewal-no-charge"),
    # Excess traffic: exact fractions of a GB × the price per GB of the currency (USD 1.00, HKD 8.00, GBP 0.80).
    pytest.param({"traffic": 10 * GB}, None, "100.00", id="exactly-10GB-no-excess"),
    pytest.param({"traffic": 12_500_000_000}, None, "97.50", id="2.5GB-excess"),
    pytest.param({"traffic": 10 * GB + 1}, None, "99.99", id="1-byte-excess-99.999999999"),
    pytest.param({"traffic": 10 * GB + 1_000_000}, None, "99.99", id="x.xx9-rounds-down"),  # 99.999
    pytest.param({"traffic": 10_123_456_789, "amount": "20.00", "currency": "EUR"}, None, "19.87", id="EUR"),
    pytest.param({"traffic": 13 * GB, "amount": "50.00", "currency": "GBP"}, None, "47.60", id="GBP-0.80"),
    pytest.param(  # 800 − 0.333333333 × 8 = 797.333333336
        {"traffic": 10_333_333_333, "amount": "800.00", "currency": "HKD"}, None, "797.33", id="HKD-8.00"
    ),
    # Both charges: 100 − 5 × 1.00 − 100 × 40 / 365 = 84.0410…
    pytest.param({"received_at": day(40), "traffic": 15 * GB}, None, "84.04", id="both-charges"),
    # Rounded once at the end: 100 − 0.005 − 8.4931… = 91.5018… → 91.50 (each charge rounded down alone: 91.51).
    pytest.param({"received_at": day(31), "traffic": 10_005_000_000}, None, "91.50", id="rounded-once-at-end"),
    # Never below 0.
    pytest.param({"traffic": 510 * GB}, None, "0.00", id="traffic-charge-above-paid"),
    pytest.param({"received_at": day(31), "period": 30}, None, "0.00", id="time-charge-above-paid"),
    pytest.param({"received_at": day(400)}, None, "0.00", id="past-the-service-period"),
    pytest.param({"received_at": day(200), "traffic": 200 * GB}, None, "0.00", id="both-above-paid"),
    # Hong Kong days: 23:30 HKT 1 Nov → 00:30 HKT 11 Dec is 40 HK days (39 UTC days would give 89.31).
    pytest.param(
        {
            "ordered_at": datetime(2026, 11, 1, 23, 30, tzinfo=HK),
            "received_at": datetime(2026, 12, 11, 0, 30, tzinfo=HK),
        },
        None,
        "89.04",
        id="hong-kong-days",
    ),
    # 0-decimal currency: 10000 − 10000 × 40 / 365 = 8904.109… → 8904.
    pytest.param({"received_at": day(40), "amount": "10000", "currency": "JPY"}, None, "8904", id="JPY-time"),
    # 10000 − 0.333333333 × 150 = 9950.00000005 → 9950.
    pytest.param(
        {"traffic": 10_333_333_333, "amount": "10000", "currency": "JPY"}, priced(JPY="150"), "9950", id="JPY-traffic"
    ),
    # 3-decimal currency: 10 − 10 × 40 / 365 = 8.904109… → 8.904.
    pytest.param({"received_at": day(40), "amount": "10.000", "currency": "KWD"}, None, "8.904", id="KWD-time"),
    # 10 − 1.234567891 × 0.300 = 9.6296296327 → 9.629.
    pytest.param(
        {"traffic": 11_234_567_891, "amount": "10.000", "currency": "KWD"},
        priced(KWD="0.300"),
        "9.629",
        id="KWD-traffic",
    ),
    # A missing price matters only with excess traffic; a missing service period only with the time charge.
    pytest.param({"traffic": 11 * GB, "amount": "10000", "currency": "JPY"}, None, None, id="no-JPY-price-excess"),
    pytest.param({"traffic": 11 * GB, "amount": "10.000", "currency": "KWD"}, None, None, id="no-KWD-price-excess"),
    pytest.param({"traffic": 10 * GB, "amount": "10000", "currency": "JPY"}, None, "10000", id="no-price-no-excess"),
    pytest.param({"received_at": day(40), "period": None}, None, None, id="no-period-time-charge"),
    pytest.param({"traffic": 12_500_000_000, "period": None}, None, "97.50", id="no-period-no-time-charge"),
    # The elapsed-time charge is a setting.
    pytest.param(
        {"received_at": day(40)},
        shipped_policy().model_copy(update={"charge_elapsed_time": False}),
        "100.00",
        id="time-charge-off",
    ),
]


@pytest.mark.parametrize(("changes", "policy", "expected"), PARTIAL_CASES)
def test_suggested_partial_amount(claim, changes, policy, expected):
    facts = claim.facts(**({"ordered_at": ORDERED} | changes))
    assessment = claim.assess(facts, policy=policy)
    assert assessment.outcome is Outcome.PARTIAL_REFUND
    if expected is None:
        assert assessment.suggested_amount is None
    else:
        currency = facts.order.amount_paid.currency
        assert assessment.suggested_amount == Money(amount=Decimal(expected), currency=currency)
        assert str(assessment.suggested_amount.amount) == expected  # the currency's exponent, exactly


def test_day_helper_counts_hong_kong_days():
    assert (day(40).date() - ORDERED.date()).days == 40


def test_suggested_amount_serialises_with_the_currency_exponent(claim):
    jpy = claim.assess(received_at=day(40), amount="10000", currency="JPY", ordered_at=ORDERED)
    kwd = claim.assess(received_at=day(40), amount="10.000", currency="KWD", ordered_at=ORDERED)
    assert jpy.model_dump(mode="json", by_alias=True)["suggestedAmount"] == {"amount": "8904", "currency": "JPY"}
    assert kwd.model_dump(mode="json", by_alias=True)["suggestedAmount"] == {"amount": "8.904", "currency": "KWD"}


def test_needs_review_still_suggests_an_amount_when_the_facts_allow(claim):
    assessment = claim.assess(received_at=day(40), ticket=None, ordered_at=ORDERED)
    assert assessment.outcome is Outcome.NEEDS_REVIEW
    assert assessment.suggested_amount == Money.of("89.04", "USD")


def test_no_suggestion_without_traffic(claim):
    assessment = claim.assess(received_at=day(40), traffic=None, ordered_at=ORDERED)
    assert assessment.outcome is Outcome.NEEDS_REVIEW
    assert assessment.suggested_amount is None


def test_no_suggestion_for_a_refusal(claim):
    assessment = claim.assess(received_at=day(40), payment_state=PaymentState.REFUNDED, ordered_at=ORDERED)
    assert assessment.outcome is Outcome.REFUSED
    assert assessment.suggested_amount is None
