"""The customer records table (docs/design.md "CustomerRecordsTable"): the only module that knows its keys and
conditions. The facts other systems send (RECORDS.md) are written here, each order-safe and idempotent by a
condition on what is stored (never read, then written): an event older (`asOf`) than the stored fact, or
the same one again, changes nothing and is reported not applied.

Blocks, violations and refunds granted elsewhere are attributes of the customer's profile item, one per
id (`block#<blockId>`, `unblock#<blockId>`, `violation#<id>`, `withdrawn#<id>`, `refund#<reference>`), so
that a claim reads every fact about the customer in the one BatchGetItem that reads the order, and an
unblock or a withdrawal that arrives before what it ends still ends it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from refund_core.adapters import clients
from refund_core.adapters.dynamo import call, decode_token, deserialize, encode_token, failed_condition, serialize
from refund_core.errors import RecordEventRefused
from refund_core.policy.models import (
    AccountBlock,
    Customer,
    Language,
    Order,
    PaymentState,
    RefundGrantedElsewhere,
    SupportTicket,
    Usage,
    Violation,
)
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

PROFILE_SK = "PROFILE"
ORDER_SK = "ORDER"
USAGE_SK = "USAGE"
TICKET_SK = "TICKET"
_BLOCK, _UNBLOCK, _VIOLATION, _WITHDRAWN, _REFUND = "block#", "unblock#", "violation#", "withdrawn#", "refund#"
# The facts an order was placed with: a second OrderPlaced must bring the same ones.
_PLACED_FIELDS = (
    "orderId", "username", "orderedAt", "amountPaid", "paymentChannel", "kind", "servicePeriodDays", "paymentReference",
)  # fmt: skip


def _key(pk: str, sk: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _customer_key(username: str) -> dict[str, AttributeValueTypeDef]:
    return _key(f"CUSTOMER#{username}", PROFILE_SK)


def _order_key(order_id: str, sk: str = ORDER_SK) -> dict[str, AttributeValueTypeDef]:
    return _key(f"ORDER#{order_id}", sk)


def as_of(moment: datetime) -> str:
    """A moment as stored for comparison: UTC, microseconds, fixed width, so that strings order as moments."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# ---- reading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerRecords:
    customer: Customer | None
    order: Order | None
    usage: Usage | None
    support_ticket: SupportTicket | None


def record_keys(username: str, order_id: str, ticket_id: str) -> list[dict[str, AttributeValueTypeDef]]:
    return [
        _customer_key(username),
        _order_key(order_id),
        _order_key(order_id, USAGE_SK),
        _key(f"TICKET#{ticket_id}", TICKET_SK),
    ]


def _by_prefix(item: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {name.removeprefix(prefix): value for name, value in item.items() if name.startswith(prefix)}


def customer_from(item: Mapping[str, Any]) -> Customer:
    """The profile item as the facts the rules read. The first release kept blocks and violations as lists."""
    unblocked = _by_prefix(item, _UNBLOCK)
    withdrawn = _by_prefix(item, _WITHDRAWN)
    blocks = [AccountBlock.model_validate(block) for block in item.get("blocks", [])] + [
        AccountBlock.model_validate(block | ({"until": unblocked[block_id]["until"]} if block_id in unblocked else {}))
        for block_id, block in sorted(_by_prefix(item, _BLOCK).items())
    ]
    violations = [Violation.model_validate(violation) for violation in item.get("violations", [])] + [
        Violation.model_validate(violation)
        for violation_id, violation in sorted(_by_prefix(item, _VIOLATION).items())
        if violation_id not in withdrawn
    ]
    refunds = [RefundGrantedElsewhere.model_validate(refund) for _, refund in sorted(_by_prefix(item, _REFUND).items())]
    return Customer.model_validate(
        {
            "username": item["username"],
            "email": item.get("email"),
            "name": item.get("name"),
            "language": item.get("language", "en"),
            "blocks": blocks,
            "violations": violations,
            "refundsElsewhere": refunds,
        }
    )


def _order_from(item: Mapping[str, Any] | None) -> Order | None:
    """None until billing has said the order was placed (a payment state alone is no order)."""
    if not item or "orderedAt" not in item:
        return None
    return Order.model_validate(item)


def records_found(found: Mapping[str, dict[str, Any]], username: str, order_id: str, ticket_id: str) -> CustomerRecords:
    """The records found (keyed `pk|sk`) as the facts the rules read; a record not found is an unknown fact."""
    customer = found.get(f"CUSTOMER#{username}|{PROFILE_SK}")
    usage = found.get(f"ORDER#{order_id}|{USAGE_SK}")
    ticket = found.get(f"TICKET#{ticket_id}|{TICKET_SK}")
    return CustomerRecords(
        customer=customer_from(customer) if customer and "username" in customer else None,
        order=_order_from(found.get(f"ORDER#{order_id}|{ORDER_SK}")),
        usage=Usage.model_validate(usage) if usage else None,
        support_ticket=SupportTicket.model_validate(ticket) if ticket else None,
    )


def customer_profile(username: str) -> Customer | None:
    """The customer's account record (their email of record, name and language, blocks...), or None."""
    response = call("get_item", TableName=settings().customer_records_table_name, Key=_customer_key(username))
    item = response.get("Item")
    return customer_from(deserialize(item)) if item and "username" in item else None


def order(order_id: str) -> Order | None:
    """The order as billing last said it was (its payment's reference, say), read consistently."""
    response = call(
        "get_item", TableName=settings().customer_records_table_name, Key=_order_key(order_id), ConsistentRead=True
    )
    return _order_from(deserialize(response["Item"]) if "Item" in response else None)


def order_still_owned_by(order_id: str, username: str) -> TransactWriteItemTypeDef:
    """A condition of a transaction on the requests table: the order is still `username`'s (or billing has not
    said whose it is), so that a decision paying it back cannot race billing giving it to another customer."""
    return {
        "ConditionCheck": {
            "TableName": settings().customer_records_table_name,
            "Key": _order_key(order_id),
            "ConditionExpression": "attribute_not_exists(username) OR username = :username",
            "ExpressionAttributeValues": serialize({":username": username}),
        }
    }


def all_orders() -> Iterator[Order]:
    """Every order on record, in no order: for operators and the local runner (a backfill's check, the local
    processor's payments), never for a request's path (a scan reads the whole table)."""
    pages = (
        clients.dynamodb()
        .get_paginator("scan")
        .paginate(
            TableName=settings().customer_records_table_name,
            FilterExpression="sk = :order",
            ExpressionAttributeValues={":order": {"S": ORDER_SK}},
        )
    )
    for page in pages:
        for item in page.get("Items", []):
            if found := _order_from(deserialize(item)):
                yield found


# ---- writing, one event at a time -------------------------------------------------------------------------


_NAME = re.compile(r"#(\w+)")


def _update(
    key: dict[str, AttributeValueTypeDef],
    values: Mapping[str, Any],
    *,
    condition: str | None = None,
    compared: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """SET every attribute of `values` on the item (made if missing), if `condition` holds over the stored item
    (attributes written `#name`) and `compared` (placeholders `:name`); None when it did, else the stored item."""
    placeholders = {f"#v{index}": name for index, name in enumerate(values)}
    arguments: dict[str, Any] = {
        "TableName": settings().customer_records_table_name,
        "Key": key,
        "UpdateExpression": "SET " + ", ".join(f"{name} = :v{index}" for index, name in enumerate(placeholders)),
        "ExpressionAttributeNames": placeholders,
        "ExpressionAttributeValues": serialize(
            {f":v{index}": value for index, value in enumerate(values.values())} | dict(compared or {})
        ),
    }
    if condition:
        arguments["ExpressionAttributeNames"] |= {f"#{name}": name for name in _NAME.findall(condition)}
        arguments |= {"ConditionExpression": condition, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    try:
        call("update_item", **arguments)
    except ClientError as error:
        if failed_condition(error):
            stored: Mapping[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
            return deserialize(stored)
        raise
    return None


def _newer(attribute: str) -> str:
    """The condition of an order-safe write: nothing stored yet, or stored as of an earlier moment."""
    return f"attribute_not_exists(#{attribute}) OR #{attribute} < :asOf"


def email_partition(email: str) -> str:
    """The ByEmail index's key of an address: letters find their sender's account by it."""
    return f"EMAIL#{email.strip().lower()}"


def usernames_with_email(email: str) -> list[str]:
    """The accounts whose email of record is `email` (at most two read: more than one is as good as none).
    From an index, so eventually consistent: it only finds whom a letter is from, the claim itself is then
    judged on the account's records read consistently."""
    response = call(
        "query",
        TableName=settings().customer_records_table_name,
        IndexName="ByEmail",
        KeyConditionExpression="gsi2pk = :email",
        ExpressionAttributeValues=serialize({":email": email_partition(email)}),
        Limit=2,
    )
    return [str(deserialize(item)["pk"]).removeprefix("CUSTOMER#") for item in response.get("Items", [])]


def upsert_customer(username: str, email: str | None, name: str | None, language: Language, at: datetime) -> bool:
    values = {"username": username, "language": language, "asOf": as_of(at)}
    values |= {attribute: value for attribute, value in (("email", email), ("name", name)) if value is not None}
    if email is not None:
        values["gsi2pk"] = email_partition(email)
    return _update(_customer_key(username), values, condition=_newer("asOf"), compared={":asOf": as_of(at)}) is None


def _order_values(order: Order) -> dict[str, Any]:
    record = order.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {name: record[name] for name in _PLACED_FIELDS if name in record}


def _order_index(order: Order) -> dict[str, Any]:
    """A customer's orders, newest first (`GET /orders`): the ByCustomer index of the order items."""
    return {"gsi1pk": f"CUSTOMER#{order.username}", "gsi1sk": f"{as_of(order.ordered_at)}#{order.order_id}"}


def place_order(order: Order) -> bool:
    """The order as billing placed it. Again with the same facts: not applied; with other facts: refused (a
    correction is an OrderCorrected); after a correction (which is newer): not applied."""
    values = _order_values(order)
    stored = _update(
        _order_key(order.order_id), values | _order_index(order), condition="attribute_not_exists(#orderedAt)"
    )
    if stored is None:
        return True
    placed = _order_from(stored)
    if "correctedAsOf" in stored or placed is None:
        return False
    differing = [name for name, value in _order_values(placed).items() if values.get(name) != value]
    differing += [name for name in values if name not in _order_values(placed)]
    if not differing:
        return False
    raise RecordEventRefused(
        f"{differing[0]}: order {order.order_id} was placed with another; a billing correction is an OrderCorrected",
        field=differing[0],
    )


def correct_order(order: Order, at: datetime) -> bool:
    values = _order_values(order) | _order_index(order) | {"correctedAsOf": as_of(at)}
    stored = _update(
        _order_key(order.order_id), values, condition=_newer("correctedAsOf"), compared={":asOf": as_of(at)}
    )
    return stored is None


def change_payment_state(order_id: str, state: PaymentState, at: datetime) -> bool:
    values = {"paymentState": str(state), "paymentAsOf": as_of(at)}
    stored = _update(_order_key(order_id), values, condition=_newer("paymentAsOf"), compared={":asOf": as_of(at)})
    return stored is None


def report_usage(order_id: str, usage: Usage, at: datetime) -> bool:
    """Totals so far (None: not metered, unknown): applied if newer, refused if newer with a total that went
    down."""
    totals = {"trafficBytes": usage.traffic_bytes, "connections": usage.connections}
    compared: dict[str, Any] = {":asOf": as_of(at)}
    never_lower = ""
    for name, total in totals.items():
        if total is not None:
            compared[f":{name}"] = total
            never_lower += f" AND (attribute_not_exists(#{name}) OR #{name} <= :{name})"
    condition = f"attribute_not_exists(#asOf) OR (#asOf < :asOf{never_lower})"
    stored = _update(_order_key(order_id, USAGE_SK), totals | {"asOf": as_of(at)}, condition=condition,
                     compared=compared)  # fmt: skip
    if stored is None:
        return True
    if str(stored["asOf"]) >= as_of(at):
        return False
    lower = next(name for name, total in totals.items() if total is not None and int(stored.get(name) or 0) > total)
    raise RecordEventRefused(
        f"{lower}: usage totals never go down, and it was {stored[lower]} as of {stored['asOf']}", field=lower
    )


def _set_customer_entry(username: str, entry: str, value: dict[str, Any]) -> bool:
    """One entry of the customer's item (`block#<id>`, `violation#<id>`...) set, the item made if missing:
    nothing is compared first, so the event is always applied."""
    _update(_customer_key(username), {"username": username, entry: value})
    return True


def block_account(username: str, block_id: str, block: AccountBlock) -> bool:
    return _set_customer_entry(
        username, f"{_BLOCK}{block_id}", block.model_dump(mode="json", by_alias=True, exclude_none=True)
    )


def unblock_account(username: str, block_id: str, until: datetime) -> bool:
    return _set_customer_entry(username, f"{_UNBLOCK}{block_id}", {"until": as_of(until)})


def record_violation(username: str, violation_id: str, violation: Violation) -> bool:
    return _set_customer_entry(
        username, f"{_VIOLATION}{violation_id}", violation.model_dump(mode="json", by_alias=True)
    )


def withdraw_violation(username: str, violation_id: str, at: datetime) -> bool:
    return _set_customer_entry(username, f"{_WITHDRAWN}{violation_id}", {"asOf": as_of(at)})


def update_support_ticket(ticket: SupportTicket, at: datetime) -> bool:
    values = ticket.model_dump(mode="json", by_alias=True) | {"asOf": as_of(at)}
    ticket_key = _key(f"TICKET#{ticket.ticket_id}", TICKET_SK)
    return _update(ticket_key, values, condition=_newer("asOf"), compared={":asOf": as_of(at)}) is None


def grant_refund_elsewhere(username: str, refund: RefundGrantedElsewhere) -> bool:
    return _set_customer_entry(
        username, f"{_REFUND}{refund.reference}", refund.model_dump(mode="json", by_alias=True, exclude_none=True)
    )


ORDERS_INDEX = "ByCustomer"


@dataclass(frozen=True)
class OrderPage:
    orders: tuple[Order, ...]
    next_token: str | None


def orders_of(username: str, limit: int, next_token: str | None = None) -> OrderPage:
    """The customer's orders, newest first, from the index (an order placed a moment ago may be a moment late)."""
    partition = ("gsi1pk", f"CUSTOMER#{username}")
    arguments: dict[str, Any] = {
        "TableName": settings().customer_records_table_name,
        "IndexName": ORDERS_INDEX,
        "KeyConditionExpression": "gsi1pk = :customer",
        "ExpressionAttributeValues": {":customer": {"S": partition[1]}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if next_token:
        arguments["ExclusiveStartKey"] = decode_token(next_token, {"pk", "sk", "gsi1pk", "gsi1sk"}, partition)
    response = call("query", **arguments)
    orders = tuple(order for order in (_order_from(deserialize(item)) for item in response.get("Items", [])) if order)
    last = response.get("LastEvaluatedKey")
    return OrderPage(orders=orders, next_token=encode_token(last) if last else None)
