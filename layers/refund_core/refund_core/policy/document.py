"""The Refund Policy's settings as a versioned document, validated on load.

Every value POLICY-RULES.md marks "(setting)" lives in `policy/policy_documents/refund-policy.json`, so the policy
owner changes it without touching Python; every assessment records the document's version."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from refund_core.policy.money import Money

HolidayCategory = Literal["public", "optional", "bank", "government"]


class AutomaticDecisions(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")

    full_refund: bool
    refused: bool


class FilingLimits(BaseModel):
    """How many refund requests may be filed: for one order ever, and by one customer in a period. A cancelled
    request frees its order, so without a limit an order could be refiled, and emailed about, without end."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")

    per_order: int = Field(ge=1)
    per_customer: int = Field(ge=1)
    per_customer_days: int = Field(ge=1)


class Policy(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")

    policy_id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    time_zone: str
    claim_window_days: int = Field(ge=0)
    traffic_limit_bytes: int = Field(gt=0)
    bytes_per_gb: int = Field(gt=0)
    new_order_kinds: frozenset[str]
    max_connections: int = Field(ge=0)
    violation_block_reasons: frozenset[str]
    excluded_payment_channels: frozenset[str]
    excluded_channel_reasons: dict[str, str]
    cancelled_claims_count: bool
    excess_traffic_price_per_gb: dict[str, Decimal]
    charge_elapsed_time: bool
    automatic_decisions: AutomaticDecisions
    review_working_days: int = Field(gt=0)
    reminder_working_days_before_deadline: int = Field(ge=0)
    holiday_categories: tuple[HolidayCategory, ...] = Field(min_length=1)
    refund_paths: dict[str, str]
    filing_limits: FilingLimits

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        if self.reminder_working_days_before_deadline >= self.review_working_days:
            raise ValueError("the reminder must fall after the day of receipt, before the deadline")
        if "default" not in self.refund_paths:
            raise ValueError("refundPaths needs a 'default' entry")
        for currency, price in self.excess_traffic_price_per_gb.items():
            Money(amount=price, currency=currency)
            if price < 0:
                raise ValueError(f"excess traffic price for {currency} is negative")
        return self

    def excess_traffic_price(self, currency: str) -> Money | None:
        price = self.excess_traffic_price_per_gb.get(currency)
        return None if price is None else Money(amount=price, currency=currency)

    def refund_path(self, payment_channel: str | None) -> str:
        return self.refund_paths.get(payment_channel or "default", self.refund_paths["default"])


def parse_policy(document: str | bytes) -> Policy:
    return Policy.model_validate(json.loads(document))


@cache
def current_policy() -> Policy:
    """The policy document shipped in the layer, validated once per process."""
    text = resources.files("refund_core.policy").joinpath("policy_documents/refund-policy.json").read_text("utf-8")
    return parse_policy(text)
