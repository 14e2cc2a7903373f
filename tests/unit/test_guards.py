"""What a reviewer may approve: never a refused claim, never an excluded channel, never more than was paid,
never an amount that is not a positive number of the currency's minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest

from refund_core.errors import InvalidInput, PolicyForbids, RefundError
from refund_core.policy.approval import approved_refund
from refund_core.policy.models import RefundType
from refund_core.policy.money import Money

PAID = Money.of("100.00", "USD")


@pytest.fixture(scope="module")
def partial(claim):
    assessment = claim.assess(kind="renewal")
    assert assessment.outcome == "PARTIAL_REFUND"
    return assessment


def test_refused_claim_cannot_be_approved(claim, policy):
    refused = claim.assess(connections=101, payment_state="disputed")
    with pytest.raises(PolicyForbids) as raised:
        approved_refund(refused, PAID, "card", Decimal("10.00"), policy)
    assert "CONNECTIONS_WITHIN_LIMIT" in raised.value.message
    assert "PAYMENT_RETURNABLE" in raised.value.message
    with pytest.raises(PolicyForbids):
        approved_refund(refused, PAID, "card", None, policy)


@pytest.mark.parametrize("requested", [None, Decimal("1.00")], ids=["omitted", "amount"])
def test_excluded_channel_cannot_be_approved(claim, policy, requested):
    needs_review = claim.assess(channel=None)  # the records did not know the channel; the reviewer's request does
    with pytest.raises(PolicyForbids) as raised:
        approved_refund(needs_review, PAID, "apple_itunes", requested, policy)
    assert "apple_itunes" in raised.value.message


@pytest.mark.parametrize(
    "requested",
    [
        pytest.param("100.01", id="one-cent-more"),
        pytest.param("1000", id="ten-times"),
        pytest.param("1E+30", id="huge"),  # would overflow the decimal precision when quantized
        pytest.param("100.001", id="more-and-too-many-decimals"),
    ],
)
def test_more_than_paid_is_forbidden(partial, policy, requested):
    with pytest.raises(PolicyForbids) as raised:
        approved_refund(partial, PAID, "card", Decimal(requested), policy)
    assert raised.value.field == "amount"
    assert "more than" in raised.value.message


@pytest.mark.parametrize(
    ("requested", "paid"),
    [
        pytest.param("0", PAID, id="zero"),
        pytest.param("0.00", PAID, id="zero-cents"),
        pytest.param("-0", PAID, id="minus-zero"),
        pytest.param("-1.00", PAID, id="negative"),
        pytest.param("NaN", PAID, id="nan"),
        pytest.param("sNaN", PAID, id="signalling-nan"),
        pytest.param("Infinity", PAID, id="infinity"),
        pytest.param("-Infinity", PAID, id="minus-infinity"),
        pytest.param("10.001", PAID, id="three-decimals-usd"),
        pytest.param("0.001", PAID, id="below-minor-unit"),
        pytest.param("1.5", Money.of("10000", "JPY"), id="decimals-jpy"),
        pytest.param("1.0001", Money.of("10.000", "KWD"), id="four-decimals-kwd"),
    ],
)
def test_bad_amount_is_invalid_input(partial, policy, requested, paid):
    with pytest.raises(InvalidInput) as raised:
        approved_refund(partial, paid, "card", Decimal(requested), policy)
    assert raised.value.field == "amount"
    assert isinstance(raised.value, RefundError)


def test_omitted_amount_is_a_full_refund_of_the_amount_paid(partial, policy):
    assert approved_refund(partial, PAID, "card", None, policy) == (RefundType.FULL, PAID)


@pytest.mark.parametrize("requested", ["100.00", "100", "100.000"])
def test_amount_equal_to_paid_is_full(partial, policy, requested):
    refund_type, amount = approved_refund(partial, PAID, "card", Decimal(requested), policy)
    assert refund_type is RefundType.FULL
    assert amount.amount == PAID.amount
    assert amount.currency == "USD"


@pytest.mark.parametrize(
    ("requested", "paid"),
    [
        pytest.param("89.04", PAID, id="usd"),
        pytest.param("0.01", PAID, id="one-cent"),
        pytest.param("99.99", PAID, id="one-cent-less"),
        pytest.param("1", Money.of("10000", "JPY"), id="jpy"),
        pytest.param("8.904", Money.of("10.000", "KWD"), id="kwd"),
    ],
)
def test_less_than_paid_is_partial(partial, policy, requested, paid):
    assert approved_refund(partial, paid, "paypal", Decimal(requested), policy) == (
        RefundType.PARTIAL,
        Money(amount=Decimal(requested), currency=paid.currency),
    )


def test_needs_review_and_full_refund_assessments_can_be_approved(claim, policy):
    for assessment in (claim.assess(ticket=None), claim.assess()):
        assert approved_refund(assessment, PAID, "card", Decimal("50.00"), policy)[0] is RefundType.PARTIAL


def test_unknown_channel_is_not_excluded(partial, policy):
    assert approved_refund(partial, PAID, None, None, policy) == (RefundType.FULL, PAID)
