"""The payout (PAYOUTS.md): the money an approval owes the customer, from the decision until it has left, as a
small state machine. Pure: who pays it is a policy setting, each change of state a new version of the payout,
and a change that does not apply to the state it meets (a replayed webhook, an answer out of order) is told
apart from one that is not allowed at all.

    SCHEDULED ──sent──► SENT ──paid──► PAID
        │  └─────────paid─────────────▲  ▲
        ├──failed──► FAILED ──retry──► SCHEDULED
        └──to finance──► MANUAL ──paid (marked by finance)──┘

Finance pays by hand only what no route is paying: a payout billing was asked to pay stays billing's until billing
answers, and one still to be sent is handed to finance before it is marked paid; the processor's, only once it
has said it holds no refund of it (refund_core.app.finance)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from refund_core.policy.document import Policy
from refund_core.policy.models import CamelModel, UtcDatetime
from refund_core.policy.money import Money


class PayoutState(StrEnum):
    SCHEDULED = "SCHEDULED"  # owed, not yet accepted by whoever pays it
    SENT = "SENT"  # accepted by the processor or billing: a reference exists
    PAID = "PAID"  # confirmed in the customer's account
    FAILED = "FAILED"  # refused, with a reason
    MANUAL = "MANUAL"  # with the finance team


class PayoutRoute(StrEnum):
    """Who pays: the card processor (Stripe), the company's billing system (over the bus), or finance by hand."""

    PROCESSOR = "processor"
    BILLING = "billing"
    FINANCE = "finance"


# What the policy document may name for a channel; finance is what every other case comes to.
RoutedTo = Literal["processor", "billing"]


class PayoutChange(StrEnum):
    SENT = "sent"
    PAID = "paid"
    FAILED = "failed"
    RETRY = "retry"
    TO_FINANCE = "toFinance"
    MARK_PAID = "markPaid"  # finance paid it by hand, or confirms the route's payment from the bank's statement


class PayoutNotAllowed(ValueError):
    """The change does not apply to a payout in its state (finance retrying a payout already paid, say); `code`
    names a reason a page words in its own language."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class Payout(CamelModel):
    request_id: str
    order_id: str
    username: str
    amount: Money
    payment_channel: str | None = None
    payment_reference: str | None = None
    route: PayoutRoute
    state: PayoutState
    # Bumped by each change: every write is conditional on the version read.
    version: int = 1
    # Which sending this is: a retry after a failure is a new sending, with an idempotency key of its own.
    sending: int = 1
    created_at: UtcDatetime
    state_since: UtcDatetime
    sent_at: UtcDatetime | None = None
    paid_at: UtcDatetime | None = None
    failed_at: UtcDatetime | None = None
    # What the customer and finance trace it by: the processor's refund id, billing's reference, a bank's.
    reference: str | None = None
    failure_reason: str | None = Field(default=None, max_length=500)
    note: str | None = Field(default=None, max_length=2000)

    @property
    def idempotency_key(self) -> str:
        """The processor's idempotency key: one per sending, so that no retry of it ever pays twice."""
        return f"payout-{self.request_id}-{self.sending}"


def route_for(payment_channel: str | None, payment_reference: str | None, policy: Policy) -> PayoutRoute:
    """The channel's route (a policy setting); finance when the channel has none, the order no payment reference
    to refund against, or the channel is one the policy excludes (never paid by us: approvals refuse it too)."""
    if payment_channel is None or payment_channel in policy.excluded_payment_channels or not payment_reference:
        return PayoutRoute.FINANCE
    routed = policy.payout_routes.get(payment_channel)
    return PayoutRoute(routed) if routed else PayoutRoute.FINANCE


def scheduled(
    *,
    request_id: str,
    order_id: str,
    username: str,
    amount: Money,
    payment_channel: str | None,
    payment_reference: str | None,
    policy: Policy,
    at: datetime,
) -> Payout:
    """The payout of an approval: with its route, or with finance from the start when it has none."""
    route = route_for(payment_channel, payment_reference, policy)
    return Payout(
        request_id=request_id,
        order_id=order_id,
        username=username,
        amount=amount,
        payment_channel=payment_channel,
        payment_reference=payment_reference,
        route=route,
        state=PayoutState.MANUAL if route is PayoutRoute.FINANCE else PayoutState.SCHEDULED,
        created_at=at,
        state_since=at,
    )


# The changes each state takes. A change met in a state it leads to, or beyond it, is a replay: nothing.
_ALLOWED: dict[PayoutChange, frozenset[PayoutState]] = {
    PayoutChange.SENT: frozenset({PayoutState.SCHEDULED}),
    PayoutChange.PAID: frozenset({PayoutState.SCHEDULED, PayoutState.SENT, PayoutState.MANUAL, PayoutState.FAILED}),
    PayoutChange.FAILED: frozenset({PayoutState.SCHEDULED, PayoutState.SENT}),
    PayoutChange.RETRY: frozenset({PayoutState.FAILED, PayoutState.MANUAL}),
    PayoutChange.TO_FINANCE: frozenset({PayoutState.SCHEDULED, PayoutState.FAILED}),
    PayoutChange.MARK_PAID: frozenset({PayoutState.SENT, PayoutState.MANUAL, PayoutState.FAILED}),
}
_ALREADY: dict[PayoutChange, frozenset[PayoutState]] = {
    PayoutChange.SENT: frozenset({PayoutState.SENT, PayoutState.PAID, PayoutState.FAILED}),
    PayoutChange.PAID: frozenset({PayoutState.PAID}),
    PayoutChange.FAILED: frozenset({PayoutState.FAILED, PayoutState.PAID}),
    PayoutChange.RETRY: frozenset({PayoutState.SCHEDULED, PayoutState.SENT}),
    PayoutChange.TO_FINANCE: frozenset({PayoutState.MANUAL}),
    PayoutChange.MARK_PAID: frozenset({PayoutState.PAID}),
}


def _still_the_routes(payout: Payout, what: PayoutChange) -> None:
    """Finance paying by hand a payout its route is paying would pay it twice: billing, once asked, holds it
    until it answers (its failure hands it back); the processor's is handed to finance first."""
    if payout.state is not PayoutState.SCHEDULED:
        return
    if payout.route is PayoutRoute.BILLING and what in (PayoutChange.TO_FINANCE, PayoutChange.MARK_PAID):
        raise PayoutNotAllowed(
            "billing has been asked to pay this refund: it stays billing's until billing answers, and its "
            "PayoutFailed hands it to finance", code="with_billing"
        )  # fmt: skip
    if what is PayoutChange.MARK_PAID:
        raise PayoutNotAllowed(
            "the card processor is to send this refund: hand it to finance before paying it by hand",
            code="with_processor",
        )


def change(
    payout: Payout,
    what: PayoutChange,
    at: datetime,
    *,
    reference: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    route: PayoutRoute | None = None,
) -> Payout | None:
    """The payout after `what`, or None when it is already done (a replay, or news that arrives after what it
    announces: billing's `PayoutSent` after its `PayoutPaid`). PayoutNotAllowed when it can never apply."""
    if payout.state in _ALREADY[what]:
        return None
    _still_the_routes(payout, what)
    if payout.state not in _ALLOWED[what]:
        raise PayoutNotAllowed(f"a payout that is {payout.state.lower()} cannot be {what}")
    update: dict[str, object] = {"version": payout.version + 1, "state_since": at}
    match what:
        case PayoutChange.SENT:
            update |= {"state": PayoutState.SENT, "sent_at": at, "reference": reference or payout.reference}
        case PayoutChange.PAID | PayoutChange.MARK_PAID:
            # Finance confirming what the route sent keeps the route's reference: its news is of that refund.
            kept = payout.reference if what is PayoutChange.MARK_PAID and payout.state is PayoutState.SENT else None
            update |= {"state": PayoutState.PAID, "paid_at": at, "reference": kept or reference or payout.reference}
            if payout.sent_at is None:
                update["sent_at"] = at
        case PayoutChange.FAILED:
            update |= {"state": PayoutState.FAILED, "failed_at": at, "failure_reason": reason}
        case PayoutChange.RETRY:
            # Sent again through its route, as a new sending; finance's own payouts go back to the route. The last
            # sending's reference is not this one's: news of that refund, come late, is not news of this sending.
            update |= {
                "state": PayoutState.SCHEDULED,
                "sending": payout.sending + 1,
                "failure_reason": None,
                "reference": None,
                "route": route or payout.route,
            }
        case PayoutChange.TO_FINANCE:
            update |= {"state": PayoutState.MANUAL, "route": PayoutRoute.FINANCE, "note": note}
    return payout.model_copy(update=update)
