"""What the supervisors' reports, the retention and the policy's simulation read of the requests table: the
requests received in a period (the ByReceived index, by month), the open ones (ByStatus), and every request of a
period whole, a page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from refund_core.adapters.dynamo import batch_get, call, query_all, serialize
from refund_core.adapters.records import ReportedRequest, RequestRecord
from refund_core.adapters.repository import BY_STATUS_INDEX
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


def requests_received(start: datetime, before: datetime) -> list[ReportedRequest]:
    """Every request received from `start` to just before `before`, oldest first (the ByReceived index:
    what was written a moment ago may be a moment late). Requests the first release recorded are not in it."""
    found: list[ReportedRequest] = []
    for month in _months(start, before):
        found += [
            ReportedRequest.model_validate(item)
            for item in query_all(
                {
                    "TableName": settings().requests_table_name,
                    "IndexName": BY_RECEIVED_INDEX,
                    "KeyConditionExpression": "gsi4pk = :month AND gsi4sk BETWEEN :start AND :before",
                    "ExpressionAttributeValues": serialize(
                        {":month": f"RECEIVED#{month}", ":start": utc_iso(start), ":before": utc_iso(before)}
                    ),
                }
            )
        ]
    return found


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
