"""Shared builders for the unit tests: one realistic claim that earns a full refund, and keyword changes to it.

Every time is passed explicitly (no clock); every fact not named keeps its passing default."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from refund_core.policy.document import Policy, shipped_policy
from refund_core.policy.models import (
    AccountBlock,
    Assessment,
    ClaimFacts,
    Customer,
    EarlierClaim,
    Order,
    PaymentState,
    RuleId,
    RuleResult,
    SupportTicket,
    Usage,
    Violation,
)
from refund_core.policy.money import Money
from refund_core.policy.rules import assess

HK = ZoneInfo("Asia/Hong_Kong")
GB = 1_000_000_000
ORDERED_AT = datetime(2026, 11, 2, 10, 0, tzinfo=HK)
RECEIVED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=HK)
NOW = datetime(2026, 11, 20, 10, 0, 5, tzinfo=HK)
_DEFAULT: Any = object()


class ClaimBuilder:
    """Builds `ClaimFacts` for user `alice`: order O-1 (card, new, 100.00 USD, 365 days, settled), 2 GB and
    10 connections, no block, no violation, ticket T-1 (technical, `cannot_fix`), no earlier claim."""

    now = NOW

    def facts(
        self,
        *,
        received_at: datetime = RECEIVED_AT,
        ordered_at: datetime = ORDERED_AT,
        amount: str | Decimal = "100.00",
        currency: str = "USD",
        channel: str | None = "card",
        kind: str | None = "new",
        period: int | None = 365,
        payment_state: PaymentState | None = PaymentState.SETTLED,
        traffic: int | None = 2 * GB,
        connections: int | None = 10,
        usage: Usage | None = _DEFAULT,
        blocks: tuple[AccountBlock, ...] = (),
        violations: tuple[Violation, ...] = (),
        customer: Customer | None = _DEFAULT,
        ticket: SupportTicket | None = _DEFAULT,
        ticket_changes: Mapping[str, Any] | None = None,
        ticket_id: str = "T-1",
        earlier_claims: tuple[EarlierClaim, ...] = (),
    ) -> ClaimFacts:
        if usage is _DEFAULT:
            usage = Usage(traffic_bytes=traffic, connections=connections)
        if customer is _DEFAULT:
            customer = Customer(username="alice", email="alice@example.com", blocks=blocks, violations=violations)
        if ticket is _DEFAULT:
            fields: dict[str, Any] = {
                "ticket_id": ticket_id,
                "username": "alice",
                "opened_at": datetime(2026, 11, 10, 9, 0, tzinfo=HK),
                "category": "technical",
                "official_response": "cannot_fix",
            }
            ticket = SupportTicket(**(fields | dict(ticket_changes or {})))
        return ClaimFacts(
            received_at=received_at,
            order=Order(
                order_id="O-1",
                username="alice",
                ordered_at=ordered_at,
                amount_paid=Money.of(amount, currency),
                payment_channel=channel,
                kind=kind,
                service_period_days=period,
                payment_state=payment_state,
            ),
            usage=usage,
            customer=customer,
            support_ticket_id=ticket_id,
            support_ticket=ticket,
            earlier_claims=earlier_claims,
        )

    def assess(self, facts: ClaimFacts | None = None, policy: Policy | None = None, **changes: Any) -> Assessment:
        if facts is None:
            facts = self.facts(**changes)
        elif changes:
            raise TypeError("pass either facts or changes")
        return assess(facts, policy or shipped_policy(), self.now)

    def rule(self, rule_id: RuleId, policy: Policy | None = None, **changes: Any) -> RuleResult:
        return rule_of(self.assess(policy=policy, **changes), rule_id)


def rule_of(assessment: Assessment, rule_id: RuleId) -> RuleResult:
    (found,) = (rule for rule in assessment.rules if rule.id is rule_id)
    return found


@pytest.fixture(scope="session")
def claim() -> ClaimBuilder:
    return ClaimBuilder()


@pytest.fixture(scope="session")
def policy() -> Policy:
    return shipped_policy()
