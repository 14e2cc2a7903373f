"""The Refund Policy as ten pure rules over the facts of one claim (POLICY-RULES.md).

No I/O and no clock: the moment of assessment is a parameter. Every rule is evaluated every time, and
each result carries a sentence the customer can read that names the clause it applies, as a code with its
parameters (policy/reasons.py renders it in each language) and in English."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, localcontext
from fractions import Fraction
from math import floor
from typing import Literal

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
from refund_core.policy.reasons import Param, reason_text

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

_Rule = Callable[[ClaimFacts, Policy, ReviewCalendar], RuleResult]
type RuleVerdict = Literal["pass", "fail", "unknown"]


def _result(rule: RuleId, result: RuleVerdict, variant: str = "", **params: Param) -> RuleResult:
    """The result with its code (`RULE.variant`, the result by default) and the English sentence of it."""
    code = f"{rule.value}.{variant or result}"
    return RuleResult(id=rule, result=result, reason=reason_text(rule, code, params), code=code, params=params)


def _gb(byte_count: int, policy: Policy) -> str:
    with localcontext(rounding=ROUND_DOWN):  # 10 GB − 1 byte is "9.99 GB", not "10 GB, less than 10 GB"
        gigabytes = f"{Decimal(byte_count) / Decimal(policy.bytes_per_gb):.2f}".rstrip("0").rstrip(".")
    return f"{gigabytes} GB"


def days_since_order(facts: ClaimFacts, calendar: ReviewCalendar) -> int:
    """Calendar days from the Hong Kong date of the order to the Hong Kong date the request arrived."""
    return (calendar.local_date(facts.received_at) - calendar.local_date(facts.order.ordered_at)).days


def within_claim_window(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    days = days_since_order(facts, calendar)
    ordered = calendar.local_date(facts.order.ordered_at).isoformat()
    result: RuleVerdict = "pass" if days <= policy.claim_window_days else "fail"
    return _result(
        RuleId.WITHIN_30_DAYS, result, days=days, orderedOn=ordered, claimWindowDays=policy.claim_window_days
    )


def traffic_under_limit(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    limit = _gb(policy.traffic_limit_bytes, policy)
    traffic = facts.usage.traffic_bytes if facts.usage else None
    if traffic is None:
        return _result(RuleId.TRAFFIC_UNDER_LIMIT, "unknown", limit=limit)
    result: RuleVerdict = "pass" if traffic < policy.traffic_limit_bytes else "fail"
    return _result(RuleId.TRAFFIC_UNDER_LIMIT, result, traffic=_gb(traffic, policy), limit=limit)


def new_order(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    kind = facts.order.kind
    if kind is None:
        return _result(RuleId.NEW_ORDER, "unknown")
    if kind in policy.new_order_kinds:
        return _result(RuleId.NEW_ORDER, "pass")
    return _result(RuleId.NEW_ORDER, "fail", kind=kind)


def connections_within_limit(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    limit = policy.max_connections
    connections = facts.usage.connections if facts.usage else None
    if connections is None:
        return _result(RuleId.CONNECTIONS_WITHIN_LIMIT, "unknown", maxConnections=limit)
    result: RuleVerdict = "pass" if connections <= limit else "fail"
    return _result(RuleId.CONNECTIONS_WITHIN_LIMIT, result, connections=connections, maxConnections=limit)


def not_blocked(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    if facts.customer is None:
        return _result(RuleId.NOT_BLOCKED, "unknown")
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
        return _result(RuleId.NOT_BLOCKED, "pass")
    first = min(counting, key=lambda block: block.starts_at)
    return _result(RuleId.NOT_BLOCKED, "fail", blockedOn=calendar.local_date(first.starts_at).isoformat())


def support_confirmed_unfixable(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    ticket = facts.support_ticket
    ticket_id = facts.support_ticket_id
    if ticket is None:
        return _result(RuleId.SUPPORT_CONFIRMED_UNFIXABLE, "unknown", ticket=ticket_id)
    if ticket.username != facts.order.username:
        problems = ["not_yours"]
    else:
        problems = []
        if ticket.category != "technical":
            problems.append("not_technical")
        if ticket.opened_at >= facts.received_at:
            problems.append("opened_after")
        if ticket.official_response != "cannot_fix":
            problems.append("fixed" if ticket.official_response == "fixed" else "not_answered")
    if not problems:
        return _result(RuleId.SUPPORT_CONFIRMED_UNFIXABLE, "pass", ticket=ticket_id)
    return _result(RuleId.SUPPORT_CONFIRMED_UNFIXABLE, "fail", ticket=ticket_id, problems=problems)


def no_earlier_claim(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
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
    found: list[tuple[datetime, str, Mapping[str, Param]]] = []
    for claim in earlier:
        claimed_on = calendar.local_date(claim.received_at).isoformat()
        found.append((claim.received_at, "fail_claim", {"claimedOn": claimed_on, "order": claim.order_id}))
    for refund in elsewhere:
        refunded_on = calendar.local_date(refund.refunded_at).isoformat()
        cited = {"refundedOn": refunded_on, "order": refund.order_id, "refund": refund.reference}
        found.append((refund.refunded_at, "fail_refund", cited))
    if not found:
        return _result(RuleId.NO_EARLIER_CLAIM, "pass")
    _, variant, params = min(found, key=lambda claim: claim[0])
    return _result(RuleId.NO_EARLIER_CLAIM, "fail", variant, **params)


def not_app_store(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    channel = facts.order.payment_channel
    if channel is None:
        return _result(RuleId.NOT_APP_STORE, "unknown")
    if channel not in policy.excluded_payment_channels:
        return _result(RuleId.NOT_APP_STORE, "pass")
    # In English the policy owner's own words for the channel; a translation has its catalogue's.
    explanation = policy.excluded_channel_reasons.get(
        channel, "We cannot return money for orders paid through this payment channel."
    )
    return _result(RuleId.NOT_APP_STORE, "fail", channel=channel, explanation=explanation)


def lawful_use(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    if facts.customer is None:
        return _result(RuleId.LAWFUL_USE, "unknown")
    if not facts.customer.violations:
        return _result(RuleId.LAWFUL_USE, "pass")
    kinds = sorted({violation.kind for violation in facts.customer.violations})
    return _result(RuleId.LAWFUL_USE, "fail", violations=kinds)


def payment_returnable(facts: ClaimFacts, policy: Policy, calendar: ReviewCalendar) -> RuleResult:
    state = facts.order.payment_state
    if state is None:
        return _result(RuleId.PAYMENT_RETURNABLE, "unknown")
    if state is PaymentState.SETTLED:
        return _result(RuleId.PAYMENT_RETURNABLE, "pass")
    return _result(RuleId.PAYMENT_RETURNABLE, "fail", paymentState=state.value)


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


def would_be_a_claim_under_the_policy(assessment: Assessment) -> bool:
    """Would a decision on this assessment, approval or refusal, use up the customer's one claim (NO_EARLIER_CLAIM)?
    A refusal is a claim too, unless its order is excluded from the Policy."""
    decided = RequestStatus.REFUSED if assessment.outcome is Outcome.REFUSED else RequestStatus.APPROVED
    return is_a_claim_under_the_policy(decided, assessment)


def decided_when_received(outcome: Outcome, policy: Policy) -> bool:
    """The policy's automatic decisions: a clear full refund and a clear refusal are decided at once (settings)."""
    automatic = policy.automatic_decisions
    return (outcome is Outcome.FULL_REFUND and automatic.full_refund) or (
        outcome is Outcome.REFUSED and automatic.refused
    )


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
