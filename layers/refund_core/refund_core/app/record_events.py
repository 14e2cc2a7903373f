"""The events other systems send about customers (RECORDS.md) and billing's answers about payouts (PAYOUTS.md),
as models that validate them strictly and publish their JSON Schema (schemas/, `scripts/generate_schemas.py`),
and how each is applied: to the customer records (refund_core.adapters.customer_records, order-safe and
idempotent), or to the payout it answers (refund_core.app.payouts, each change conditional on the payout's
state).

An event is refused whole, naming the field, when its `detail-type` is unknown or comes from another system
than the one that owns it, when a field is missing, mistyped, of an unknown value or not in the format."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from refund_core.adapters import customer_records, outbound
from refund_core.app import payouts
from refund_core.errors import RecordEventRefused
from refund_core.observability import count_by, logger
from refund_core.policy.models import (
    AccountBlock,
    CamelModel,
    Language,
    Order,
    PaymentChannel,
    PaymentState,
    SupportTicket,
    Text,
    Usage,
    Violation,
)
from refund_core.policy.models import RefundGrantedElsewhere as GrantedRefund
from refund_core.policy.money import Money, minor_units

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

BILLING, USAGE, ACCOUNTS, SUPPORT = (f"smart-security.{name}" for name in ("billing", "usage", "accounts", "support"))

# [0-9], not \d: \d also matches other scripts' digits, which Decimal would read.
Amount = Annotated[str, Field(pattern=r"^[0-9]{1,15}(\.[0-9]{1,6})?$", examples=["59.99"])]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["USD"])]
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
# Totals a meter can reach (10^18 bytes is an exabyte), well inside what DynamoDB keeps exactly (38 digits).
Count = Annotated[int, Field(ge=0, le=10**18)]
# Another system's clock may run a little ahead of ours; a fact from further in the future is a mistake that,
# applied, would hide every later (real) fact behind its `asOf`.
CLOCK_TOLERANCE = timedelta(minutes=5)


def _not_in_the_future(value: datetime, info: ValidationInfo) -> datetime:
    now = (info.context or {}).get("now")
    if now is not None and value > now + CLOCK_TOLERANCE:
        raise ValueError(f"is in the future (after {now.isoformat(timespec='seconds')})")
    return value


# A moment a fact came to be: now at the latest (checked against the clock the event is read at).
Past = Annotated[AwareDatetime, AfterValidator(_not_in_the_future)]


class _Detail(CamelModel):
    """Strict: a number for a string, a string for a number, a field the format does not name: refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _in_minor_units(amount: str, info: ValidationInfo) -> str:
    """An amount has at most its currency's minor units (ISO 4217: JPY 0, USD 2, BHD 3): billing never took a
    fraction of a cent, and a refund of one could never be paid."""
    currency = info.data.get("currency")
    if currency is not None and not Money(amount=Decimal(amount), currency=currency).fits_minor_unit():
        raise ValueError(f"has more decimal places than {currency} has ({minor_units(currency)})")
    return amount


class MoneyDetail(_Detail):
    # The currency first: the amount's check reads it.
    currency: Currency
    amount: Amount

    _amount_in_minor_units = field_validator("amount")(_in_minor_units)

    def money(self) -> Money:
        return Money(amount=Decimal(self.amount), currency=self.currency)


class CustomerUpserted(_Detail):
    """The customer's profile, replaced if `asOf` is newer."""

    username: Text
    email: Email
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    language: Language = "en"
    as_of: Past


class OrderPlaced(_Detail):
    """An order; the same order id again with other facts is refused (a correction is an OrderCorrected)."""

    order_id: Text
    username: Text
    ordered_at: Past
    currency: Currency
    amount: Amount
    payment_channel: PaymentChannel
    kind: Text
    service_period_days: Annotated[int, Field(gt=0, le=36600)]
    payment_reference: Text | None = None

    _amount_in_minor_units = field_validator("amount")(_in_minor_units)

    def order(self) -> Order:
        return Order(
            order_id=self.order_id,
            username=self.username,
            ordered_at=self.ordered_at,
            amount_paid=Money(amount=Decimal(self.amount), currency=self.currency),
            payment_channel=self.payment_channel,
            kind=self.kind,
            service_period_days=self.service_period_days,
            payment_reference=self.payment_reference,
        )


class OrderCorrected(OrderPlaced):
    """A billing correction: replaces the order if `asOf` is newer."""

    as_of: Past


class PaymentStateChanged(_Detail):
    order_id: Text
    payment_state: PaymentState
    as_of: Past


class UsageReported(_Detail):
    """Totals so far (traffic in + out): applied if `asOf` is newer; totals never go down. Both are counted: a
    null would erase a total known before (a report that does not know one is not sent)."""

    order_id: Text
    traffic_bytes: Count
    connections: Count
    as_of: Past


class AccountBlocked(_Detail):
    username: Text
    block_id: Text
    reason: Text
    from_: AwareDatetime = Field(alias="from")
    until: AwareDatetime | None = None


class AccountUnblocked(_Detail):
    username: Text
    block_id: Text
    until: AwareDatetime


class ViolationRecorded(_Detail):
    username: Text
    violation_id: Text
    kind: Literal["hong_kong_law", "refund_policy", "terms_of_use", "user_agreement"]
    at: Past


class ViolationWithdrawn(_Detail):
    username: Text
    violation_id: Text
    as_of: Past


class SupportTicketUpdated(_Detail):
    ticket_id: Text
    username: Text
    opened_at: Past
    category: Text
    official_response: Literal["cannot_fix", "fixed"] | None
    as_of: Past


class RefundGrantedElsewhere(_Detail):
    """A claim decided outside this service (before it went live, or by hand): NO_EARLIER_CLAIM counts it."""

    username: Text
    order_id: Text
    refunded_at: Past
    amount: MoneyDetail | None = None
    reference: Text


class _PayoutAnswer(_Detail):
    """Billing's news of a payout it was asked for; `sending` echoes PayoutRequested's (another's failure is old)."""

    request_id: Text
    sending: Annotated[int | None, Field(ge=1)] = None


class PayoutSent(_PayoutAnswer):
    """Billing accepted the payout: its reference."""

    reference: Text
    sent_at: Past


class PayoutPaid(_PayoutAnswer):
    """Billing confirms the payout reached the customer's account."""

    paid_at: Past
    reference: Text | None = None


class PayoutFailed(_PayoutAnswer):
    """Billing could not pay it, and why (in words the customer may read)."""

    reason: Annotated[str, Field(min_length=1, max_length=500)]
    failed_at: Past


RecordEvent = (
    CustomerUpserted
    | OrderPlaced
    | OrderCorrected
    | PaymentStateChanged
    | UsageReported
    | AccountBlocked
    | AccountUnblocked
    | ViolationRecorded
    | ViolationWithdrawn
    | SupportTicketUpdated
    | RefundGrantedElsewhere
    | PayoutSent
    | PayoutPaid
    | PayoutFailed
)

# detail-type → (its model, the system that owns it)
DETAIL_TYPES: dict[str, tuple[type[_Detail], str]] = {
    "CustomerUpserted": (CustomerUpserted, ACCOUNTS),
    "OrderPlaced": (OrderPlaced, BILLING),
    "OrderCorrected": (OrderCorrected, BILLING),
    "PaymentStateChanged": (PaymentStateChanged, BILLING),
    "UsageReported": (UsageReported, USAGE),
    "AccountBlocked": (AccountBlocked, ACCOUNTS),
    "AccountUnblocked": (AccountUnblocked, ACCOUNTS),
    "ViolationRecorded": (ViolationRecorded, ACCOUNTS),
    "ViolationWithdrawn": (ViolationWithdrawn, ACCOUNTS),
    "SupportTicketUpdated": (SupportTicketUpdated, SUPPORT),
    "RefundGrantedElsewhere": (RefundGrantedElsewhere, BILLING),
    "PayoutSent": (PayoutSent, BILLING),
    "PayoutPaid": (PayoutPaid, BILLING),
    "PayoutFailed": (PayoutFailed, BILLING),
}
SOURCES = sorted({source for _, source in DETAIL_TYPES.values()})


def detail_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each detail-type's `detail`, as schemas/<detail-type>.json holds it."""
    schemas = {}
    for detail_type, (model, source) in DETAIL_TYPES.items():
        schema = model.model_json_schema(by_alias=True)
        for definition in (schema, *schema.get("$defs", {}).values()):
            for field in definition.get("properties", {}).values():
                field.pop("title", None)  # pydantic's "Orderid": the property's own name says it
        schemas[detail_type] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **schema,
            "title": detail_type,
            "description": f"`detail` of the `{detail_type}` event, published by `{source}` (RECORDS.md)",
        }
    return schemas


def _refusal(error: ValidationError) -> RecordEventRefused:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "detail"
    message = "is not a field of this event" if first["type"] == "extra_forbidden" else first["msg"]
    return RecordEventRefused(f"detail.{field}: {message}", field=f"detail.{field}")


def parse_record_event(event: Mapping[str, Any], now: datetime | None = None) -> RecordEvent:
    """An event as EventBridge delivers it (or a bulk line: `source`, `detail-type`, `detail`), validated; read
    at `now` (the clock's), no fact of it may be dated later than a few minutes ahead."""
    detail_type = event.get("detail-type")
    if not isinstance(detail_type, str) or detail_type not in DETAIL_TYPES:
        known = ", ".join(DETAIL_TYPES)
        raise RecordEventRefused(f"detail-type: {detail_type!r} is none of {known}", field="detail-type")
    model, source = DETAIL_TYPES[detail_type]
    if event.get("source") != source:
        raise RecordEventRefused(
            f"source: {detail_type} comes from {source}, not {event.get('source')!r}", field="source"
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise RecordEventRefused("detail: must be a JSON object", field="detail")
    try:
        # As JSON, so that strict mode reads times from their ISO strings and nothing else is coerced.
        parsed: RecordEvent = model.model_validate_json(  # type: ignore[assignment]
            json.dumps(detail), context={"now": now or datetime.now(UTC)}
        )
    except ValidationError as error:
        raise _refusal(error) from None
    return parsed


def _apply(event: RecordEvent) -> bool:
    match event:
        case CustomerUpserted():
            return customer_records.upsert_customer(
                event.username, event.email, event.name, event.language, event.as_of
            )
        case OrderCorrected():
            return customer_records.correct_order(event.order(), event.as_of)
        case OrderPlaced():
            return customer_records.place_order(event.order())
        case PaymentStateChanged():
            return customer_records.change_payment_state(event.order_id, event.payment_state, event.as_of)
        case UsageReported():
            usage = Usage(traffic_bytes=event.traffic_bytes, connections=event.connections)
            return customer_records.report_usage(event.order_id, usage, event.as_of)
        case AccountBlocked():
            block = AccountBlock(reason=event.reason, starts_at=event.from_, ends_at=event.until)
            return customer_records.block_account(event.username, event.block_id, block)
        case AccountUnblocked():
            return customer_records.unblock_account(event.username, event.block_id, event.until)
        case ViolationRecorded():
            violation = Violation(kind=event.kind, at=event.at)
            return customer_records.record_violation(event.username, event.violation_id, violation)
        case ViolationWithdrawn():
            return customer_records.withdraw_violation(event.username, event.violation_id, event.as_of)
        case SupportTicketUpdated():
            ticket = SupportTicket(
                ticket_id=event.ticket_id,
                username=event.username,
                opened_at=event.opened_at,
                category=event.category,
                official_response=event.official_response,
            )
            return customer_records.update_support_ticket(ticket, event.as_of)
        case PayoutSent():
            return payouts.apply_billing_news(
                "sent", event.request_id, event.sent_at, event.reference, None, sending=event.sending
            )
        case PayoutPaid():
            return payouts.apply_billing_news(
                "paid", event.request_id, event.paid_at, event.reference, None, sending=event.sending
            )
        case PayoutFailed():
            return payouts.apply_billing_news(
                "failed", event.request_id, event.failed_at, None, event.reason, sending=event.sending
            )
        case RefundGrantedElsewhere():
            refund = GrantedRefund(
                order_id=event.order_id,
                refunded_at=event.refunded_at,
                amount=event.amount.money() if event.amount else None,
                reference=event.reference,
            )
            return customer_records.grant_refund_elsewhere(event.username, refund)


def detail_type_of(event: RecordEvent) -> str:
    return next(name for name, (model, _) in DETAIL_TYPES.items() if type(event) is model)


def apply_record_event(event: RecordEvent) -> bool:
    """Applied (True), or older than or the same as what is stored (False, counted); RecordEventRefused when
    it contradicts what is stored (a second OrderPlaced with other facts, usage totals going down)."""
    applied = _apply(event)
    count_by("RecordEventsApplied" if applied else "RecordEventsIgnored", detail_type_of(event))
    return applied


def handle_records_message(record: SQSRecord) -> None:
    """The records function's record handler: an event refused goes to the dead-letter queue whole, with its
    reason, and is done with; a failure to apply it (DynamoDB) is raised, and the queue retries it."""
    try:
        envelope = json.loads(record.body)
        event = parse_record_event(envelope if isinstance(envelope, dict) else {})
        apply_record_event(event)
    except (RecordEventRefused, json.JSONDecodeError, RecursionError) as refused:
        reason = refused.message if isinstance(refused, RecordEventRefused) else "the message is not JSON we can read"
        field = refused.field if isinstance(refused, RecordEventRefused) else "body"
        outbound.refuse_record_event(record.body, reason, field or "detail")
        count_by("RecordEventsRefused", str(field))
        logger.warning("a records event was refused", reason=reason, field=field, message_id=record.message_id)
