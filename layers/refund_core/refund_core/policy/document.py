"""The Refund Policy's settings as a versioned document, validated whole, and its published versions.

Every value POLICY-RULES.md marks "(setting)" lives in the document. The service stores the versions its policy
owners publish (refund_core.app.policies); the one shipped in `policy/policy_documents/refund-policy.json` is the
first version while none is stored. Every assessment records the version it applied."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from refund_core.policy.models import PAYMENT_CHANNELS, CamelModel, UtcDatetime
from refund_core.policy.money import Money

# A version's name: it is a path segment and a sort key (`2026-12-01.1`, `2027-q1`).
VERSION_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"

# The categories the `holidays` package holds Hong Kong holidays of (no others: it raises for them).
HolidayCategory = Literal["public", "optional"]
# A set of names, written sorted: the same document is the same JSON in every process (a set's order is not).
SortedSet = Annotated[frozenset[str], PlainSerializer(sorted, return_type=list[str])]


def _routes_first_shipped() -> dict[str, Literal["processor", "billing"]]:
    return {"card": "processor", "paypal": "billing", "crypto": "billing"}


def _known_channels(channels: Iterable[str]) -> Iterable[str]:
    """Channels the policy knows, written exactly so (a setting for "Card" would apply to no order)."""
    unknown = sorted(set(channels) - set(PAYMENT_CHANNELS))
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not a payment channel (they are {', '.join(PAYMENT_CHANNELS)})")
    return channels


class AutomaticDecisions(CamelModel):
    model_config = ConfigDict(extra="forbid")

    full_refund: StrictBool
    refused: StrictBool


class FilingLimits(CamelModel):
    """How many refund requests may be filed: for one order ever, and by one customer in a period. A cancelled
    request frees its order, so without a limit an order could be refiled, and emailed about, without end."""

    model_config = ConfigDict(extra="forbid")

    per_order: StrictInt = Field(ge=1, le=1000)
    per_customer: StrictInt = Field(ge=1, le=1000)
    per_customer_days: StrictInt = Field(ge=1, le=3660)


def _amounts_per_currency(value: dict[str, Decimal], *, most: int, what: str) -> dict[str, Decimal]:
    """Each an amount of its ISO 4217 currency, from 0 to `most`."""
    for currency, amount in value.items():
        try:
            Money(amount=amount, currency=currency)
        except ValidationError as error:
            raise ValueError(f"{currency!r}: {amount} is not an amount of an ISO 4217 currency") from error
        if amount < 0 or amount > most:
            raise ValueError(f"{what} for {currency} must be from 0 to {most:,}")
    return value


class Policy(CamelModel):
    """The settings, each of its exact JSON type: a policy document is written by people, and "no" or "30"
    where a boolean or a number belongs is a mistake to name, not a value to guess."""

    model_config = ConfigDict(extra="forbid")

    policy_id: str = Field(min_length=1, max_length=128)
    version: str = Field(pattern=VERSION_PATTERN)
    time_zone: str = Field(max_length=64)
    # Upper bounds keep every date the rules and the calendar compute within Python's, and a review within
    # a Step Functions execution's year.
    claim_window_days: StrictInt = Field(ge=0, le=3660)
    traffic_limit_bytes: StrictInt = Field(gt=0, le=10**18)
    bytes_per_gb: StrictInt = Field(gt=0, le=10**12)
    new_order_kinds: SortedSet
    max_connections: StrictInt = Field(ge=0, le=10**6)
    violation_block_reasons: SortedSet
    excluded_payment_channels: SortedSet
    excluded_channel_reasons: dict[str, str]
    cancelled_claims_count: StrictBool
    excess_traffic_price_per_gb: dict[str, Decimal]
    charge_elapsed_time: StrictBool
    automatic_decisions: AutomaticDecisions
    review_working_days: StrictInt = Field(gt=0, le=200)
    reminder_working_days_before_deadline: StrictInt = Field(ge=0)
    holiday_categories: tuple[HolidayCategory, ...] = Field(min_length=1)
    refund_paths: dict[str, str]
    filing_limits: FilingLimits
    # Who pays an approval's refund, per payment channel (PAYOUTS.md): the card processor or the company's
    # billing system; a channel not named here is paid by the finance team by hand. A version stored before
    # the third release routes as the first one shipped with it did.
    payout_routes: dict[str, Literal["processor", "billing"]] = Field(default_factory=_routes_first_shipped)
    # How long a request's personal data is kept once it is decided or cancelled (the Personal Data (Privacy)
    # Ordinance: no longer than its purpose needs); then only what the financial record needs stays. 7: what Hong
    # Kong expects of business records, and what versions stored before this setting keep.
    personal_data_years: StrictInt = Field(default=7, ge=1, le=100)
    # Four eyes: an approval of more than this amount (per currency) is the decision only once a second reviewer
    # confirms it. A currency not named needs one reviewer; none named (versions stored before it): no four eyes.
    second_approval_above: dict[str, Decimal] = Field(default_factory=dict)

    # Each check of one setting against another names the setting it is on, so a draft's 400 names every
    # invalid setting (fields validate in the order declared: what a check reads is already valid, or absent).
    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as error:  # a folder of zones, a name too long
            raise ValueError(f"{value!r} is not an IANA time zone") from error
        return value

    @field_validator("excluded_payment_channels")
    @classmethod
    def _known_channels(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(_known_channels(value))

    @field_validator("excluded_channel_reasons")
    @classmethod
    def _every_exclusion_explained(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        # A refusal is always explained (POLICY-RULES.md): an excluded channel needs the sentence its refusal says.
        missing = sorted(set(info.data.get("excluded_payment_channels", ())) - set(value))
        if missing:
            raise ValueError(f"every excluded payment channel needs a reason; missing: {', '.join(missing)}")
        if any(not reason.strip() for reason in value.values()):
            raise ValueError("a reason must not be empty")
        _known_channels(value)
        return value

    @field_validator("excess_traffic_price_per_gb")
    @classmethod
    def _prices(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        return _amounts_per_currency(value, most=10**6, what="the price")

    @field_validator("second_approval_above")
    @classmethod
    def _thresholds(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        return _amounts_per_currency(value, most=10**9, what="the amount")

    def second_approval_threshold(self, currency: str) -> Money | None:
        above = self.second_approval_above.get(currency)
        return None if above is None else Money(amount=above, currency=currency)

    @field_validator("reminder_working_days_before_deadline")
    @classmethod
    def _reminder_before_deadline(cls, value: int, info: ValidationInfo) -> int:
        review_days = info.data.get("review_working_days")
        if review_days is not None and value >= review_days:
            raise ValueError("the reminder must fall after the day of receipt, before the deadline")
        return value

    @field_validator("refund_paths")
    @classmethod
    def _default_path(cls, value: dict[str, str]) -> dict[str, str]:
        if "default" not in value:
            raise ValueError("refundPaths needs a 'default' entry")
        _known_channels(set(value) - {"default"})
        return value

    @field_validator("payout_routes")
    @classmethod
    def _routed_channels(cls, value: dict[str, str]) -> dict[str, str]:
        _known_channels(value)
        return value

    def excess_traffic_price(self, currency: str) -> Money | None:
        price = self.excess_traffic_price_per_gb.get(currency)
        return None if price is None else Money(amount=price, currency=currency)

    def refund_path(self, payment_channel: str | None) -> str:
        return self.refund_paths.get(payment_channel or "default", self.refund_paths["default"])


def parse_policy(document: str | bytes) -> Policy:
    return Policy.model_validate(json.loads(document))


@cache
def shipped_policy() -> Policy:
    """The policy document shipped in the layer, validated once per process."""
    text = resources.files("refund_core.policy").joinpath("policy_documents/refund-policy.json").read_text("utf-8")
    return parse_policy(text)


# The shipped document is in force from the start of time: every request ever received falls under a version.
FIRST_EFFECTIVE_FROM = datetime(1970, 1, 1, tzinfo=UTC)
SHIPPED_BY = "shipped"


class PublishedPolicy(CamelModel):
    """A version of the policy as published: immutable, in force from `effective_from` until a later one is."""

    version: str
    effective_from: UtcDatetime
    published_by: str
    published_at: UtcDatetime
    document: Policy

    @classmethod
    def first(cls, document: Policy) -> PublishedPolicy:
        return cls(
            version=document.version,
            effective_from=FIRST_EFFECTIVE_FROM,
            published_by=SHIPPED_BY,
            published_at=FIRST_EFFECTIVE_FROM,
            document=document,
        )


def in_force(versions: Iterable[PublishedPolicy], at: datetime) -> PublishedPolicy | None:
    """The version in force at `at`: the latest to take effect by then (of two taking effect at once, the one
    published last)."""
    started = [version for version in versions if version.effective_from <= at]
    return max(started, key=lambda version: (version.effective_from, version.published_at), default=None)
