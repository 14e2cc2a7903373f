"""What a draft policy would have made of past requests: their rules run again under it, on the facts each
was assessed on, tallied as API.md's `simulate` answers. Pure: the caller reads the requests, a page at a time,
and hands each to `Tally.add`, which keeps counts and sums, never the requests. A tally is a record too: a
simulation's job keeps it between its invocations (app/policy_simulations.py)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from refund_core.policy.document import Policy
from refund_core.policy.models import (
    AssessedFacts,
    Assessment,
    CamelModel,
    ClaimFacts,
    Customer,
    Outcome,
    RefundRequest,
    RequestStatus,
)
from refund_core.policy.money import Money
from refund_core.policy.rules import assess

# The changes a simulation lists (each is counted, whatever their number): an answer and a record of bounded size.
MAX_CHANGES_LISTED = 1000


def claim_facts(request: RefundRequest, facts: AssessedFacts) -> ClaimFacts | None:
    """The facts the rules read when `request` was last assessed; None when they were not all recorded (no
    order on record then, or an assessment from before the earlier claims were kept)."""
    if facts.order is None or facts.earlier_claims is None:
        return None
    account = facts.customer
    return ClaimFacts(
        received_at=request.received_at,
        order=facts.order,
        usage=facts.usage,
        customer=Customer(
            username=request.username,
            blocks=account.blocks,
            violations=account.violations,
            refunds_elsewhere=account.refunds_elsewhere,
        )
        if account
        else None,
        support_ticket_id=request.support_ticket_id,
        support_ticket=facts.support_ticket,
        earlier_claims=facts.earlier_claims,
    )


def refund_suggested(assessment: Assessment) -> Money | None:
    """What the rules would refund: the whole payment for a full refund, the suggested amount for a partial
    one; nothing for a refusal or a request a reviewer must look at (their call, not the policy's)."""
    if assessment.outcome in (Outcome.FULL_REFUND, Outcome.PARTIAL_REFUND):
        return assessment.suggested_amount
    return None


class WasWould[Value](CamelModel):
    was: Value
    would: Value


class ChangedRequest(CamelModel):
    request_id: str
    outcome: WasWould[Outcome]
    suggested_amount: WasWould[Money | None]


class Tally(CamelModel, frozen=False):
    """The running result of a simulation; `add` each request once, under one draft."""

    requests: int = 0
    not_replayed: int = 0
    cancelled: int = 0
    changed_count: int = 0
    changed: list[ChangedRequest] = Field(default_factory=list)
    was: dict[Outcome, int] = Field(default_factory=dict)
    would: dict[Outcome, int] = Field(default_factory=dict)
    refunded_was: dict[str, Decimal] = Field(default_factory=dict)
    refunded_would: dict[str, Decimal] = Field(default_factory=dict)

    def add(self, request: RefundRequest, facts: AssessedFacts | None, draft: Policy) -> None:
        self.requests += 1
        if request.status is RequestStatus.CANCELLED:  # withdrawn before a decision: no claim to weigh
            self.cancelled += 1
            return
        replayed = claim_facts(request, facts) if facts is not None else None
        if replayed is None:  # not every fact the rules read was recorded: nothing to run them on exactly
            self.not_replayed += 1
            return
        before = request.assessment
        after = assess(replayed, draft, before.assessed_at)
        self.was[before.outcome] = self.was.get(before.outcome, 0) + 1
        self.would[after.outcome] = self.would.get(after.outcome, 0) + 1
        _add_money(self.refunded_was, refund_suggested(before))
        _add_money(self.refunded_would, refund_suggested(after))
        if (before.outcome, before.suggested_amount) != (after.outcome, after.suggested_amount):
            self.changed_count += 1
            if len(self.changed) < MAX_CHANGES_LISTED:
                self.changed.append(
                    ChangedRequest(
                        request_id=request.request_id,
                        outcome=WasWould(was=before.outcome, would=after.outcome),
                        suggested_amount=WasWould(was=before.suggested_amount, would=after.suggested_amount),
                    )
                )

    def by_outcome(self) -> WasWould[dict[Outcome, int]]:
        return WasWould(
            was={outcome: self.was.get(outcome, 0) for outcome in Outcome},
            would={outcome: self.would.get(outcome, 0) for outcome in Outcome},
        )

    def refunded(self) -> WasWould[tuple[Money, ...]]:
        currencies = sorted(self.refunded_was.keys() | self.refunded_would.keys())
        return WasWould(
            was=tuple(_money(self.refunded_was, code) for code in currencies),
            would=tuple(_money(self.refunded_would, code) for code in currencies),
        )


def _add_money(sums: dict[str, Decimal], money: Money | None) -> None:
    if money is not None:
        sums[money.currency] = sums.get(money.currency, Decimal(0)) + money.amount


def _money(sums: dict[str, Decimal], currency: str) -> Money:
    # Sums of amounts in minor units are exact: this only writes them with the currency's minor units.
    return Money(amount=sums.get(currency, Decimal(0)), currency=currency).rounded_down()
