"""The one module that knows table keys and condition expressions (docs/design.md).

Race safety comes from conditional writes and transactions: a second open claim, a second claim for an
order, or a decision racing a cancellation fails its condition instead of overwriting."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from refund_core.adapters import clients
from refund_core.adapters.records import REQUEST_SK, RequestRecord
from refund_core.adapters.settings import settings
from refund_core.errors import Conflict, InvalidInput
from refund_core.policy.models import (
    Assessment,
    Customer,
    Decision,
    EarlierClaim,
    HistoryEntry,
    Order,
    RequestStatus,
    SupportTicket,
    Usage,
    utc_iso,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

OPEN_CLAIM_SK = "OPEN_CLAIM"
ORDER_CLAIM_SK = "CLAIM"
BY_STATUS_INDEX = "ByStatus"
BY_CUSTOMER_INDEX = "ByCustomer"


def request_key(request_id: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"REQUEST#{request_id}"}, "sk": {"S": REQUEST_SK}}


def _open_claim_key(username: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"CUSTOMER#{username}"}, "sk": {"S": OPEN_CLAIM_SK}}


def _order_claim_key(order_id: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": ORDER_CLAIM_SK}}


def _serialize(item: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _index_keys(status: RequestStatus, request: RequestRecord) -> dict[str, str]:
    return {
        "gsi1pk": f"STATUS#{status}",
        "gsi1sk": f"{utc_iso(request.deadline)}#{request.request_id}",
        "gsi2pk": f"CUSTOMER#{request.username}",
        "gsi2sk": f"{utc_iso(request.received_at)}#{request.request_id}",
    }


def request_item(request: RequestRecord) -> dict[str, Any]:
    item = request.model_dump(mode="json", by_alias=True, exclude={"history"})
    return {"pk": f"REQUEST#{request.request_id}", "sk": REQUEST_SK, **item, **_index_keys(request.status, request)}


def _history_put(request_id: str, entries: Iterable[HistoryEntry]) -> list[TransactWriteItemTypeDef]:
    writes: list[TransactWriteItemTypeDef] = []
    for position, entry in enumerate(entries):
        item = {
            "pk": f"REQUEST#{request_id}",
            "sk": f"HISTORY#{utc_iso(entry.at)}#{position:02d}-{entry.event}",
            **entry.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        writes.append({"Put": {"TableName": settings().requests_table_name, "Item": _serialize(item)}})
    return writes


def _cancellation_reasons(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


# ---- customer records (facts the rules read) -------------------------------------------------------


@dataclass(frozen=True)
class CustomerRecords:
    customer: Customer | None
    order: Order | None
    usage: Usage | None
    support_ticket: SupportTicket | None


def _record_keys(username: str, order_id: str, ticket_id: str) -> list[dict[str, AttributeValueTypeDef]]:
    return [
        {"pk": {"S": f"CUSTOMER#{username}"}, "sk": {"S": "PROFILE"}},
        {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "ORDER"}},
        {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "USAGE"}},
        {"pk": {"S": f"TICKET#{ticket_id}"}, "sk": {"S": "TICKET"}},
    ]


def load_customer_records(username: str, order_id: str, ticket_id: str) -> CustomerRecords:
    """The customer, the order, its usage and the named ticket, in one BatchGetItem."""
    table = settings().customer_records_table_name
    found: dict[str, dict[str, Any]] = {}
    request: dict[str, Any] = {table: {"Keys": _record_keys(username, order_id, ticket_id)}}
    while request:
        response = clients.dynamodb().batch_get_item(RequestItems=request)
        for raw in response.get("Responses", {}).get(table, []):
            item = deserialize(raw)
            found[f"{item['pk']}|{item['sk']}"] = item
        request = dict(response.get("UnprocessedKeys") or {})
    customer = found.get(f"CUSTOMER#{username}|PROFILE")
    order = found.get(f"ORDER#{order_id}|ORDER")
    usage = found.get(f"ORDER#{order_id}|USAGE")
    ticket = found.get(f"TICKET#{ticket_id}|TICKET")
    return CustomerRecords(
        customer=Customer.model_validate(customer) if customer else None,
        order=Order.model_validate(order) if order else None,
        usage=Usage.model_validate(usage) if usage else None,
        support_ticket=SupportTicket.model_validate(ticket) if ticket else None,
    )


def _put_record(pk: str, sk: str, record: Mapping[str, Any]) -> None:
    item = {"pk": pk, "sk": sk, **record}
    clients.dynamodb().put_item(TableName=settings().customer_records_table_name, Item=_serialize(item))


def put_customer(customer: Customer) -> None:
    _put_record(f"CUSTOMER#{customer.username}", "PROFILE", customer.model_dump(mode="json", by_alias=True))


def put_order(order: Order) -> None:
    record = order.model_dump(mode="json", by_alias=True, exclude_none=True)
    _put_record(f"ORDER#{order.order_id}", "ORDER", record)


def put_usage(order_id: str, usage: Usage) -> None:
    _put_record(f"ORDER#{order_id}", "USAGE", usage.model_dump(mode="json", by_alias=True, exclude_none=True))


def put_support_ticket(ticket: SupportTicket) -> None:
    record = ticket.model_dump(mode="json", by_alias=True, exclude_none=True)
    _put_record(f"TICKET#{ticket.ticket_id}", "TICKET", record)


# ---- refund requests --------------------------------------------------------------------------------


def earlier_claims(username: str) -> tuple[EarlierClaim, ...]:
    """Every refund request the customer filed, whatever its state."""
    claims: list[EarlierClaim] = []
    kwargs: dict[str, Any] = {
        "TableName": settings().requests_table_name,
        "IndexName": BY_CUSTOMER_INDEX,
        "KeyConditionExpression": "gsi2pk = :customer",
        "ExpressionAttributeValues": {":customer": {"S": f"CUSTOMER#{username}"}},
        "ProjectionExpression": "requestId, orderId, #status, receivedAt",
        "ExpressionAttributeNames": {"#status": "status"},
    }
    while True:
        response = clients.dynamodb().query(**kwargs)
        claims.extend(EarlierClaim.model_validate(deserialize(item)) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return tuple(claims)
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def record_new_request(request: RequestRecord, history: Iterable[HistoryEntry]) -> None:
    """Record the request with its history, claiming the order and, while it is pending, the customer's
    one open claim. Both claims are conditional on their absence: at most one can win a race."""
    table = settings().requests_table_name
    open_claim: TransactWriteItemTypeDef
    if request.status is RequestStatus.PENDING:
        open_claim = {
            "Put": {
                "TableName": table,
                "Item": {**_open_claim_key(request.username), "requestId": {"S": request.request_id}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    else:
        open_claim = {
            "ConditionCheck": {
                "TableName": table,
                "Key": _open_claim_key(request.username),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    writes: list[TransactWriteItemTypeDef] = [
        {
            "Put": {
                "TableName": table,
                "Item": _serialize(request_item(request)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        open_claim,
        {
            "Put": {
                "TableName": table,
                "Item": {**_order_claim_key(request.order_id), "requestId": {"S": request.request_id}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        *_history_put(request.request_id, history),
    ]
    try:
        clients.dynamodb().transact_write_items(TransactItems=writes)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = _cancellation_reasons(error)
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            raise Conflict("you already have an open refund request; wait for its decision or cancel it") from error
        if len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
            raise Conflict(f"order {request.order_id} already has a refund request", field="orderId") from error
        raise


def get_request(request_id: str) -> RequestRecord | None:
    """The request and its whole history, in one Query."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": settings().requests_table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"REQUEST#{request_id}"}},
        "ConsistentRead": True,
    }
    while True:
        response = clients.dynamodb().query(**kwargs)
        items.extend(deserialize(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            break
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    request = next((item for item in items if item["sk"] == REQUEST_SK), None)
    if request is None:
        return None
    history = sorted(
        (HistoryEntry.model_validate(item) for item in items if item["sk"].startswith("HISTORY#")),
        key=lambda entry: entry.at,
    )
    return RequestRecord.model_validate({**request, "history": history})


@dataclass(frozen=True)
class Page[Item]:
    """One page of a listing, and the token of the next one (None: this was the last)."""

    items: tuple[Item, ...]
    next_token: str | None


# DynamoDB's limit for a sort key value (a partition key value may have 2,048 bytes; ours are far shorter).
_MAX_KEY_BYTES = 1024


def _encode_token(key: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def _decode_token(token: str, expected_keys: set[str], partition: tuple[str, str]) -> dict[str, Any]:
    """The key a page ended on, from a token the same query issued. DynamoDB answers anything else (a key
    that is not a non-empty string, one over its key size, one outside the query's partition) with a
    ValidationException, which would be our 500."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error) as error:
        raise InvalidInput("nextToken is not a token this service issued", field="nextToken") from error
    valid = (
        isinstance(key, dict)
        and set(key) == expected_keys
        and all(
            isinstance(value, dict)
            and set(value) == {"S"}
            and isinstance(value["S"], str)
            and 0 < len(value["S"].encode("utf-8", "surrogatepass")) <= _MAX_KEY_BYTES
            for value in key.values()
        )
        and key[partition[0]]["S"] == partition[1]
    )
    if not valid:
        raise InvalidInput("nextToken is not a token this service issued", field="nextToken")
    return dict(key)


def list_requests(
    *, status: RequestStatus | None, username: str | None, limit: int, next_token: str | None
) -> Page[RequestRecord]:
    """By status across customers (reviewers' queue, oldest deadline first), or one customer's own."""
    kwargs: dict[str, Any] = {"TableName": settings().requests_table_name, "Limit": limit}
    if username is not None:
        partition = ("gsi2pk", f"CUSTOMER#{username}")
        kwargs |= {
            "IndexName": BY_CUSTOMER_INDEX,
            "KeyConditionExpression": "gsi2pk = :customer",
            "ExpressionAttributeValues": {":customer": {"S": partition[1]}},
        }
        index_keys = {"pk", "sk", "gsi2pk", "gsi2sk"}
        if status is not None:
            kwargs["FilterExpression"] = "#status = :status"
            kwargs["ExpressionAttributeNames"] = {"#status": "status"}
            kwargs["ExpressionAttributeValues"][":status"] = {"S": str(status)}
    else:
        partition = ("gsi1pk", f"STATUS#{status or RequestStatus.PENDING}")
        kwargs |= {
            "IndexName": BY_STATUS_INDEX,
            "KeyConditionExpression": "gsi1pk = :status",
            "ExpressionAttributeValues": {":status": {"S": partition[1]}},
        }
        index_keys = {"pk", "sk", "gsi1pk", "gsi1sk"}
    if next_token:
        kwargs["ExclusiveStartKey"] = _decode_token(next_token, index_keys, partition)
    response = clients.dynamodb().query(**kwargs)
    items = tuple(RequestRecord.model_validate(deserialize(item)) for item in response.get("Items", []))
    last = response.get("LastEvaluatedKey")
    return Page(items=items, next_token=_encode_token(last) if last else None)


def _pending_update(
    request: RequestRecord, set_clause: str, values: dict[str, Any], status: RequestStatus
) -> TransactWriteItemTypeDef:
    """An update that only applies to the version of the pending request the caller read."""
    index = _index_keys(status, request)
    return {
        "Update": {
            "TableName": settings().requests_table_name,
            "Key": request_key(request.request_id),
            "UpdateExpression": f"SET {set_clause}, version = :next, gsi1pk = :gsi1pk, gsi1sk = :gsi1sk",
            "ConditionExpression": "#status = :pending AND version = :version",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": _serialize(
                {
                    **values,
                    ":pending": str(RequestStatus.PENDING),
                    ":version": request.version,
                    ":next": request.version + 1,
                    ":gsi1pk": index["gsi1pk"],
                    ":gsi1sk": index["gsi1sk"],
                }
            ),
        }
    }


def _transact_on_pending(request: RequestRecord, writes: list[TransactWriteItemTypeDef]) -> None:
    try:
        clients.dynamodb().transact_write_items(TransactItems=writes)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        raise Conflict(
            f"refund request {request.request_id} changed meanwhile (decided, cancelled or re-assessed); read it again"
        ) from error


def record_assessment(request: RequestRecord, assessment: Assessment, history: Iterable[HistoryEntry]) -> None:
    update = _pending_update(
        request,
        "assessment = :assessment",
        {":assessment": assessment.model_dump(mode="json", by_alias=True)},
        RequestStatus.PENDING,
    )
    _transact_on_pending(request, [update, *_history_put(request.request_id, history)])


def record_decision(
    request: RequestRecord, status: RequestStatus, decision: Decision, history: Iterable[HistoryEntry]
) -> None:
    """Decide a pending request and release the customer's open claim, or lose to whoever acted first."""
    update = _pending_update(
        request,
        "#status = :decided, decision = :decision",
        {":decided": str(status), ":decision": decision.model_dump(mode="json", by_alias=True)},
        status,
    )
    release_open_claim: TransactWriteItemTypeDef = {
        "Delete": {"TableName": settings().requests_table_name, "Key": _open_claim_key(request.username)}
    }
    _transact_on_pending(request, [update, release_open_claim, *_history_put(request.request_id, history)])


def record_cancellation(request: RequestRecord, history: Iterable[HistoryEntry]) -> None:
    """Withdraw a pending request: release the customer's open claim and free the order for a new claim."""
    table = settings().requests_table_name
    update = _pending_update(request, "#status = :cancelled", {":cancelled": "CANCELLED"}, RequestStatus.CANCELLED)
    writes: list[TransactWriteItemTypeDef] = [
        update,
        {"Delete": {"TableName": table, "Key": _open_claim_key(request.username)}},
        {
            "Delete": {
                "TableName": table,
                "Key": _order_claim_key(request.order_id),
                "ConditionExpression": "attribute_not_exists(pk) OR requestId = :request",
                "ExpressionAttributeValues": {":request": {"S": request.request_id}},
            }
        },
        *_history_put(request.request_id, history),
    ]
    _transact_on_pending(request, writes)


def append_history_once(request_id: str, entry: HistoryEntry, once_key: str) -> None:
    """Append one entry outside a transaction (the notifier's emails and events). `once_key` names what
    happened (say `email#decision`): a retried append of the same thing cannot add it twice. History is
    read in the order of `at`, so this key needs no timestamp."""
    item = {
        "pk": f"REQUEST#{request_id}",
        "sk": f"HISTORY#{once_key}",
        **entry.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    try:
        clients.dynamodb().put_item(
            TableName=settings().requests_table_name,
            Item=_serialize(item),
            ConditionExpression="attribute_not_exists(sk)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
