"""From the ten rule results to one outcome: every rule always reported, in order; refusal beats unknowns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from refund_core.policy.models import (
    AccountBlock,
    EarlierClaim,
    Outcome,
    PaymentState,
    RequestStatus,
    RuleId,
    Violation,
)
from refund_core.policy.money import Money
from refund_core.policy.rules import REFUSING_RULES

HK = ZoneInfo("Asia/Hong_Kong")
GB = 1_000_000_000
ALL_RULES = list(RuleId)
PARTIAL_PATH_RULES = {RuleId.WITHIN_30_DAYS, RuleId.TRAFFIC_UNDER_LIMIT, RuleId.NEW_ORDER}

APPROVED_EARLIER = (
    EarlierClaim(
        request_id="R-0", order_id="O-0", status=RequestStatus.APPROVED, received_at=datetime(2026, 1, 5, tzinfo=HK)
    ),
)
BLOCKED = (AccountBlock(reason="terms_violation", starts_at=datetime(2026, 11, 10, tzinfo=HK), ends_at=None),)
VIOLATED = (Violation(kind="terms_of_use", at=datetime(2026, 11, 10, tzinfo=HK)),)
DAY_40 = datetime(2026, 12, 12, 10, tzinfo=HK)  # ordered 2026-11-02

# One change per refusing rule that makes it (and only it) fail.
REFUSING_CHANGES = {
    RuleId.CONNECTIONS_WITHIN_LIMIT: {"connections": 101},
    RuleId.NOT_BLOCKED: {"blocks": BLOCKED},
    RuleId.SUPPORT_CONFIRMED_UNFIXABLE: {"ticket_changes": {"official_response": "fixed"}},
    RuleId.NO_EARLIER_CLAIM: {"earlier_claims": APPROVED_EARLIER},
    RuleId.NOT_APP_STORE: {"channel": "apple_itunes"},
    RuleId.LAWFUL_USE: {"violations": VIOLATED},
    RuleId.PAYMENT_RETURNABLE: {"payment_state": PaymentState.CHARGED_BACK},
}
PARTIAL_CHANGES = {
    RuleId.WITHIN_30_DAYS: {"received_at": DAY_40},
    RuleId.TRAFFIC_UNDER_LIMIT: {"traffic": 12 * GB},
    RuleId.NEW_ORDER: {"kind": "renewal"},
}


def test_every_assessment_reports_every_rule_of_the_spec_in_its_order(claim):
    assert [rule.id for rule in claim.assess().rules] == [
        RuleId.WITHIN_30_DAYS,
        RuleId.TRAFFIC_UNDER_LIMIT,
        RuleId.NEW_ORDER,
        RuleId.CONNECTIONS_WITHIN_LIMIT,
        RuleId.NOT_BLOCKED,
        RuleId.SUPPORT_CONFIRMED_UNFIXABLE,
        RuleId.NO_EARLIER_CLAIM,
        RuleId.NOT_APP_STORE,
        RuleId.LAWFUL_USE,
        RuleId.PAYMENT_RETURNABLE,
    ]
    assert set(REFUSING_RULES) == set(RuleId) - PARTIAL_PATH_RULES


def test_full_refund_when_every_rule_passes(claim, policy):
    assessment = claim.assess()
    assert assessment.outcome is Outcome.FULL_REFUND
    assert [rule.result for rule in assessment.rules] == ["pass"] * 10
    assert assessment.suggested_amount == Money.of("100.00", "USD")
    assert assessment.failed() == ()
    assert assessment.policy_version == policy.version
    assert assessment.assessed_at == claim.now


@pytest.mark.parametrize(("rule_id", "changes"), [pytest.param(k, v, id=k.value) for k, v in PARTIAL_CHANGES.items()])
def test_partial_refund_when_only_a_full_refund_condition_fails(claim, rule_id, changes):
    assessment = claim.assess(**changes)
    assert assessment.outcome is Outcome.PARTIAL_REFUND
    assert [rule.id for rule in assessment.failed()] == [rule_id]
    assert assessment.suggested_amount is not None


@pytest.mark.parametrize(("rule_id", "changes"), [pytest.param(k, v, id=k.value) for k, v in REFUSING_CHANGES.items()])
def test_refused_when_any_refusing_rule_fails(claim, rule_id, changes):
    assessment = claim.assess(**changes)
    assert assessment.outcome is Outcome.REFUSED
    assert [rule.id for rule in assessment.failed()] == [rule_id]
    assert assessment.suggested_amount is None


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"usage": None}, id="usage-unknown"),
        pytest.param({"customer": None}, id="customer-unknown"),
        pytest.param({"ticket": None}, id="ticket-unknown"),
        pytest.param({"payment_state": None}, id="payment-state-unknown"),
    ],
)
def test_needs_review_when_a_fact_is_unknown(claim, changes):
    assert claim.assess(**changes).outcome is Outcome.NEEDS_REVIEW


def test_unknown_beats_a_partial_path_fail(claim):
    assessment = claim.assess(received_at=DAY_40, kind="renewal", customer=None)
    assert assessment.outcome is Outcome.NEEDS_REVIEW
    assert {rule.id for rule in assessment.failed()} == {RuleId.WITHIN_30_DAYS, RuleId.NEW_ORDER}


@pytest.mark.parametrize(("rule_id", "changes"), [pytest.param(k, v, id=k.value) for k, v in REFUSING_CHANGES.items()])
def test_a_refusal_beats_unknowns(claim, rule_id, changes):
    facts = {"ticket": None, "kind": None, "traffic": None, **changes}
    if rule_id is RuleId.SUPPORT_CONFIRMED_UNFIXABLE:  # the failing ticket replaces the unknown one
        facts.update(ticket=claim.facts(ticket_changes=changes["ticket_changes"]).support_ticket)
    assessment = claim.assess(**facts)
    assert any(rule.result == "unknown" for rule in assessment.rules)
    assert assessment.outcome is Outcome.REFUSED
    assert assessment.suggested_amount is None


def test_every_failure_is_reported_together(claim):
    changes: dict = {}
    for rule_changes in [*REFUSING_CHANGES.values(), *PARTIAL_CHANGES.values()]:
        changes.update(rule_changes)
    assessment = claim.assess(**changes)
    assert assessment.outcome is Outcome.REFUSED
    assert [rule.id for rule in assessment.rules] == ALL_RULES
    assert [rule.id for rule in assessment.failed()] == ALL_RULES
    assert len({rule.reason for rule in assessment.failed()}) == 10


SCENARIOS = [
    pytest.param({}, id="full"),
    pytest.param({"kind": "renewal", "traffic": 11 * GB}, id="partial"),
    pytest.param({"connections": 500, "channel": "apple_itunes"}, id="refused"),
    pytest.param({"usage": None, "customer": None, "ticket": None}, id="needs-review"),
    pytest.param({"usage": None, "customer": None, "ticket": None, "kind": None, "channel": None}, id="all-unknown"),
]


@pytest.mark.parametrize("changes", SCENARIOS)
def test_all_ten_rules_are_always_present_in_order(claim, changes):
    assessment = claim.assess(**changes)
    assert [rule.id for rule in assessment.rules] == ALL_RULES
    assert all(rule.reason for rule in assessment.rules)


# Each reason names its clause in the policy's own words, whether it passes, fails or is unknown.
CLAUSE_WORDS = {
    RuleId.WITHIN_30_DAYS: "within 30 days from the date of order",
    RuleId.TRAFFIC_UNDER_LIMIT: "less than 10 GB of bandwidth",
    RuleId.NEW_ORDER: "full refund for the new order",
    RuleId.CONNECTIONS_WITHIN_LIMIT: "does not exceed 100",
    RuleId.NOT_BLOCKED: "temporarily blocked by us in connection with your violation",
    RuleId.SUPPORT_CONFIRMED_UNFIXABLE: "official response on the impossibility of its elimination",
    RuleId.NO_EARLIER_CLAIM: "Previously you did not claim the refund under this Policy",
    RuleId.NOT_APP_STORE: "Apple iTunes Store",
    RuleId.LAWFUL_USE: "Terms of Use",
    RuleId.PAYMENT_RETURNABLE: "in fact and law may be returned",
}


@pytest.mark.parametrize("changes", SCENARIOS)
def test_each_reason_names_its_clause(claim, changes):
    for rule in claim.assess(**changes).rules:
        assert "(Refund Policy: “" in rule.reason
        assert CLAUSE_WORDS[rule.id] in rule.reason, rule.id


@pytest.mark.parametrize(
    ("changes", "rule_id", "words"),
    [
        pytest.param({"received_at": DAY_40}, RuleId.WITHIN_30_DAYS, "30 days", id="30-days"),
        pytest.param({"traffic": 10 * GB}, RuleId.TRAFFIC_UNDER_LIMIT, "10 GB", id="10-GB"),
        pytest.param({"connections": 101}, RuleId.CONNECTIONS_WITHIN_LIMIT, "100 allowed", id="100-connections"),
        pytest.param({"channel": "apple_itunes"}, RuleId.NOT_APP_STORE, "refunded by Apple", id="Apple"),
        pytest.param({"kind": "renewal"}, RuleId.NEW_ORDER, "renewal, not a new order", id="renewal"),
    ],
)
def test_a_failed_reason_says_why_in_the_policys_terms(claim, changes, rule_id, words):
    (failed,) = claim.assess(**changes).failed()
    assert failed.id is rule_id
    assert words in failed.reason


def test_reasons_are_readable_sentences(claim):
    for rule in claim.assess(connections=500, channel="apple_itunes", customer=None).rules:
        assert rule.reason[0].isupper()
        assert rule.reason.endswith("”)")
        assert "None" not in rule.reason


def test_assessment_serialises_in_camel_case(claim):
    wire = claim.assess(kind="renewal").model_dump(mode="json", by_alias=True)
    assert set(wire) == {"outcome", "policyVersion", "rules", "suggestedAmount", "assessedAt"}
    assert wire["outcome"] == "PARTIAL_REFUND"
    assert wire["suggestedAmount"] == {"amount": "100.00", "currency": "USD"}
    assert wire["rules"][0] == {
        "id": "WITHIN_30_DAYS",
        "result": "pass",
        "reason": wire["rules"][0]["reason"],
        "code": "WITHIN_30_DAYS.pass",
        "params": {"days": wire["rules"][0]["params"]["days"], "orderedOn": "2026-11-02", "claimWindowDays": 30},
    }


def test_full_refund_suggests_exactly_the_amount_paid(claim):
    assessment = claim.assess(amount="12345", currency="JPY")
    assert assessment.outcome is Outcome.FULL_REFUND
    assert assessment.suggested_amount == Money(amount=Decimal("12345"), currency="JPY")
