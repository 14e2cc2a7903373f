"""The Refund Policy as ten pure rules over the facts of one claim (POLICY-RULES.md).

No I/O and no clock: the moment of assessment is a parameter. Every rule is evaluated every time, and
each result carries a sentence the customer can read that names the clause it applies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, localcontext
from fractions import Fraction
from math import floor

from refund_core.policy.calendar import ReviewCalendar
from refund_core.policy.document import Policy
from refund_core.policy.models import (
    Assessment,
    ClaimFacts,
    Outcome,
    PaymentState,
    RequestStatus,
    RuleId,
    RuleResult,
)
from refund_core.policy.money import Money, minor_units

# A fail of these refuses the claim; a fail of the others only leads to the discretionary partial path.
REFUSING_RULES = frozenset(
    {
        RuleId.CONNECTIONS_WITHIN_LIMIT,
        RuleId.NOT_BLOCKED,
        RuleId.SUPPORT_CONFIRMED_UNFIXABLE,
        RuleId.NO_EARLIER_CLAIM,
        RuleId.NOT_APP_STORE,
        RuleId.LAWFUL_USE,
        RuleId.PAYMENT_RETURNABLE,
    }
)

_VIOLATION_NAMES = {
    "hong_kong_law": "a breach of the laws of Hong Kong",
    "refund_policy": "a breach of the Refund Policy",
    "terms_of_use": "a breach of the Terms of Use",
    "user_agreement": "a breach of the User Agreement",
}

_UNRETURNABLE_PAYMENTS = {
    PaymentState.REFUNDED: "has already been refunded",
    PaymentState.CHARGED_BACK: "was charged back through your bank or card issuer",
    PaymentState.DISPUTED: "is under dispute with your bank or payment provider",
}

_Rule = Callable[[ClaimFacts, Policy, ReviewCalendar], RuleResult]


def _clause(text: str) -> str:
    return f"(Refund Policy: “{text}”)"


def _pass(rule: RuleId, reason: str) -> RuleResult:
    return RuleResult(id=rule, result="pass", reason=reason)


def _fail(rule: RuleId, reason: str) -> RuleResult:
    return RuleResult(id=rule, result="fail", reason=reason)


def _unknown(rule: RuleId, reason: str) -> RuleResult:
    return RuleResult(id=rule, result="unknown", reason=reason)


def _gb(byte_count: int, policy: Policy) -> str:
    with localcontext(rounding=ROUND_DOWN):  # 10 GB − 1 byte is "9.99 GB", not "10 GB, less than 10 GB"
        gigabytes = f"{Decimal(byte_count) / Decimal(policy.bytes_per_gb):.2f}".rstrip("0").rstrip(".")
    return f"{gigabytes} GB"


def days_since_order(facts: ClaimFacts, calendar: ReviewCalendar) -> int:
    """Calendar days from the Hong Kong date of the order to the Hong Kong date the request arrived."""
    return (calendar.local_date(facts.received_at) - calendar.local_date(facts.order.ordered_at)).days


def within_claim_window(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    clause = _clause(
        f"Your request for a refund is filed within {policy.claim_window_days} days from the date of order"
    )
    days = days_since_order(facts, calendar)
    ordered = calendar.local_date(facts.order.ordered_at).isoformat()
    if days <= policy.claim_window_days:
        return _pass(RuleId.WITHIN_30_DAYS, f"Your request arrived {days} days after your order of {ordered}. {clause}")
    return _fail(
        RuleId.WITHIN_30_DAYS,
        (
            f"Your request arrived {days} days after your order of {ordered}, more than the "
            f"{policy.claim_window_days} days for a full refund; a partial refund is at our discretion. {clause}"
        ),
    )


def traffic_under_limit(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    limit = _gb(policy.traffic_limit_bytes, policy)
    clause = _clause(f"You have used less than {limit} of bandwidth")
    traffic = facts.usage.traffic_bytes if facts.usage else None
    if traffic is None:
        return _unknown(
            RuleId.TRAFFIC_UNDER_LIMIT,
            f"Our usage records do not yet show your traffic for this order; a reviewer will check it. {clause}",
        )
    if traffic < policy.traffic_limit_bytes:
        return _pass(RuleId.TRAFFIC_UNDER_LIMIT, f"You used {_gb(traffic, policy)}, less than {limit}. {clause}")
    return _fail(
        RuleId.TRAFFIC_UNDER_LIMIT,
        (
            f"You used {_gb(traffic, policy)}, not less than {limit}; we may charge for the excess traffic "
            f"and make a partial refund at our discretion. {clause}"
        ),
    )


def new_order(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    clause = _clause("You are entitled to a full refund for the new order")
    kind = facts.order.kind
    if kind is None:
        return _unknown(
            RuleId.NEW_ORDER,
            f"Our billing records do not say whether this is a new order; a reviewer will check it. {clause}",
        )
    if kind in policy.new_order_kinds:
        return _pass(RuleId.NEW_ORDER, f"This is a new order. {clause}")
    return _fail(
        RuleId.NEW_ORDER,
        (
            f"This order is a {kind.replace('_', ' ')}, not a new order, so the refund guarantee does not "
            f"apply; a partial refund is at our discretion. {clause}"
        ),
    )


def connections_within_limit(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    clause = _clause(f"Number of your connections to our service does not exceed {policy.max_connections}")
    connections = facts.usage.connections if facts.usage else None
    if connections is None:
        return _unknown(
            RuleId.CONNECTIONS_WITHIN_LIMIT,
            f"Our usage records do not yet show your connections; a reviewer will check them. {clause}",
        )
    if connections <= policy.max_connections:
        return _pass(
            RuleId.CONNECTIONS_WITHIN_LIMIT,
            f"You made {connections} connections, no more than {policy.max_connections}. {clause}",
        )
    return _fail(
        RuleId.CONNECTIONS_WITHIN_LIMIT,
        f"You made {connections} connections, more than the {policy.max_connections} allowed. {clause}",
    )


def not_blocked(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    clause = _clause(
        "Your account has not been temporarily blocked by us in connection with your violation of our "
        "terms of service delivery"
    )
    if facts.customer is None:
        return _unknown(
            RuleId.NOT_BLOCKED, f"We could not find your account records; a reviewer will check them. {clause}"
        )
    # A block counts when it began before the request and had not ended when the order was placed;
    # one that ended earlier belongs to an earlier service period.
    counting = [
        block
        for block in facts.customer.blocks
        if block.reason in policy.violation_block_reasons
        and block.starts_at < facts.received_at
        and (block.ends_at is None or block.ends_at > facts.order.ordered_at)
    ]
    if not counting:
        return _pass(RuleId.NOT_BLOCKED, f"Your account was not blocked for a violation during this order. {clause}")
    first = min(counting, key=lambda block: block.starts_at)
    return _fail(
        RuleId.NOT_BLOCKED,
        (
            f"Your account was temporarily blocked for a violation of our terms from "
            f"{calendar.local_date(first.starts_at).isoformat()}. {clause}"
        ),
    )


def support_confirmed_unfixable(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    clause = _clause(
        "You asked for a solution to a technical problem with the Service in support of the Company, and "
        "received an official response on the impossibility of its elimination"
    )
    ticket = facts.support_ticket
    ticket_id = facts.support_ticket_id
    if ticket is None:
        return _unknown(
            RuleId.SUPPORT_CONFIRMED_UNFIXABLE,
            f"We could not find support ticket {ticket_id}; a reviewer will check your proof. {clause}",
        )
    if ticket.username != facts.order.username:
        problems = [f"support ticket {ticket_id} is not one of your tickets"]
    else:
        problems = []
        if ticket.category != "technical":
            problems.append(f"support ticket {ticket_id} is not about a technical problem")
        if ticket.opened_at >= facts.received_at:
            problems.append(f"support ticket {ticket_id} was opened after your refund request")
        if ticket.official_response != "cannot_fix":
            answer = "said the problem was fixed" if ticket.official_response == "fixed" else "has not answered yet"
            problems.append(f"on support ticket {ticket_id} our support {answer}")
    if not problems:
        return _pass(
            RuleId.SUPPORT_CONFIRMED_UNFIXABLE,
            f"Our support confirmed on ticket {ticket_id} that the technical problem cannot be fixed. {clause}",
        )
    text = "; ".join(problems)  # not str.capitalize(): it would lower-case the ticket id
    return _fail(RuleId.SUPPORT_CONFIRMED_UNFIXABLE, f"{text[:1].upper()}{text[1:]}. {clause}")


def no_earlier_claim(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    clause = _clause("Previously you did not claim the refund under this Policy")
    counting_statuses = {RequestStatus.APPROVED, RequestStatus.REFUSED}
    if policy.cancelled_claims_count:
        counting_statuses.add(RequestStatus.CANCELLED)
    earlier = [
        claim
        for claim in facts.earlier_claims
        if claim.status in counting_statuses and claim.received_at < facts.received_at
    ]
    elsewhere = [
        refund
        for refund in (facts.customer.refunds_elsewhere if facts.customer else ())
        if refund.refunded_at < facts.received_at
    ]
    # Each earlier claim with when it was made and how the customer is told of it; the first one is cited.
    found = [
        (
            claim.received_at,
            f"You already claimed a refund under this Policy on {calendar.local_date(claim.received_at).isoformat()} "
            f"(order {claim.order_id}), and that claim was decided.",
        )
        for claim in earlier
    ] + [
        (
            refund.refunded_at,
            f"You were already refunded under this Policy on {calendar.local_date(refund.refunded_at).isoformat()} "
            f"(order {refund.order_id}, refund {refund.reference}, granted by our billing team outside these "
            "online requests).",
        )
        for refund in elsewhere
    ]
    if not found:
        return _pass(RuleId.NO_EARLIER_CLAIM, f"You have not claimed a refund under this Policy before. {clause}")
    _, first = min(found, key=lambda claim: claim[0])
    return _fail(RuleId.NO_EARLIER_CLAIM, f"{first} {clause}")


def not_app_store(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    clause = _clause(
        "Guarantee of refund applies to all new orders, with the exception of orders paid through the Apple "
        "iTunes Store. We can not return the money for such orders"
    )
    channel = facts.order.payment_channel
    if channel is None:
        return _unknown(
            RuleId.NOT_APP_STORE,
            f"Our billing records do not say how this order was paid; a reviewer will check it. {clause}",
        )
    if channel not in policy.excluded_payment_channels:
        return _pass(RuleId.NOT_APP_STORE, f"This order was not paid through a channel we cannot refund. {clause}")
    explanation = policy.excluded_channel_reasons.get(
        channel, "We cannot return money for orders paid through this payment channel."
    )
    return _fail(RuleId.NOT_APP_STORE, f"{explanation} {clause}")


def lawful_use(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    clause = _clause(
        "Principle of payment refund only in the absence of violations of the Policy, Terms of Use, the User "
        "Agreement; only for Customer who lawfully use the services and does not violate the laws of Hong Kong"
    )
    if facts.customer is None:
        return _unknown(
            RuleId.LAWFUL_USE, f"We could not find your account records; a reviewer will check them. {clause}"
        )
    if not facts.customer.violations:
        return _pass(RuleId.LAWFUL_USE, f"We have no violation on record for you. {clause}")
    found = sorted(
        {_VIOLATION_NAMES.get(violation.kind, "a violation of our terms") for violation in facts.customer.violations}
    )
    return _fail(RuleId.LAWFUL_USE, f"Our records show {' and '.join(found)} on your account. {clause}")


def payment_returnable(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    clause = _clause("Principle of refund of those payments, which in fact and law may be returned by the Company")
    state = facts.order.payment_state
    if state is None:
        return _unknown(
            RuleId.PAYMENT_RETURNABLE,
            f"Our billing records do not show the state of this payment; a reviewer will check it. {clause}",
        )
    if state is PaymentState.SETTLED:
        return _pass(RuleId.PAYMENT_RETURNABLE, f"Your payment is settled and can be returned. {clause}")
    return _fail(
        RuleId.PAYMENT_RETURNABLE,
        f"The payment for this order {_UNRETURNABLE_PAYMENTS[state]}, so there is nothing we can return. {clause}",
    )


RULES: tuple[_Rule, ...] = (
    within_claim_window,
    traffic_under_limit,
    new_order,
    connections_within_limit,
    not_blocked,
    support_confirmed_unfixable,
    no_earlier_claim,
    not_app_store,
    lawful_use,
    payment_returnable,
)


def is_a_claim_under_the_policy(status: RequestStatus, assessment: Assessment) -> bool:
    """Does a decided request count as a claim for NO_EARLIER_CLAIM? Not one refused only because its order is
    excluded from the Policy (NOT_APP_STORE its one failed rule): it was never a claim "under this Policy"
    (POLICY-RULES.md, third release)."""
    failed = {rule.id for rule in assessment.failed()}
    return not (status is RequestStatus.REFUSED and failed == {RuleId.NOT_APP_STORE})


def outcome_of(results: tuple[RuleResult, ...]) -> Outcome:
    if any(rule.result == "fail" and rule.id in REFUSING_RULES for rule in results):
        return Outcome.REFUSED
    if any(rule.result == "unknown" for rule in results):
        return Outcome.NEEDS_REVIEW
    if all(rule.result == "pass" for rule in results):
        return Outcome.FULL_REFUND
    return Outcome.PARTIAL_REFUND


def suggested_partial_amount(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> Money | None:
    """Amount paid − excess-traffic charge − elapsed-time charge, never below 0, rounded down once at the
    end. None when a fact it needs is unknown (traffic; the service period or the excess price)."""
    paid = facts.order.amount_paid
    traffic = facts.usage.traffic_bytes if facts.usage else None
    if traffic is None:
        return None
    refund = Fraction(paid.amount)
    excess_bytes = max(0, traffic - policy.traffic_limit_bytes)
    if excess_bytes:
        price = policy.excess_traffic_price(paid.currency)
        if price is None:
            return None
        refund -= Fraction(excess_bytes, policy.bytes_per_gb) * Fraction(price.amount)
    days = days_since_order(facts, calendar)
    if policy.charge_elapsed_time and days > policy.claim_window_days:
        period = facts.order.service_period_days
        if period is None:
            return None
        refund -= Fraction(paid.amount) * Fraction(days, period)
    scale = 10 ** minor_units(paid.currency)
    minor = max(0, floor(refund * scale))
    return Money(amount=Decimal(minor).scaleb(-minor_units(paid.currency)), currency=paid.currency)


def assess(facts: ClaimFacts, policy: Policy, now: datetime) -> Assessment:
    """Evaluate every rule and derive the outcome and the suggested amount; `now` is the assessment time."""
    calendar = ReviewCalendar(policy)
    results = tuple(rule(facts, policy, calendar) for rule in RULES)
    outcome = outcome_of(results)
    if outcome is Outcome.REFUSED:
        suggested = None
    elif outcome is Outcome.FULL_REFUND:
        # In the currency's minor units: an order recorded with more decimals is never paid back a fraction.
        suggested = facts.order.amount_paid.rounded_down()
    else:
        suggested = suggested_partial_amount(facts, policy, calendar)
    return Assessment(
        outcome=outcome,
        policy_version=policy.version,
        rules=results,
        suggested_amount=suggested,
        assessed_at=now,
    )
