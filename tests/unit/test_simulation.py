"""The what-if simulation (policy.simulation) and which published version is in force (policy.document): pure,
table-driven at the boundaries, and properties over generated claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import claim_changes

from refund_core.policy.document import FIRST_EFFECTIVE_FROM, Policy, PublishedPolicy, in_force, shipped_policy
from refund_core.policy.models import AssessedFacts, ClaimFacts, EarlierClaim, Outcome, RefundRequest, RequestStatus
from refund_core.policy.money import Money
from refund_core.policy.rules import assess
from refund_core.policy.simulation import MAX_CHANGES_LISTED, Tally, claim_facts

HK = ZoneInfo("Asia/Hong_Kong")
FORTNIGHT = shipped_policy().model_copy(update={"claim_window_days": 14, "version": "fortnight"})


def recorded(claim: Any, request_id: str = "rr_1", **changes: Any) -> tuple[RefundRequest, AssessedFacts]:
    """A request as the service records it: assessed under the shipped policy, with the facts it read."""
    facts = claim.facts(**changes)
    assessment = assess(facts, shipped_policy(), facts.received_at)
    request = RefundRequest(
        request_id=request_id,
        order_id=facts.order.order_id,
        username="alice",
        reason="It drops.",
        support_ticket_id=facts.support_ticket_id,
        status=RequestStatus.PENDING,
        received_at=facts.received_at,
        deadline=facts.received_at + timedelta(days=14),
        reminder_at=facts.received_at + timedelta(days=10),
        assessment=assessment,
        amount_paid=facts.order.amount_paid,
    )
    return request, AssessedFacts.of(facts)


def ordered_days_before(days: int) -> dict[str, datetime]:
    received = datetime(2026, 11, 20, 10, tzinfo=HK)
    return {"received_at": received, "ordered_at": received - timedelta(days=days)}


def test_the_facts_rebuilt_from_the_record_are_the_facts_assessed(claim: Any) -> None:
    earlier = EarlierClaim(
        request_id="rr_0", order_id="O-0", status=RequestStatus.APPROVED, received_at=datetime(2026, 1, 5, tzinfo=HK)
    )
    facts = claim.facts(earlier_claims=(earlier,))
    request, stored = recorded(claim, earlier_claims=(earlier,))
    rebuilt = claim_facts(request, stored)
    assert rebuilt is not None
    assert (
        assess(rebuilt, shipped_policy(), facts.received_at).rules
        == assess(facts, shipped_policy(), facts.received_at).rules
    )
    assert rebuilt.earlier_claims == (earlier,)


@pytest.mark.parametrize(
    ("age_days", "was", "would"),
    [
        (14, Outcome.FULL_REFUND, Outcome.FULL_REFUND),  # day 14 is inside a 14-day window
        (15, Outcome.FULL_REFUND, Outcome.PARTIAL_REFUND),
        (30, Outcome.FULL_REFUND, Outcome.PARTIAL_REFUND),
        (31, Outcome.PARTIAL_REFUND, Outcome.PARTIAL_REFUND),
    ],
)
def test_a_fortnight_window_at_its_boundaries(claim: Any, age_days: int, was: Outcome, would: Outcome) -> None:
    tally = Tally()
    tally.add(*recorded(claim, **ordered_days_before(age_days)), FORTNIGHT)
    assert (tally.by_outcome().was[was], tally.by_outcome().would[would]) == (1, 1)
    # Day 31: partial under both, and the elapsed-time charge counts every day since the order under both.
    assert tally.changed_count == int(was is not would)


def test_the_money_difference_is_summed_by_currency(claim: Any) -> None:
    tally = Tally()
    tally.add(*recorded(claim, "rr_1", amount="100.00", currency="USD", **ordered_days_before(20)), FORTNIGHT)
    tally.add(*recorded(claim, "rr_2", amount="800.00", currency="HKD", **ordered_days_before(5)), FORTNIGHT)
    tally.add(*recorded(claim, "rr_3", amount="50.00", currency="USD", **ordered_days_before(3)), FORTNIGHT)
    refunded = tally.refunded()
    # 100 − 100 × 20 / 365 = 94.52 (rounded down); the others stay full.
    assert refunded.was == (Money.of("800.00", "HKD"), Money.of("150.00", "USD"))
    assert refunded.would == (Money.of("800.00", "HKD"), Money.of("144.52", "USD"))
    assert [change.request_id for change in tally.changed] == ["rr_1"]


def test_refusals_and_reviews_refund_nothing(claim: Any) -> None:
    tally = Tally()
    tally.add(*recorded(claim, "rr_1", channel="apple_itunes"), FORTNIGHT)
    tally.add(*recorded(claim, "rr_2", traffic=None, usage=None), FORTNIGHT)
    assert tally.refunded().was == tally.refunded().would == ()
    assert tally.by_outcome().was[Outcome.REFUSED] == 1


def test_a_request_recorded_without_its_facts_is_counted_not_replayed(claim: Any) -> None:
    request, _ = recorded(claim)
    tally = Tally()
    tally.add(request, None, FORTNIGHT)
    assert (tally.requests, tally.not_replayed, sum(tally.by_outcome().was.values())) == (1, 1, 0)


def test_every_change_is_counted_and_the_first_thousand_listed(claim: Any) -> None:
    request, facts = recorded(claim, **ordered_days_before(20))
    tally = Tally()
    for index in range(MAX_CHANGES_LISTED + 5):
        tally.add(request.model_copy(update={"request_id": f"rr_{index}"}), facts, FORTNIGHT)
    assert tally.changed_count == MAX_CHANGES_LISTED + 5
    assert len(tally.changed) == MAX_CHANGES_LISTED
    assert tally.changed[0].request_id == "rr_0"


@settings(max_examples=150, deadline=None)
@given(changes=claim_changes(refusals=True))
def test_the_policy_a_request_was_assessed_under_changes_nothing(claim: Any, changes: dict[str, Any]) -> None:
    tally = Tally()
    tally.add(*recorded(claim, **changes), shipped_policy())
    assert tally.changed_count == 0
    assert tally.by_outcome().was == tally.by_outcome().would
    assert tally.refunded().was == tally.refunded().would


@settings(max_examples=150, deadline=None)
@given(changes=claim_changes(refusals=True), shorter=st.integers(0, 29))
def test_a_shorter_window_never_refunds_more(claim: Any, changes: dict[str, Any], shorter: int) -> None:
    tally = Tally()
    tally.add(*recorded(claim, **changes), shipped_policy().model_copy(update={"claim_window_days": shorter}))
    refunded = tally.refunded()
    was, would = refunded.was, refunded.would
    assert all(after.amount <= before.amount for before, after in zip(was, would, strict=True))


@settings(max_examples=60, deadline=None)
@given(
    claims=st.lists(claim_changes(refusals=True), min_size=1, max_size=6),
    amounts=st.lists(st.sampled_from(["100.00", "59.99", "0.01"]), min_size=6, max_size=6),
    kept_after=st.integers(0, 6),
)
def test_a_tally_kept_as_json_and_read_back_goes_on_as_one_never_kept(
    claim: Any, claims: list[dict[str, Any]], amounts: list[str], kept_after: int
) -> None:
    """A simulation's job keeps its tally between invocations: stopping anywhere changes nothing of the result."""
    requests = [
        recorded(claim, f"rr_{index}", **changes | {"amount": amounts[index]}) for index, changes in enumerate(claims)
    ]
    straight, first = Tally(), Tally()
    for request, facts in requests:
        straight.add(request, facts, FORTNIGHT)
    for request, facts in requests[:kept_after]:
        first.add(request, facts, FORTNIGHT)
    resumed = Tally.model_validate_json(first.model_dump_json(by_alias=True))
    for request, facts in requests[kept_after:]:
        resumed.add(request, facts, FORTNIGHT)
    assert resumed == straight
    assert (resumed.by_outcome(), resumed.refunded()) == (straight.by_outcome(), straight.refunded())


# ---- the version in force ----------------------------------------------------------------------------------


def version(name: str, effective_from: datetime, published_at: datetime | None = None) -> PublishedPolicy:
    document: Policy = shipped_policy().model_copy(update={"version": name})
    return PublishedPolicy(
        version=name,
        effective_from=effective_from,
        published_by="olive",
        published_at=published_at or effective_from - timedelta(days=1),
        document=document,
    )


JANUARY = datetime(2027, 1, 1, tzinfo=UTC)
VERSIONS = [
    PublishedPolicy.first(shipped_policy()),
    version("jan", JANUARY),
    version("feb", JANUARY + timedelta(days=31)),
]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (FIRST_EFFECTIVE_FROM, shipped_policy().version),
        (JANUARY - timedelta(milliseconds=1), shipped_policy().version),
        (JANUARY, "jan"),
        (JANUARY + timedelta(days=31) - timedelta(milliseconds=1), "jan"),
        (JANUARY + timedelta(days=31), "feb"),
        (datetime(2099, 1, 1, tzinfo=UTC), "feb"),
    ],
)
def test_the_version_in_force_at_each_boundary(at: datetime, expected: str) -> None:
    found = in_force(VERSIONS, at)
    assert found is not None and found.version == expected


def test_of_two_taking_effect_at_once_the_one_published_last_is_in_force() -> None:
    first, second = (
        version("a", JANUARY, JANUARY - timedelta(days=2)),
        version("b", JANUARY, JANUARY - timedelta(days=1)),
    )
    assert in_force([second, first], JANUARY).version == "b"  # type: ignore[union-attr]


def test_before_any_version_nothing_is_in_force() -> None:
    assert in_force([version("jan", JANUARY)], JANUARY - timedelta(seconds=1)) is None


def test_claim_facts_need_an_order(claim: Any) -> None:
    request, facts = recorded(claim)
    assert claim_facts(request, facts.model_copy(update={"order": None})) is None
    assert isinstance(claim_facts(request, facts), ClaimFacts)


def test_a_request_withdrawn_before_its_decision_is_counted_but_not_weighed(claim: Any) -> None:
    """A cancelled claim asked for nothing in the end: its outcome and money are in neither column."""
    tally = Tally()
    request, facts = recorded(claim, **ordered_days_before(20))
    tally.add(request.model_copy(update={"status": RequestStatus.CANCELLED}), facts, FORTNIGHT)
    tally.add(*recorded(claim, "rr_2", **ordered_days_before(20)), FORTNIGHT)
    assert (tally.requests, tally.cancelled, tally.changed_count) == (2, 1, 1)
    assert sum(tally.by_outcome().was.values()) == sum(tally.by_outcome().would.values()) == 1
