"""Each of the ten rules of POLICY-RULES.md, at and around its boundaries, one table per rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from refund_core.policy.document import shipped_policy
from refund_core.policy.models import (
    AccountBlock,
    EarlierClaim,
    PaymentState,
    RequestStatus,
    RuleId,
    Violation,
)

HK = ZoneInfo("Asia/Hong_Kong")
GB = 1_000_000_000


def hk(*args: int) -> datetime:
    return datetime(*args, tzinfo=HK)


# --- WITHIN_30_DAYS: calendar days between the Hong Kong dates ------------------------------------------

WINDOW_CASES = [
    pytest.param(hk(2026, 11, 1, 10), hk(2026, 11, 1, 11), "pass", 0, id="same-day"),
    pytest.param(hk(2026, 11, 1, 10), hk(2026, 12, 1, 10), "pass", 30, id="day-30"),
    pytest.param(hk(2026, 11, 1, 10), hk(2026, 12, 1, 23, 59, 59), "pass", 30, id="day-30-last-second"),
    pytest.param(hk(2026, 11, 1, 10), hk(2026, 12, 2, 0, 0), "fail", 31, id="day-31-first-second"),
    pytest.param(hk(2026, 11, 1, 10), hk(2026, 12, 2, 10), "fail", 31, id="day-31"),
    # 23:30 HKT on 1 Nov is 15:30 UTC on 1 Nov; 00:30 HKT on 2 Dec is 16:30 UTC on 1 Dec. In UTC dates that is
    # 30 days (would pass); in Hong Kong dates it is 31 days, and Hong Kong dates rule: it fails.
    pytest.param(hk(2026, 11, 1, 23, 30), hk(2026, 12, 2, 0, 30), "fail", 31, id="hk-2330-to-0030-day-31"),
    # 00:30 HKT on 2 Nov is 16:30 UTC on 1 Nov; 23:30 HKT on 2 Dec is 15:30 UTC on 2 Dec: 31 UTC days, 30 HK days.
    pytest.param(hk(2026, 11, 2, 0, 30), hk(2026, 12, 2, 23, 30), "pass", 30, id="hk-0030-to-2330-day-30"),
    # Same instants given in UTC: the offset of the input does not matter, only the Hong Kong date.
    pytest.param(
        datetime(2026, 11, 1, 15, 30, tzinfo=UTC),
        datetime(2026, 12, 1, 16, 30, tzinfo=UTC),
        "fail",
        31,
        id="utc-input-hk-day-31",
    ),
    # One hour apart, but across Hong Kong midnight: one day.
    pytest.param(hk(2026, 11, 1, 23, 30), hk(2026, 11, 2, 0, 30), "pass", 1, id="one-hour-is-one-day"),
]


@pytest.mark.parametrize(("ordered_at", "received_at", "expected", "days"), WINDOW_CASES)
def test_within_30_days_counts_hong_kong_dates(claim, ordered_at, received_at, expected, days):
    result = claim.rule(RuleId.WITHIN_30_DAYS, ordered_at=ordered_at, received_at=received_at)
    assert result.result == expected
    assert f"arrived {days} days after your order" in result.reason
    assert "30 days" in result.reason


def test_within_30_days_reason_gives_the_hong_kong_order_date(claim):
    result = claim.rule(RuleId.WITHIN_30_DAYS, ordered_at=hk(2026, 11, 1, 23, 30), received_at=hk(2026, 11, 5))
    assert "order of 2026-11-01" in result.reason  # UTC would say 2026-11-01 too; 00:30 HKT would not:
    result = claim.rule(RuleId.WITHIN_30_DAYS, ordered_at=hk(2026, 11, 2, 0, 30), received_at=hk(2026, 11, 5))
    assert "order of 2026-11-02" in result.reason


# --- TRAFFIC_UNDER_LIMIT: bytes in + out < 10 GB (decimal) ---------------------------------------------------

TRAFFIC_CASES = [
    pytest.param(0, "pass", id="zero"),
    pytest.param(10 * GB - 1, "pass", id="10GB-minus-1-byte"),
    pytest.param(10 * GB, "fail", id="exactly-10GB"),
    pytest.param(10 * GB + 1, "fail", id="10GB-plus-1-byte"),
    pytest.param(250 * GB, "fail", id="250GB"),
    pytest.param(None, "unknown", id="unknown-traffic"),
]


@pytest.mark.parametrize(("traffic", "expected"), TRAFFIC_CASES)
def test_traffic_under_limit(claim, traffic, expected):
    result = claim.rule(RuleId.TRAFFIC_UNDER_LIMIT, traffic=traffic)
    assert result.result == expected
    assert "10 GB" in result.reason


@pytest.mark.parametrize(
    ("traffic", "says"),
    [
        pytest.param(10 * GB - 1, "You used 9.99 GB, less than 10 GB", id="never-rounds-up-to-the-limit"),
        pytest.param(10 * GB, "You used 10 GB, not less than 10 GB", id="at-limit"),
        pytest.param(12_345_678_901, "You used 12.34 GB, not less than 10 GB", id="two-decimals"),
        pytest.param(0, "You used 0 GB, less than 10 GB", id="zero"),
    ],
)
def test_traffic_reason_states_the_usage_without_contradiction(claim, traffic, says):
    assert claim.rule(RuleId.TRAFFIC_UNDER_LIMIT, traffic=traffic).reason.startswith(says)


def test_traffic_unknown_when_there_is_no_usage_record(claim):
    assert claim.rule(RuleId.TRAFFIC_UNDER_LIMIT, usage=None).result == "unknown"


def test_a_gigabyte_is_decimal_not_binary(claim):
    # 10 GiB is more than 10 GB: it must fail.
    assert claim.rule(RuleId.TRAFFIC_UNDER_LIMIT, traffic=10 * 2**30).result == "fail"
    assert claim.rule(RuleId.TRAFFIC_UNDER_LIMIT, traffic=9_999_999_999).result == "pass"


# --- NEW_ORDER -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param("new", "pass", id="new"),
        pytest.param("renewal", "fail", id="renewal"),
        pytest.param("upgrade", "fail", id="other-kind"),
        pytest.param(None, "unknown", id="unknown-kind"),
    ],
)
def test_new_order(claim, kind, expected):
    result = claim.rule(RuleId.NEW_ORDER, kind=kind)
    assert result.result == expected
    assert "new order" in result.reason


# --- CONNECTIONS_WITHIN_LIMIT: connections <= 100 ----------------------------------------------------------


@pytest.mark.parametrize(
    ("connections", "expected"),
    [
        pytest.param(0, "pass", id="0"),
        pytest.param(99, "pass", id="99"),
        pytest.param(100, "pass", id="100"),
        pytest.param(101, "fail", id="101"),
        pytest.param(10_000, "fail", id="10000"),
        pytest.param(None, "unknown", id="unknown"),
    ],
)
def test_connections_within_limit(claim, connections, expected):
    result = claim.rule(RuleId.CONNECTIONS_WITHIN_LIMIT, connections=connections)
    assert result.result == expected
    assert "100" in result.reason


def test_connections_unknown_when_there_is_no_usage_record(claim):
    assert claim.rule(RuleId.CONNECTIONS_WITHIN_LIMIT, usage=None).result == "unknown"


# --- NOT_BLOCKED: a terms-violation block overlapping [order, request) -------------------------------------

ORDERED = hk(2026, 11, 2, 10)
RECEIVED = hk(2026, 11, 20, 10)


def block(reason: str, starts_at: datetime, ends_at: datetime | None) -> AccountBlock:
    return AccountBlock(reason=reason, starts_at=starts_at, ends_at=ends_at)


BLOCK_CASES = [
    pytest.param((), "pass", id="no-block"),
    pytest.param((block("terms_violation", hk(2026, 10, 1), hk(2026, 10, 5)),), "pass", id="ended-before-order"),
    pytest.param((block("terms_violation", hk(2026, 10, 1), ORDERED),), "pass", id="ended-exactly-at-order"),
    pytest.param(
        (block("terms_violation", hk(2026, 10, 1), ORDERED + timedelta(seconds=1)),),
        "fail",
        id="ended-1s-after-order",
    ),
    pytest.param((block("terms_violation", hk(2026, 10, 30), hk(2026, 11, 5)),), "fail", id="overlaps-order"),
    pytest.param((block("terms_violation", hk(2026, 11, 10), hk(2026, 11, 12)),), "fail", id="during-service"),
    pytest.param((block("terms_violation", hk(2026, 10, 1), None),), "fail", id="open-ended-before-order"),
    pytest.param((block("terms_violation", hk(2026, 11, 10), None),), "fail", id="open-ended-during-service"),
    pytest.param(
        (block("terms_violation", RECEIVED - timedelta(seconds=1), None),), "fail", id="started-1s-before-request"
    ),
    pytest.param((block("terms_violation", RECEIVED, None),), "pass", id="started-at-request"),
    pytest.param((block("terms_violation", hk(2026, 11, 25), None),), "pass", id="started-after-request"),
    pytest.param((block("payment_overdue", hk(2026, 11, 10), None),), "pass", id="non-violation-reason"),
    pytest.param((block("security_check", hk(2026, 10, 30), hk(2026, 11, 5)),), "pass", id="non-violation-overlap"),
    pytest.param(
        (
            block("terms_violation", hk(2026, 10, 1), hk(2026, 10, 5)),
            block("security_check", hk(2026, 11, 3), None),
            block("terms_violation", hk(2026, 11, 25), None),
        ),
        "pass",
        id="several-none-counting",
    ),
    pytest.param(
        (
            block("terms_violation", hk(2026, 10, 1), hk(2026, 10, 5)),
            block("terms_violation", hk(2026, 11, 12), hk(2026, 11, 13)),
        ),
        "fail",
        id="old-one-and-counting-one",
    ),
]


@pytest.mark.parametrize(("blocks", "expected"), BLOCK_CASES)
def test_not_blocked(claim, blocks, expected):
    result = claim.rule(RuleId.NOT_BLOCKED, ordered_at=ORDERED, received_at=RECEIVED, blocks=blocks)
    assert result.result == expected
    assert "temporarily blocked" in result.reason


def test_not_blocked_reason_names_the_first_counting_block_in_hong_kong_date(claim):
    blocks = (
        block("terms_violation", hk(2026, 11, 15), None),
        block("terms_violation", hk(2026, 11, 3, 0, 30), hk(2026, 11, 4)),  # 2 Nov 16:30 UTC
    )
    result = claim.rule(RuleId.NOT_BLOCKED, ordered_at=ORDERED, received_at=RECEIVED, blocks=blocks)
    assert result.result == "fail"
    assert "from 2026-11-03" in result.reason


def test_not_blocked_unknown_without_account_records(claim):
    assert claim.rule(RuleId.NOT_BLOCKED, customer=None).result == "unknown"


# --- SUPPORT_CONFIRMED_UNFIXABLE: the named ticket is the customer's, technical, earlier, cannot_fix --------

TICKET_CASES = [
    pytest.param({}, "pass", None, id="cannot-fix"),
    pytest.param({"username": "mallory"}, "fail", "is not one of your tickets", id="another-customers"),
    pytest.param({"category": "billing"}, "fail", "not about a technical problem", id="not-technical"),
    pytest.param({"opened_at": hk(2026, 11, 21)}, "fail", "opened after your refund request", id="opened-after"),
    pytest.param({"opened_at": RECEIVED}, "fail", "opened after your refund request", id="opened-at-request"),
    pytest.param({"opened_at": RECEIVED - timedelta(seconds=1)}, "pass", None, id="opened-1s-before-request"),
    pytest.param({"official_response": "fixed"}, "fail", "said the problem was fixed", id="fixed"),
    pytest.param({"official_response": None}, "fail", "has not answered yet", id="no-response-yet"),
]


@pytest.mark.parametrize(("changes", "expected", "says"), TICKET_CASES)
def test_support_confirmed_unfixable(claim, changes, expected, says):
    result = claim.rule(RuleId.SUPPORT_CONFIRMED_UNFIXABLE, received_at=RECEIVED, ticket_changes=changes)
    assert result.result == expected
    assert "T-1" in result.reason
    assert "impossibility of its elimination" in result.reason
    if says:
        assert says in result.reason


def test_ticket_id_is_quoted_as_given(claim):
    result = claim.rule(
        RuleId.SUPPORT_CONFIRMED_UNFIXABLE, ticket_id="TKT-AB12", ticket_changes={"category": "billing"}
    )
    assert result.reason.startswith("Support ticket TKT-AB12 is not about a technical problem.")


def test_unknown_ticket_is_unknown_for_a_reviewer(claim):
    result = claim.rule(RuleId.SUPPORT_CONFIRMED_UNFIXABLE, ticket=None, ticket_id="T-404")
    assert result.result == "unknown"
    assert "T-404" in result.reason


def test_every_ticket_problem_is_named(claim):
    changes = {"category": "billing", "opened_at": hk(2026, 11, 21), "official_response": "fixed"}
    result = claim.rule(RuleId.SUPPORT_CONFIRMED_UNFIXABLE, received_at=RECEIVED, ticket_changes=changes)
    assert result.result == "fail"
    for says in ("not about a technical problem", "opened after", "fixed"):
        assert says in result.reason


def test_another_customers_ticket_reveals_nothing_about_it(claim):
    changes = {"username": "mallory", "category": "billing", "official_response": "fixed"}
    result = claim.rule(RuleId.SUPPORT_CONFIRMED_UNFIXABLE, ticket_changes=changes)
    assert result.result == "fail"
    assert "billing" not in result.reason
    assert "technical problem cannot" not in result.reason
    assert "fixed" not in result.reason.split("(Refund Policy")[0]


# --- NO_EARLIER_CLAIM: no earlier request that reached a decision --------------------------------------------


MARCH_1 = hk(2026, 3, 1)


def earlier(status: RequestStatus, received_at: datetime = MARCH_1) -> EarlierClaim:
    return EarlierClaim(request_id=f"R-{status}", order_id="O-0", status=status, received_at=received_at)


EARLIER_CASES = [
    pytest.param((), "pass", id="none"),
    pytest.param((earlier(RequestStatus.CANCELLED),), "pass", id="cancelled"),
    pytest.param((earlier(RequestStatus.PENDING),), "pass", id="pending"),
    pytest.param((earlier(RequestStatus.APPROVED),), "fail", id="approved"),
    pytest.param((earlier(RequestStatus.REFUSED),), "fail", id="refused"),
    pytest.param(
        (earlier(RequestStatus.CANCELLED), earlier(RequestStatus.CANCELLED, hk(2026, 5, 1))), "pass", id="two-cancelled"
    ),
    pytest.param(
        (earlier(RequestStatus.CANCELLED), earlier(RequestStatus.REFUSED)), "fail", id="cancelled-and-refused"
    ),
]


@pytest.mark.parametrize(("claims", "expected"), EARLIER_CASES)
def test_no_earlier_claim(claim, claims, expected):
    result = claim.rule(RuleId.NO_EARLIER_CLAIM, earlier_claims=claims)
    assert result.result == expected
    assert "Previously you did not claim the refund under this Policy" in result.reason


def test_earlier_claim_reason_gives_its_date_and_order(claim):
    claims = (earlier(RequestStatus.APPROVED, hk(2026, 6, 1, 0, 30)), earlier(RequestStatus.REFUSED, hk(2026, 8, 1)))
    result = claim.rule(RuleId.NO_EARLIER_CLAIM, earlier_claims=claims)
    assert "on 2026-06-01 (order O-0)" in result.reason


def test_cancelled_claims_count_when_the_policy_says_so(claim):
    policy = shipped_policy().model_copy(update={"cancelled_claims_count": True})
    claims = (earlier(RequestStatus.CANCELLED),)
    assert claim.rule(RuleId.NO_EARLIER_CLAIM, earlier_claims=claims).result == "pass"
    assert claim.rule(RuleId.NO_EARLIER_CLAIM, policy=policy, earlier_claims=claims).result == "fail"


# --- NOT_APP_STORE -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        pytest.param("card", "pass", id="card"),
        pytest.param("paypal", "pass", id="paypal"),
        pytest.param("crypto", "pass", id="crypto"),
        pytest.param("apple_itunes", "fail", id="apple-itunes"),
        pytest.param(None, "unknown", id="unknown-channel"),
    ],
)
def test_not_app_store(claim, channel, expected):
    result = claim.rule(RuleId.NOT_APP_STORE, channel=channel)
    assert result.result == expected
    assert "Apple iTunes Store" in result.reason


def test_app_store_refusal_tells_the_customer_apple_handles_it(claim):
    reason = claim.rule(RuleId.NOT_APP_STORE, channel="apple_itunes").reason
    assert reason.startswith("Orders paid through the Apple iTunes Store are refunded by Apple")


# --- LAWFUL_USE ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kinds", "expected", "says"),
    [
        pytest.param((), "pass", "no violation", id="none"),
        pytest.param(("hong_kong_law",), "fail", "a breach of the laws of Hong Kong", id="hong-kong-law"),
        pytest.param(("refund_policy",), "fail", "a breach of the Refund Policy", id="refund-policy"),
        pytest.param(("terms_of_use",), "fail", "a breach of the Terms of Use", id="terms-of-use"),
        pytest.param(("user_agreement",), "fail", "a breach of the User Agreement", id="user-agreement"),
        pytest.param(("spam",), "fail", "a violation of our terms", id="unnamed-kind"),
        pytest.param(
            ("terms_of_use", "hong_kong_law", "terms_of_use"),
            "fail",
            "a breach of the Terms of Use and a breach of the laws of Hong Kong",
            id="several",
        ),
    ],
)
def test_lawful_use(claim, kinds, expected, says):
    violations = tuple(Violation(kind=kind, at=hk(2026, 1, 1)) for kind in kinds)
    result = claim.rule(RuleId.LAWFUL_USE, violations=violations)
    assert result.result == expected
    assert says in result.reason
    assert "laws of Hong Kong" in result.reason  # the clause


def test_lawful_use_unknown_without_account_records(claim):
    assert claim.rule(RuleId.LAWFUL_USE, customer=None).result == "unknown"


# --- PAYMENT_RETURNABLE ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected", "says"),
    [
        pytest.param(PaymentState.SETTLED, "pass", "settled", id="settled"),
        pytest.param(PaymentState.REFUNDED, "fail", "already been refunded", id="refunded"),
        pytest.param(PaymentState.CHARGED_BACK, "fail", "charged back", id="charged-back"),
        pytest.param(PaymentState.DISPUTED, "fail", "under dispute", id="disputed"),
        pytest.param(None, "unknown", "do not show the state", id="unknown"),
    ],
)
def test_payment_returnable(claim, state, expected, says):
    result = claim.rule(RuleId.PAYMENT_RETURNABLE, payment_state=state)
    assert result.result == expected
    assert says in result.reason
    assert "in fact and law may be returned" in result.reason


# --- unknown facts ----------------------------------------------------------------------------------------

UNKNOWN_CASES: list[Any] = [
    pytest.param({"usage": None}, {RuleId.TRAFFIC_UNDER_LIMIT, RuleId.CONNECTIONS_WITHIN_LIMIT}, id="usage-none"),
    pytest.param({"customer": None}, {RuleId.NOT_BLOCKED, RuleId.LAWFUL_USE}, id="customer-none"),
    pytest.param({"ticket": None}, {RuleId.SUPPORT_CONFIRMED_UNFIXABLE}, id="ticket-none"),
    pytest.param({"kind": None}, {RuleId.NEW_ORDER}, id="kind-none"),
    pytest.param({"channel": None}, {RuleId.NOT_APP_STORE}, id="channel-none"),
    pytest.param({"payment_state": None}, {RuleId.PAYMENT_RETURNABLE}, id="payment-state-none"),
    pytest.param({"traffic": None}, {RuleId.TRAFFIC_UNDER_LIMIT}, id="traffic-none"),
    pytest.param({"connections": None}, {RuleId.CONNECTIONS_WITHIN_LIMIT}, id="connections-none"),
]


@pytest.mark.parametrize(("changes", "unknown"), UNKNOWN_CASES)
def test_an_unknown_fact_is_unknown_never_assumed(claim, changes, unknown):
    assessment = claim.assess(**changes)
    assert {rule.id for rule in assessment.rules if rule.result == "unknown"} == unknown
    assert all(rule.result == "pass" for rule in assessment.rules if rule.id not in unknown)
    assert assessment.outcome == "NEEDS_REVIEW"
    for rule in assessment.rules:
        if rule.id in unknown:
            assert "a reviewer will check" in rule.reason
