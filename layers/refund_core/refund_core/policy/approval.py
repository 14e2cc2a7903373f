"""What a reviewer may approve: never more than was paid, never an excluded payment channel, never a claim
the rules refused. Pure functions, like the rules."""

from __future__ import annotations

from decimal import Decimal

from refund_core.errors import InvalidInput, PolicyForbids
from refund_core.policy.document import Policy
from refund_core.policy.models import Assessment, Outcome, RefundType
from refund_core.policy.money import Money, minor_units


def approved_refund(
    assessment: Assessment,
    amount_paid: Money,
    payment_channel: str | None,
    requested: Decimal | None,
    policy: Policy,
) -> tuple[RefundType, Money]:
    """The refund a reviewer's approval grants: the amount paid when none is given."""
    if assessment.outcome is Outcome.REFUSED:
        failed = ", ".join(rule.id for rule in assessment.failed())
        raise PolicyForbids(f"the rules refuse this claim ({failed}); it cannot be approved", code="rules_refuse")
    if payment_channel in policy.excluded_payment_channels:
        raise PolicyForbids(
            f"orders paid through {payment_channel} cannot be refunded by the company",
            code="excluded_channel",
            params={"channel": payment_channel or ""},
        )
    if requested is None:
        return RefundType.FULL, amount_paid.rounded_down()
    if not requested.is_finite() or requested <= 0:
        raise InvalidInput("amount must be a positive decimal", field="amount", code="amount_not_positive")
    amount = Money(amount=requested, currency=amount_paid.currency)
    # Checked before the minor unit: quantizing a huge amount (1E+30) raises decimal.InvalidOperation.
    if requested > amount_paid.amount:
        raise PolicyForbids(
            f"amount {amount} is more than the {amount_paid} paid",
            field="amount",
            code="amount_over_paid",
            params={"paid": str(amount_paid.amount), "currency": amount_paid.currency},
        )
    if not amount.fits_minor_unit():
        places = minor_units(amount_paid.currency)
        raise InvalidInput(
            f"amount has more than {places} decimal places for {amount_paid.currency}",
            field="amount",
            code="amount_too_precise",
            params={"places": places, "currency": amount_paid.currency},
        )
    refund_type = RefundType.FULL if requested == amount_paid.amount else RefundType.PARTIAL
    # Written, stored and emailed with exactly the currency's minor units: "7.5" USD is "7.50", "500.0" JPY "500".
    return refund_type, amount.rounded_down()
