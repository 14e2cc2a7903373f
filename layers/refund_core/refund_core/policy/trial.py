"""A policy document tried before it may be published: its rules, its review calendar and its emails run on a
fixed set of sample claims (every outcome, every rule passing, failing and unknown, every currency it prices
and every payment channel it names), so that a draft the service cannot apply is refused with the setting
named instead of failing every claim once it is in force.

Pure: the samples are received at fixed moments and at the moment given (when it would take effect)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from pydantic.alias_generators import to_camel

from refund_core.policy.calendar import review_timeline
from refund_core.policy.document import Policy
from refund_core.policy.emails import LANGUAGES, EmailKind, Recipients, render
from refund_core.policy.models import (
    AccountBlock,
    ClaimFacts,
    Customer,
    Decision,
    EarlierClaim,
    Order,
    Outcome,
    PaymentState,
    RefundGrantedElsewhere,
    RefundRequest,
    RefundType,
    RequestStatus,
    SupportTicket,
    Usage,
    Violation,
)
from refund_core.policy.money import Money, minor_units
from refund_core.policy.rules import assess

# Days around holidays and year ends, besides the moment the draft would take effect.
SAMPLE_MOMENTS = tuple(
    datetime.fromisoformat(moment)
    for moment in ("2026-12-21T02:00:00+00:00", "2027-02-05T15:59:59+00:00", "2027-03-24T08:00:00+00:00")
)
# Currencies whose minor units are 2, 0 and 3 (ISO 4217), besides those the draft prices.
SAMPLE_CURRENCIES = ("USD", "HKD", "JPY", "BHD")
EMAILED_CURRENCY = "USD"
_BYTES_OF_A_SMALL_ORDER = 1_000_000_000


def _amount(currency: str) -> Money:
    return Money.of("99.99", currency).rounded_down() if minor_units(currency) else Money.of(9999, currency)


def _base(policy: Policy, received_at: datetime, currency: str) -> ClaimFacts:
    """A clear full refund: every rule passes."""
    username = "sample-customer"
    return ClaimFacts(
        received_at=received_at,
        order=Order(
            order_id="sample-order",
            username=username,
            ordered_at=received_at - timedelta(days=min(policy.claim_window_days, 1)),
            amount_paid=_amount(currency),
            payment_channel=next(iter(sorted(set(policy.refund_paths) - {"default"})), "card"),
            kind=min(policy.new_order_kinds, default="new"),
            service_period_days=365,
            payment_state=PaymentState.SETTLED,
        ),
        usage=Usage(traffic_bytes=min(_BYTES_OF_A_SMALL_ORDER, policy.traffic_limit_bytes - 1), connections=0),
        customer=Customer(username=username),
        support_ticket_id="T-sample",
        support_ticket=SupportTicket(
            ticket_id="T-sample",
            username=username,
            opened_at=received_at - timedelta(hours=1),
            category="technical",
            official_response="cannot_fix",
        ),
    )


def _variations(policy: Policy, base: ClaimFacts) -> Iterator[ClaimFacts]:
    """The base claim, then each rule failing and unknown in turn, then the partial path at its extremes."""
    order, received = base.order, base.received_at
    earlier = [
        EarlierClaim(request_id=f"rr_{status}", order_id="other", status=status, received_at=received - timedelta(1))
        for status in RequestStatus
    ]
    blocks = [
        AccountBlock(reason=reason, starts_at=order.ordered_at - timedelta(days=1))
        for reason in sorted(policy.violation_block_reasons) or ["terms_violation"]
    ]
    customer = base.customer or Customer(username=order.username)
    late = received - timedelta(days=min(policy.claim_window_days + 1, 3660))
    over = policy.traffic_limit_bytes + 2 * policy.bytes_per_gb + 1
    yield base
    yield base.model_copy(update={"order": order.model_copy(update={"ordered_at": late, "kind": "renewal"})})
    yield base.model_copy(update={"usage": Usage(traffic_bytes=over, connections=policy.max_connections + 1)})
    yield base.model_copy(
        update={
            "order": order.model_copy(update={"ordered_at": late, "service_period_days": 1}),
            "usage": Usage(traffic_bytes=10**18, connections=0),
        }
    )
    yield base.model_copy(
        update={
            "customer": customer.model_copy(
                update={
                    "blocks": tuple(blocks),
                    "violations": (Violation(kind="terms_of_use", at=received - timedelta(days=2)),),
                    "refunds_elsewhere": (
                        RefundGrantedElsewhere(order_id="old", refunded_at=received - timedelta(3), reference="R-1"),
                    ),
                }
            ),
            "earlier_claims": tuple(earlier),
        }
    )
    for state in PaymentState:
        yield base.model_copy(update={"order": order.model_copy(update={"payment_state": state})})
    for channel in sorted(policy.excluded_payment_channels | set(policy.refund_paths) - {"default"}):
        yield base.model_copy(update={"order": order.model_copy(update={"payment_channel": channel})})
    for kind in sorted(policy.new_order_kinds):
        yield base.model_copy(update={"order": order.model_copy(update={"kind": kind})})
    ticket = base.support_ticket
    assert ticket is not None
    for changed in ({"username": "someone-else"}, {"category": "billing"}, {"official_response": "fixed"}):
        yield base.model_copy(update={"support_ticket": ticket.model_copy(update=changed)})
    unknown_order = {"payment_channel": None, "kind": None, "service_period_days": None, "payment_state": None}
    yield base.model_copy(
        update={
            "order": order.model_copy(update=unknown_order | {"ordered_at": late}),
            "usage": None,
            "customer": None,
            "support_ticket": None,
        }
    )


def sample_claims(policy: Policy, now: datetime) -> Iterator[ClaimFacts]:
    currencies = sorted(set(SAMPLE_CURRENCIES) | set(policy.excess_traffic_price_per_gb))
    for received_at in (*SAMPLE_MOMENTS, now.astimezone(UTC)):
        for currency in currencies:
            yield from _variations(policy, _base(policy, received_at, currency))


def _requests(facts: ClaimFacts, policy: Policy) -> Iterator[RefundRequest]:
    """The claim as a request at each status it can reach, so that every email about it is written."""
    assessment = assess(facts, policy, facts.received_at)
    timeline = review_timeline(facts.received_at, policy)
    pending = RefundRequest(
        request_id="rr_sample",
        order_id=facts.order.order_id,
        username=facts.order.username,
        reason="A sample claim",
        support_ticket_id=facts.support_ticket_id,
        status=RequestStatus.PENDING,
        received_at=facts.received_at,
        deadline=timeline.deadline,
        reminder_at=timeline.reminder_at,
        assessment=assessment,
        amount_paid=facts.order.amount_paid,
        payment_channel=facts.order.payment_channel,
    )
    yield pending
    refund_type = RefundType.FULL if assessment.outcome is Outcome.FULL_REFUND else RefundType.PARTIAL
    amount = assessment.suggested_amount or facts.order.amount_paid
    grounds = assessment.failed()
    reasons = tuple(rule.reason for rule in grounds)
    for status, decision in (
        (RequestStatus.APPROVED, Decision(refund_type=refund_type, amount=amount, reasons=reasons, grounds=grounds,
                                          decided_at=facts.received_at, decided_by="auto")),
        (RequestStatus.REFUSED, Decision(refund_type=None, amount=None, reasons=reasons or ("A reason",),
                                         grounds=grounds, decided_at=facts.received_at, decided_by="auto")),
    ):  # fmt: skip
        yield pending.model_copy(update={"status": status, "decision": decision})
    yield pending.model_copy(update={"status": RequestStatus.CANCELLED})


def _apply(policy: Policy, facts: ClaimFacts) -> None:
    """Everything the service does with a policy for one claim: assess it, time its review, write its emails
    (those of claims in one currency: the emails read nothing of the policy that depends on it)."""
    for request in _requests(facts, policy):
        for language in LANGUAGES if request.amount_paid.currency == EMAILED_CURRENCY else ():
            recipients = Recipients(
                customer="customer@example.com",
                reviewers="reviewers@example.com",
                supervisors="supervisors@example.com",
                customer_language=language,
            )
            for kind in EmailKind:
                if kind in _emails_at(request.status):
                    render(kind, request, policy, recipients)


def _emails_at(status: RequestStatus) -> tuple[EmailKind, ...]:
    if status is RequestStatus.PENDING:
        return (EmailKind.ACKNOWLEDGEMENT, EmailKind.REMINDER, EmailKind.ESCALATION, EmailKind.DELAY)
    if status is RequestStatus.CANCELLED:
        return (EmailKind.CANCELLATION,)
    return (EmailKind.DECISION,)


def _failure(policy: Policy, now: datetime) -> str | None:
    """Why the policy cannot be applied to the first sample claim it fails on; None when it applies to all."""
    try:
        samples = list(sample_claims(policy, now))
    except Exception as error:  # the samples' own dates and amounts come from the settings
        return f"the service could not make a claim under it: {type(error).__name__}: {error}"
    for facts in samples:
        try:
            _apply(policy, facts)
        except Exception as error:  # anything at all: the trial exists to find it before a customer does
            return (
                f"the service could not apply it to a sample claim (received {facts.received_at:%Y-%m-%d}, "
                f"order in {facts.order.amount_paid.currency}): {type(error).__name__}: {error}"
            )
    return None


def _settings_at_fault(draft: Policy, known_good: Policy, still_fails: Callable[[Policy], bool]) -> list[str]:
    """The draft's settings that alone make it fail: each whose value from `known_good` makes it apply. When
    no single one does, every setting that differs from `known_good`."""
    differing = [name for name in type(draft).model_fields if getattr(draft, name) != getattr(known_good, name)]
    alone = [name for name in differing if not still_fails(draft.model_copy(update={name: getattr(known_good, name)}))]
    return alone or differing


def problems(draft: Policy, known_good: Policy, now: datetime) -> list[tuple[str, str]]:
    """Each setting of `draft` (by its JSON name) that keeps the service from applying it, with why; none when it
    applies to every sample claim. `known_good` is a version that does (the one shipped)."""
    failure = _failure(draft, now)
    if failure is None:
        return []
    names = _settings_at_fault(draft, known_good, lambda trial: _failure(trial, now) is not None)
    return [(to_camel(name), failure) for name in names] or [("document", failure)]
