"""The seed file of API.md ("Running it locally"): customers, orders with their usage, and support
tickets, validated whole before anything is written, then applied as the records events of RECORDS.md are
(refund_core.adapters.customer_records: the same writes, as of the moment the seed is loaded), so that a
seed loaded again over kept state replaces the facts it names."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from refund_core.adapters import customer_records
from refund_core.policy.models import (
    AccountBlock,
    CamelModel,
    Customer,
    Order,
    PaymentChannel,
    PaymentState,
    RefundGrantedElsewhere,
    SupportTicket,
    Text,
    Usage,
    Violation,
)
from refund_core.policy.money import Money

# A misspelt field would silently become an unknown fact: refuse what the format does not name.
_STRICT = ConfigDict(extra="forbid")
_ID_FIELDS = {"customers": "username", "orders": "orderId", "tickets": "ticketId"}


class SeedError(ValueError):
    """The seed file cannot be used; `problems` names each bad entry and field."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = tuple(problems)


class _SeedBlock(AccountBlock):
    model_config = _STRICT


class _SeedViolation(Violation):
    model_config = _STRICT


class _SeedRefund(RefundGrantedElsewhere):
    model_config = _STRICT


class SeedCustomer(Customer):
    model_config = _STRICT

    blocks: tuple[_SeedBlock, ...] = ()
    violations: tuple[_SeedViolation, ...] = ()
    refunds_elsewhere: tuple[_SeedRefund, ...] = ()


class SeedTicket(SupportTicket):
    model_config = _STRICT


class SeedOrder(CamelModel):
    """An order as billing and usage records hold it; a field left out is an unknown fact."""

    model_config = ConfigDict(extra="forbid")

    order_id: Text
    username: Text
    ordered_at: AwareDatetime
    amount: Decimal = Field(ge=0, allow_inf_nan=False)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    payment_channel: PaymentChannel | None = None
    kind: str | None = None
    service_period_days: int | None = Field(default=None, gt=0)
    payment_state: PaymentState | None = None
    payment_reference: Text | None = None
    traffic_bytes: int | None = Field(default=None, ge=0)
    connections: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _amount_in_minor_units(self) -> SeedOrder:
        if not Money(amount=self.amount, currency=self.currency).fits_minor_unit():
            raise ValueError(f"amount has more decimal places than {self.currency} has")
        return self

    def order(self) -> Order:
        return Order(
            order_id=self.order_id,
            username=self.username,
            ordered_at=self.ordered_at,
            amount_paid=Money(amount=self.amount, currency=self.currency),
            payment_channel=self.payment_channel,
            kind=self.kind,
            service_period_days=self.service_period_days,
            payment_state=self.payment_state,
            payment_reference=self.payment_reference,
        )

    def usage(self) -> Usage | None:
        """None when the usage records know neither fact: no usage item at all."""
        if self.traffic_bytes is None and self.connections is None:
            return None
        return Usage(traffic_bytes=self.traffic_bytes, connections=self.connections)


class Seed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    customers: tuple[SeedCustomer, ...] = ()
    orders: tuple[SeedOrder, ...] = ()
    tickets: tuple[SeedTicket, ...] = ()


def order_entry(order_id: str, username: str, ordered_at: datetime, **fields: Any) -> dict[str, Any]:
    """An entry of the seed file's orders: a settled new card order of 59.99 USD for a year, 1 GB and 12
    connections used (every rule passes on it within the refund period), unless `fields` (named as in the
    file) say otherwise; a field given None is left out: an unknown fact."""
    entry = {
        "orderId": order_id,
        "username": username,
        "orderedAt": ordered_at.isoformat(),
        "amount": "59.99",
        "currency": "USD",
        "paymentChannel": "card",
        "kind": "new",
        "servicePeriodDays": 365,
        "paymentState": "settled",
        "trafficBytes": 1_000_000_000,
        "connections": 12,
        **fields,
    }
    return {name: value for name, value in entry.items() if value is not None}


def _entry_name(document: Any, section: str, index: int) -> str:
    """`orders[2] (orderId "ord-1003")`: the position, and the entry's id when it has a readable one."""
    name = f"{section}[{index}]"
    try:
        identifier = document[section][index][_ID_FIELDS[section]]
    except (KeyError, IndexError, TypeError):
        return name
    return f"{name} ({_ID_FIELDS[section]} {json.dumps(identifier)})" if isinstance(identifier, str) else name


def _problem(document: Any, error: Any) -> str:
    location = list(error["loc"])
    if len(location) >= 2 and location[0] in _ID_FIELDS and isinstance(location[1], int):
        where = _entry_name(document, str(location[0]), location[1])
        rest = location[2:]
    else:
        where, rest = "", location
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in rest).lstrip(".")
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "is not a field of the seed format"
    return " ".join(part for part in (where, f"{field}:" if field else "", message) if part)


def _duplicates(seed: Seed) -> list[str]:
    problems: list[str] = []
    sections: dict[str, Iterable[str]] = {
        "customers": (customer.username for customer in seed.customers),
        "orders": (order.order_id for order in seed.orders),
        "tickets": (ticket.ticket_id for ticket in seed.tickets),
    }
    for section, identifiers in sections.items():
        seen: set[str] = set()
        for index, identifier in enumerate(identifiers):
            if identifier in seen:
                problems.append(f"{section}[{index}]: {_ID_FIELDS[section]} {json.dumps(identifier)} appears twice")
            seen.add(identifier)
    return problems


def parse_seed(document: Any, source: str = "seed") -> Seed:
    """The seed document validated whole; SeedError lists every bad entry."""
    if not isinstance(document, dict):
        raise SeedError(source, ["the seed must be a JSON object with customers, orders and tickets"])
    try:
        seed = Seed.model_validate(document)
    except ValidationError as error:
        raise SeedError(source, [_problem(document, detail) for detail in error.errors()]) from error
    if problems := _duplicates(seed):
        raise SeedError(source, problems)
    return seed


def load_seed_file(path: Path) -> Seed:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SeedError(str(path), [f"cannot read it: {error.strerror}"]) from error
    except json.JSONDecodeError as error:
        raise SeedError(str(path), [f"not JSON: {error.msg} at line {error.lineno} column {error.colno}"]) from error
    return parse_seed(document, str(path))


def write_seed(seed: Seed, at: datetime | None = None) -> None:
    """Into the customer records table, as the accounts, billing, usage and support systems' events would put
    them (blocks and violations by their position in the seed)."""
    moment = at or datetime.now(UTC)
    for customer in seed.customers:
        username = customer.username
        customer_records.upsert_customer(username, customer.email, customer.name, customer.language, moment)
        for index, block in enumerate(customer.blocks):
            customer_records.block_account(username, f"seed-{index}", block)
        for index, violation in enumerate(customer.violations):
            customer_records.record_violation(username, f"seed-{index}", violation)
        for refund in customer.refunds_elsewhere:
            customer_records.grant_refund_elsewhere(username, refund)
    for order in seed.orders:
        customer_records.correct_order(order.order(), moment)
        if order.payment_state is not None:
            customer_records.change_payment_state(order.order_id, order.payment_state, moment)
        usage = order.usage()
        if usage is not None:
            customer_records.report_usage(order.order_id, usage, moment)
    for ticket in seed.tickets:
        customer_records.update_support_ticket(ticket, moment)
