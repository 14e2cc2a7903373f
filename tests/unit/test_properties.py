"""Properties of the rules and the calendar over generated facts (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import event, given, settings
from hypothesis import strategies as st

from refund_core.policy.calendar import ReviewCalendar, review_timeline
from refund_core.policy.document import shipped_policy
from refund_core.policy.models import AccountBlock, EarlierClaim, Outcome, PaymentState, RequestStatus, RuleId
from refund_core.policy.money import minor_units

HK = ZoneInfo("Asia/Hong_Kong")
GB = 1_000_000_000
POLICY = shipped_policy()
CALENDAR = ReviewCalendar(POLICY)
FAST = settings(max_examples=200, deadline=None)

moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2036, 12, 31), timezones=st.sampled_from([HK, UTC])
)
# JPY and KWD have no excess-traffic price in the shipped document.
currencies = st.one_of(st.sampled_from(["USD", "HKD", "EUR", "GBP"]), st.sampled_from(["JPY", "KWD"]))
traffic = st.integers(min_value=0, max_value=300 * GB)


@st.composite
def amounts(draw: st.DrawFn, currency: str) -> Decimal:
    return Decimal(draw(st.integers(min_value=1, max_value=10**7))).scaleb(-minor_units(currency))


@st.composite
def claim_changes(draw: st.DrawFn, *, refusals: bool = False) -> dict[str, Any]:
    """Changes to the default claim: order and request times, money, kind, usage; with `refusals`, also
    refusing and unknown facts."""
    currency = draw(currencies)
    ordered_at = draw(moments)
    changes: dict[str, Any] = {
        "ordered_at": ordered_at,
        "received_at": ordered_at
        + timedelta(days=draw(st.one_of(st.integers(0, 40), st.integers(0, 500))), seconds=draw(st.integers(0, 86399))),
        "currency": currency,
        "amount": draw(amounts(currency)),
        "kind": draw(st.sampled_from(["new", "renewal"])),
        "period": draw(st.integers(min_value=1, max_value=730)) if draw(st.integers(0, 9)) else None,
        "traffic": draw(traffic),
        "connections": draw(st.integers(min_value=0, max_value=100)),
        "ticket_changes": {"opened_at": ordered_at - timedelta(hours=1)},  # always before the request
    }
    if refusals:  # each fact changes in one draw of six, so every outcome is well represented
        perturbations = {
            "kind": st.none(),
            "traffic": st.none(),
            "connections": st.one_of(st.integers(101, 200), st.none()),
            "channel": st.sampled_from(["paypal", "apple_itunes", None]),
            "payment_state": st.sampled_from([*PaymentState, None]),
            "customer": st.none(),
        }
        for key, strategy in perturbations.items():
            if draw(st.integers(0, 5)) == 0:
                changes[key] = draw(strategy)
    return changes


def hk_days(earlier: datetime, later: datetime) -> int:
    return (CALENDAR.local_date(later) - CALENDAR.local_date(earlier)).days


# --- the suggested amount -----------------------------------------------------------------------------------


@FAST
@given(changes=claim_changes(), traffic_a=traffic, traffic_b=traffic)
def test_more_traffic_never_raises_the_suggested_amount(claim, changes, traffic_a, traffic_b):
    less, more = sorted((traffic_a, traffic_b))
    low = claim.assess(**(changes | {"traffic": less})).suggested_amount
    high = claim.assess(**(changes | {"traffic": more})).suggested_amount
    if low is None or high is None:
        event("a suggestion is None")
        return
    assert high.amount <= low.amount


@FAST
@given(changes=claim_changes(), extra_days=st.integers(0, 400), extra_seconds=st.integers(0, 86400))
def test_more_days_never_raise_the_suggested_amount(claim, changes, extra_days, extra_seconds):
    earlier = claim.assess(**changes).suggested_amount
    later_received = changes["received_at"] + timedelta(days=extra_days, seconds=extra_seconds)
    later = claim.assess(**(changes | {"received_at": later_received})).suggested_amount
    if earlier is None or later is None:
        event("a suggestion is None")
        return
    event(f"later request past the window: {hk_days(changes['ordered_at'], later_received) > 30}")
    assert later.amount <= earlier.amount


@FAST
@given(changes=claim_changes(refusals=True))
def test_the_suggested_amount_is_between_0_and_the_amount_paid(claim, changes):
    assessment = claim.assess(**changes)
    assert [rule.id for rule in assessment.rules] == list(RuleId)
    suggested = assessment.suggested_amount
    event(f"{assessment.outcome}, suggestion {'None' if suggested is None else 'given'}")
    if assessment.outcome is Outcome.REFUSED:
        assert suggested is None
        return
    if suggested is None:
        return
    paid = Decimal(changes["amount"])
    assert suggested.currency == changes["currency"]
    assert 0 <= suggested.amount <= paid
    assert suggested.fits_minor_unit()
    if assessment.outcome is Outcome.FULL_REFUND:
        assert suggested.amount == paid


# --- the review calendar ------------------------------------------------------------------------------------


@FAST
@given(received_at=moments)
def test_the_deadline_is_the_end_of_the_10th_working_day_after_receipt(received_at):
    timeline = review_timeline(received_at, POLICY)
    deadline_hk = timeline.deadline.astimezone(HK)
    reminder_hk = timeline.reminder_at.astimezone(HK)
    received_day = CALENDAR.local_date(received_at)
    assert timeline.deadline.utcoffset() == timedelta(0)
    assert CALENDAR.is_working_day(deadline_hk.date())
    assert CALENDAR.is_working_day(reminder_hk.date())
    assert deadline_hk.time() == reminder_hk.time() == time(23, 59, 59, 999000)
    assert received_at < timeline.reminder_at < timeline.deadline
    assert deadline_hk.date() - received_day <= timedelta(days=31)

    def working_days_after_receipt(until: date) -> int:
        days = (until - received_day).days
        return sum(CALENDAR.is_working_day(received_day + timedelta(days=n)) for n in range(1, days + 1))

    assert working_days_after_receipt(deadline_hk.date()) == 10
    assert working_days_after_receipt(reminder_hk.date()) == 8


@FAST
@given(received_at=moments, seconds=st.integers(min_value=1, max_value=10**6))
def test_a_seconds_window_puts_the_reminder_at_four_fifths(received_at, seconds):
    timeline = review_timeline(received_at, POLICY, window_seconds=seconds)
    assert timeline.deadline - received_at == timedelta(seconds=seconds)
    assert abs((timeline.reminder_at - received_at) - timedelta(seconds=0.8 * seconds)) <= timedelta(microseconds=1)
    assert received_at < timeline.reminder_at < timeline.deadline


# --- passing facts vary within their passing range: nothing changes -----------------------------------------

SCENARIOS = [
    {},  # full refund
    {"kind": "renewal"},  # partial: not a new order
    {"channel": "apple_itunes"},  # refused
    {"ticket": None},  # needs review
    {"customer": None, "kind": "renewal"},  # needs review, with a partial-path fail
]


@st.composite
def passing_variations(draw: st.DrawFn) -> dict[str, Any]:
    """Order and request 0 to 30 Hong Kong days apart, traffic below 10 GB, 0 to 100 connections, a ticket
    opened any time before the request, blocks that do not count, earlier claims that do not count."""
    ordered_at = draw(moments)
    days = draw(st.integers(min_value=0, max_value=30))
    received_day = CALENDAR.local_date(ordered_at) + timedelta(days=days)
    received_at = datetime.combine(received_day, time(), tzinfo=HK) + timedelta(
        seconds=draw(st.integers(min_value=0, max_value=86399))
    )
    received_at = max(received_at, ordered_at)
    ticket_opened = received_at - timedelta(seconds=draw(st.integers(min_value=1, max_value=400 * 86400)))
    old_block_end = ordered_at - timedelta(seconds=draw(st.integers(min_value=0, max_value=400 * 86400)))
    blocks = (
        AccountBlock(reason="terms_violation", starts_at=old_block_end - timedelta(days=3), ends_at=old_block_end),
        AccountBlock(reason="terms_violation", starts_at=received_at + timedelta(days=1), ends_at=None),
        AccountBlock(reason="security_check", starts_at=ordered_at, ends_at=None),
    )
    statuses = draw(st.lists(st.sampled_from([RequestStatus.CANCELLED, RequestStatus.PENDING]), max_size=3))
    earlier = tuple(
        EarlierClaim(request_id=f"R-{n}", order_id=f"O-{n}", status=status, received_at=ordered_at - timedelta(days=n))
        for n, status in enumerate(statuses)
    )
    return {
        "ordered_at": ordered_at,
        "received_at": received_at,
        "traffic": draw(st.integers(min_value=0, max_value=10 * GB - 1)),
        "connections": draw(st.integers(min_value=0, max_value=100)),
        "ticket_changes": {"opened_at": ticket_opened},
        "blocks": draw(st.sampled_from([(), blocks])),
        "earlier_claims": earlier,
    }


@FAST
@given(scenario=st.sampled_from(SCENARIOS), variation=passing_variations())
def test_the_outcome_never_changes_within_the_passing_ranges(claim, scenario, variation):
    baseline = claim.assess(**scenario)
    varied = claim.assess(**(variation | scenario))
    assert varied.outcome is baseline.outcome
    assert [rule.result for rule in varied.rules] == [rule.result for rule in baseline.rules]
    assert varied.suggested_amount == baseline.suggested_amount
