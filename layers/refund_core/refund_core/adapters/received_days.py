"""The service levels' days, in the requests table (docs/design.md "Service levels"):

- `SLA` / `DAY#<date>`: what the requests received that day add up to (`ReceivedDay`), one number attribute a
  count (`received`, `approved`, ..., `decidedOn#<date>`, `refunded#<currency>`), each changed by ADD, so that
  two changes at once both count;
- `SLA#<request id>` / `COUNTED`: what that request is counted as, written in the same transaction under the
  condition that it is still what the change's old image was counted as: a change the stream gives again is
  not counted twice.

A report reads the days of its period in one query, however many requests they hold."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from refund_core.adapters.dynamo import query_all, serialize
from refund_core.adapters.records import ReceivedDay
from refund_core.adapters.requests_table import cancellation_reasons, transact
from refund_core.observability import count, logger
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
    """A day's counts as the attributes that hold them, those that are not zero."""
    counts = {name: Decimal(getattr(day, field)) for name, field in _COUNTS.items()}
    counts |= {f"{_DECIDED_ON}{on.isoformat()}": Decimal(decided) for on, decided in day.decided_on.items()}
    counts |= {f"{_REFUNDED}{currency}": amount for currency, amount in day.refunded.items()}
    return {name: value for name, value in counts.items() if value}


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


def _signature(counts: dict[str, Decimal]) -> str:
    return json.dumps({name: str(value) for name, value in counts.items()}, sort_keys=True)


def count_change(request_id: str, received_on: date, was: ReceivedDay | None, now: ReceivedDay) -> None:
    """Adds what the request counts for `now` (and no longer for `was`, the change's old image, None for a new
    request) to the day it was received on, once: a change given again finds the request counted as `now`
    already and adds nothing. A request never counted (stored before the days were kept) is counted as it
    stands; one counted as neither `was` nor `now` (a change the stream lost) adds nothing, and says so."""
    before, after = (_stored(was) if was else {}), _stored(now)
    change = {name: after.get(name, Decimal(0)) - before.get(name, Decimal(0)) for name in before | after}
    change = {name: value for name, value in change.items() if value}
    if not change:
        return
    table = settings().requests_table_name
    counted: TransactWriteItemTypeDef = {
        "Put": {
            "TableName": table,
            "Item": serialize(
                {
                    "pk": f"{SLA_PARTITION}#{request_id}",
                    "sk": "COUNTED",
                    "receivedOn": received_on.isoformat(),
                    "counted": _signature(after),
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)" if was is None else "counted = :was",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    if was is not None:
        counted["Put"]["ExpressionAttributeValues"] = serialize({":was": _signature(before)})
    added: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": table,
            "Key": serialize({"pk": SLA_PARTITION, "sk": f"{_DAY}{received_on.isoformat()}"}),
            "UpdateExpression": "ADD " + ", ".join(f"#c{position} :c{position}" for position in range(len(change))),
            "ExpressionAttributeNames": {f"#c{position}": name for position, name in enumerate(change)},
            "ExpressionAttributeValues": serialize(
                {f":c{position}": value for position, value in enumerate(change.values())}
            ),
        }
    }
    try:
        transact([counted, added])
    except ClientError as error:
        reasons = cancellation_reasons(error)
        if not reasons or reasons[0].get("Code") != "ConditionalCheckFailed":
            raise
        found = reasons[0].get("Item", {}).get("counted", {}).get("S")
        if found is None and was is not None:
            # Never counted (stored before the days were kept): counted now as it stands.
            count_change(request_id, received_on, None, now)
        elif found != _signature(after):
            logger.warning("request not counted in the service levels", request_id=request_id, counted_as=found)
            count("ServiceLevelsNotCounted")


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
