"""The service levels' days, in the requests table (docs/design.md "Service levels"):

- `SLA` / `DAY#<date>`: what the requests received that day and ended since add up to (`ReceivedDay`), one number
  attribute a count (`received`, `approved`, ..., `decidedOn#<date>`, `refunded#<currency>`), each changed by
  ADD, so that two requests ending at once both count;
- `SLA#<request id>` / `COUNTED`: that the request is counted, written in the same transaction on the condition
  that it was not: a request ends once, and the stream may give its change again;
- `SLA` / `RECOUNT`: the last Hong Kong day whose recount (app/service_levels.py) was taken.

A report reads the days of its period in one query, however many requests they hold."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from refund_core.adapters.dynamo import query_all, serialize, written
from refund_core.adapters.records import ReceivedDay
from refund_core.adapters.requests_table import cancellation_codes, transact
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

SLA_PARTITION = "SLA"
_DAY = "DAY#"
_DECIDED_ON = "decidedOn#"
_REFUNDED = "refunded#"
# The counts of a ReceivedDay that are numbers of requests, by their stored names.
_COUNTS = {
    field.alias or name: name
    for name, field in ReceivedDay.model_fields.items()
    if name not in ("decided_on", "refunded")
}


def _stored(day: ReceivedDay) -> dict[str, Decimal]:
    """A day's counts as the attributes that hold them: the numbers of requests that are not zero, the sums."""
    counts = {name: Decimal(getattr(day, field)) for name, field in _COUNTS.items()}
    counts |= {f"{_DECIDED_ON}{on.isoformat()}": Decimal(decided) for on, decided in day.decided_on.items()}
    counts = {name: value for name, value in counts.items() if value}
    # A refund of nothing is still a refund in that currency, as the report counted it from the requests.
    return counts | {f"{_REFUNDED}{currency}": amount for currency, amount in day.refunded.items()}


def _read(item: dict[str, Any]) -> tuple[date, ReceivedDay]:
    day = ReceivedDay.model_validate(
        {name: int(item[name]) for name in _COUNTS if name in item}
        | {
            "decidedOn": {
                name.removeprefix(_DECIDED_ON): int(value)
                for name, value in item.items()
                if name.startswith(_DECIDED_ON)
            },
            "refunded": {
                name.removeprefix(_REFUNDED): value for name, value in item.items() if name.startswith(_REFUNDED)
            },
        }
    )
    return date.fromisoformat(item["sk"].removeprefix(_DAY)), day


def count_ended(request_id: str, received_on: date, counts: ReceivedDay) -> bool:
    """Adds what a request that has ended counts for to the day it was received on, once: given again, it finds
    the request counted and adds nothing (False)."""
    table = settings().requests_table_name
    counted: TransactWriteItemTypeDef = {
        "Put": {
            "TableName": table,
            "Item": serialize(
                {"pk": f"{SLA_PARTITION}#{request_id}", "sk": "COUNTED", "receivedOn": received_on.isoformat()}
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    added = _stored(counts)
    day: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": table,
            "Key": serialize({"pk": SLA_PARTITION, "sk": f"{_DAY}{received_on.isoformat()}"}),
            "UpdateExpression": "ADD " + ", ".join(f"#c{position} :c{position}" for position in range(len(added))),
            "ExpressionAttributeNames": {f"#c{position}": name for position, name in enumerate(added)},
            "ExpressionAttributeValues": serialize(
                {f":c{position}": value for position, value in enumerate(added.values())}
            ),
        }
    }
    try:
        transact([counted, day])
    except ClientError as error:
        if "ConditionalCheckFailed" not in cancellation_codes(error):
            raise
        return False
    return True


def take_recount(today: date) -> bool:
    """True for the first caller of the day (`SLA` / `RECOUNT`, `recountedOn` set on the condition that it is
    before `today`): the day's recount is theirs."""
    return written(
        "update_item",
        TableName=settings().requests_table_name,
        Key=serialize({"pk": SLA_PARTITION, "sk": "RECOUNT"}),
        UpdateExpression="SET recountedOn = :today",
        ConditionExpression="attribute_not_exists(recountedOn) OR recountedOn < :today",
        ExpressionAttributeValues=serialize({":today": today.isoformat()}),
    )


def received_between(first: date, last: date) -> list[tuple[date, ReceivedDay]]:
    """Each day from `first` to `last` (both included) that had requests, with what they add up to."""
    return [
        _read(item)
        for item in query_all(
            {
                "TableName": settings().requests_table_name,
                "KeyConditionExpression": "pk = :sla AND sk BETWEEN :first AND :last",
                "ExpressionAttributeValues": serialize(
                    {
                        ":sla": SLA_PARTITION,
                        ":first": f"{_DAY}{first.isoformat()}",
                        ":last": f"{_DAY}{last.isoformat()}",
                    }
                ),
                "ConsistentRead": True,
            }
        )
    ]
