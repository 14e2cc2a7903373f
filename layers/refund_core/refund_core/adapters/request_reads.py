"""What the listings, the supervisors' reports, the retention and the policy's simulation read of the requests
table: a page of the reviewers' queue or of a customer's requests (ByStatus, ByCustomer), the requests held by
a customer's orders, the requests received in a period (the ByReceived index, by month), the open ones
(ByStatus), and every request of a period whole, a page at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from refund_core.adapters.customer_claims import order_claim_key
from refund_core.adapters.dynamo import (
    Page,
    batch_get,
    call,
    decode_token,
    deserialize,
    encode_token,
    query_all,
    query_pages,
    serialize,
)
from refund_core.adapters.records import ReportedRequest, RequestRecord
from refund_core.adapters.requests_table import BY_CUSTOMER_INDEX, BY_STATUS_INDEX, request_key
from refund_core.policy.models import RequestStatus, utc_iso
from refund_core.settings import settings

BY_RECEIVED_INDEX = "ByReceived"


def _months(start: datetime, before: datetime) -> list[str]:
    """The UTC months (`YYYY-MM`) from `start` to just before `before`."""
    month = start.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    months = []
    while month < before:
        months.append(f"{month:%Y-%m}")
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def received_in_pages(start: datetime, before: datetime) -> Iterator[list[ReportedRequest]]:
    """The requests received from `start` to just before `before`, oldest first, a Query page (at most 1 MB) at a
    time (the ByReceived index: what was written a moment ago may be a moment late). Requests the first release
    recorded are not in it."""
    for month in _months(start, before):
        arguments = {
            "TableName": settings().requests_table_name,
            "IndexName": BY_RECEIVED_INDEX,
            "KeyConditionExpression": "gsi4pk = :month AND gsi4sk BETWEEN :start AND :before",
            "ExpressionAttributeValues": serialize(
                {":month": f"RECEIVED#{month}", ":start": utc_iso(start), ":before": utc_iso(before)}
            ),
        }
        for page in query_pages(arguments):
            yield [ReportedRequest.model_validate(item) for item in page]


def open_requests() -> list[ReportedRequest]:
    """Every pending request (the ByStatus index)."""
    return [
        ReportedRequest.model_validate(item)
        for item in query_all(
            {
                "TableName": settings().requests_table_name,
                "IndexName": BY_STATUS_INDEX,
                "KeyConditionExpression": "gsi1pk = :pending",
                "ExpressionAttributeValues": {":pending": {"S": f"STATUS#{RequestStatus.PENDING}"}},
            }
        )
    ]


_REPLAY_KEYS_PER_PAGE = 1000  # about 100 KB of keys, well under a Query page's 1 MB
_BATCH_GET_KEYS = 100  # BatchGetItem's limit


def requests_to_replay(start: datetime, before: datetime) -> Iterator[RequestRecord]:
    """Every request received from `start` to just before `before`, oldest first, a page at a time: the
    ByReceived index names them (its keys only, up to 1,000 a page), and the request items are read
    consistently, 100 per BatchGetItem. Memory holds one page, however long the period."""
    for month in _months(start, before):
        arguments: dict[str, Any] = {
            "TableName": settings().requests_table_name,
            "IndexName": BY_RECEIVED_INDEX,
            "KeyConditionExpression": "gsi4pk = :month AND gsi4sk BETWEEN :start AND :before",
            "ExpressionAttributeValues": serialize(
                {":month": f"RECEIVED#{month}", ":start": utc_iso(start), ":before": utc_iso(before)}
            ),
            "ProjectionExpression": "pk, sk",
            "Limit": _REPLAY_KEYS_PER_PAGE,
        }
        while True:
            response = call("query", **arguments)
            keys = [{"pk": item["pk"], "sk": item["sk"]} for item in response.get("Items", [])]
            for first in range(0, len(keys), _BATCH_GET_KEYS):
                batch = keys[first : first + _BATCH_GET_KEYS]
                # Read whole: DynamoDB bills a read by the item's size whatever it projects, and a projection
                # made the local emulator copy every item (a simulation of 700 requests outlasted the API's 29 s).
                found = {item["requestId"]: item for item in batch_get(settings().requests_table_name, batch)}
                # ... in the order received; one deleted since the index named it is not replayed.
                for key in batch:
                    item = found.get(key["pk"]["S"].removeprefix("REQUEST#"))
                    if item is not None:
                        yield RequestRecord.model_validate(item)
            if "LastEvaluatedKey" not in response:
                break
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


@dataclass(frozen=True)
class RequestFilter:
    """What a listing narrows to (API.md "GET /refund-requests filters"); None: not narrowed."""

    status: RequestStatus | None = None
    username: str | None = None
    overdue: bool | None = None
    order_id: str | None = None
    received_from: datetime | None = None  # inclusive
    received_before: datetime | None = None  # exclusive
    held_by: str | None = None  # the reviewer who took them


def list_requests(*, narrowed: RequestFilter, limit: int, next_token: str | None) -> Page[RequestRecord]:
    """One customer's own (their index), else by status across customers (the reviewers' queue, oldest
    deadline first), narrowed as `narrowed` says. A page of `limit` index entries may hold fewer requests."""
    kwargs: dict[str, Any] = {"TableName": settings().requests_table_name, "Limit": limit}
    values: dict[str, Any] = {}
    conditions: list[str] = []
    if narrowed.username is not None:
        partition = ("gsi2pk", f"CUSTOMER#{narrowed.username}")
        kwargs |= {"IndexName": BY_CUSTOMER_INDEX, "KeyConditionExpression": "gsi2pk = :partition"}
        index_keys = {"pk", "sk", "gsi2pk", "gsi2sk"}
        if narrowed.status is not None:
            conditions.append("#status = :status")
            values[":status"] = str(narrowed.status)
    else:
        partition = ("gsi1pk", f"STATUS#{narrowed.status or RequestStatus.PENDING}")
        kwargs |= {"IndexName": BY_STATUS_INDEX, "KeyConditionExpression": "gsi1pk = :partition"}
        index_keys = {"pk", "sk", "gsi1pk", "gsi1sk"}
    values[":partition"] = partition[1]
    if narrowed.overdue is not None:
        conditions.append("overdue = :overdue")
        values[":overdue"] = narrowed.overdue
    if narrowed.order_id is not None:
        conditions.append("orderId = :order")
        values[":order"] = narrowed.order_id
    if narrowed.held_by is not None:
        conditions.append("heldBy = :holder")
        values[":holder"] = narrowed.held_by
    if narrowed.received_from is not None:
        conditions.append("receivedAt >= :from")
        values[":from"] = utc_iso(narrowed.received_from)
    if narrowed.received_before is not None:
        conditions.append("receivedAt < :before")
        values[":before"] = utc_iso(narrowed.received_before)
    if conditions:
        kwargs["FilterExpression"] = " AND ".join(conditions)
    if "#status" in kwargs.get("FilterExpression", ""):
        kwargs["ExpressionAttributeNames"] = {"#status": "status"}
    kwargs["ExpressionAttributeValues"] = serialize(values)
    if next_token:
        kwargs["ExclusiveStartKey"] = decode_token(next_token, index_keys, partition)
    response = call("query", **kwargs)
    items = tuple(RequestRecord.model_validate(deserialize(item)) for item in response.get("Items", []))
    last = response.get("LastEvaluatedKey")
    return Page(items=items, next_token=encode_token(last) if last else None)


@dataclass(frozen=True)
class OrderRequest:
    request_id: str
    status: RequestStatus


def requests_of_orders(username: str, order_ids: Iterable[str]) -> dict[str, OrderRequest]:
    """Each order's request that was not cancelled (its order claim holds it), with that request's status; only
    `username`'s own: an order billing moved to them shows nothing of its owner's before."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        return {}
    claims = batch_get(settings().requests_table_name, [order_claim_key(order_id) for order_id in ids])
    held = {str(item["pk"]).removeprefix("ORDER#"): str(item["requestId"]) for item in claims if item.get("requestId")}
    if not held:
        return {}
    requests = batch_get(
        settings().requests_table_name,
        [request_key(request_id) for request_id in held.values()],
        "requestId, #status, username",
    )
    status = {
        str(item["requestId"]): RequestStatus(item["status"]) for item in requests if item["username"] == username
    }
    return {
        order_id: OrderRequest(request_id, status[request_id])
        for order_id, request_id in held.items()
        if request_id in status
    }
