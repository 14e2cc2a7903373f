"""Personal data past its retention (the policy's `personalDataYears`): the requests table's writes that reduce
a decided request to what the financial record needs, and the mark of how far the erasure has gone. The only
module that knows the mark's key and the erasure's conditions."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from refund_core.adapters.dynamo import call, deserialize, query_all, serialize, written
from refund_core.adapters.records import EVIDENCE_SK_PREFIX, RequestRecord
from refund_core.adapters.requests_table import cancellation_codes, history_puts, request_key, transact
from refund_core.policy.models import HistoryEntry, utc_iso
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

_MARK_KEY: dict[str, AttributeValueTypeDef] = {"pk": {"S": "RETENTION"}, "sk": {"S": "PERSONAL_DATA"}}
_WRITES_PER_TRANSACTION = 100


def erased_through() -> date | None:
    """The last day of receipt whose requests the erasure has looked at (None: it never ran)."""
    response = call("get_item", TableName=settings().requests_table_name, Key=_MARK_KEY, ConsistentRead=True)
    item = response.get("Item")
    return date.fromisoformat(deserialize(item)["erasedThrough"]) if item else None


def mark_erased_through(day: date, seen: date | None) -> bool:
    """Moves the mark from `seen` (what this run read) to `day`; False when another run moved it meanwhile."""
    condition = "attribute_not_exists(pk)" if seen is None else "erasedThrough = :seen"
    values = {} if seen is None else {":seen": {"S": seen.isoformat()}}
    return written(
        "put_item",
        TableName=settings().requests_table_name,
        Item={**_MARK_KEY, "erasedThrough": {"S": day.isoformat()}},
        ConditionExpression=condition,
        **({"ExpressionAttributeValues": values} if values else {}),
    )


def _item_keys(request_id: str, prefix: str) -> list[dict[str, AttributeValueTypeDef]]:
    found = query_all(
        {
            "TableName": settings().requests_table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"REQUEST#{request_id}"}, ":prefix": {"S": prefix}},
            "ProjectionExpression": "pk, sk",
            "ConsistentRead": True,
        }
    )
    return [serialize(key) for key in found]


def erase_personal_data(request: RequestRecord, erased: HistoryEntry, decision_reasons: tuple[str, ...]) -> bool:
    """Reduces the decided `request` to its financial record: the reason, the letter, the address, the facts
    read, the last question to the customer, the evidence's items and the reviewer's note to the customer go, and every history entry's detail; the ids, amounts,
    dates, status and grounds stay. The history's details go first (each removal may be done again); the
    request item last, on the version read and only once, with the entry saying so. False: it changed since it
    was read, or was erased already."""
    table = settings().requests_table_name
    removals: list[TransactWriteItemTypeDef] = [
        {
            "Update": {
                "TableName": table,
                "Key": key,
                "UpdateExpression": "REMOVE detail",
                "ConditionExpression": "attribute_exists(pk)",
            }
        }
        for key in _item_keys(request.request_id, "HISTORY#")
    ]
    # The evidence's items go whole (their files are deleted before): a name may say as much as a letter.
    removals += [
        {"Delete": {"TableName": table, "Key": key}} for key in _item_keys(request.request_id, EVIDENCE_SK_PREFIX)
    ]
    for first in range(0, len(removals), _WRITES_PER_TRANSACTION):
        transact(removals[first : first + _WRITES_PER_TRANSACTION])
    values: dict[str, Any] = {
        ":seen": request.version,
        ":next": request.version + 1,
        ":at": utc_iso(erased.at),
        ":empty": "",
        ":null": "NULL",
    }
    update = "SET reason = :empty, personalDataErasedAt = :at, version = :next"
    if request.decision is not None:
        update += ", decision.reasons = :reasons"
        values[":reasons"] = list(decision_reasons)
    update += " REMOVE customerEmail, letter, facts, question" + (
        ", decision.note" if request.decision is not None else ""
    )
    try:
        transact(
            [
                {
                    "Update": {
                        "TableName": table,
                        "Key": request_key(request.request_id),
                        "UpdateExpression": update,
                        # Written as null by requests stored before it was left out when absent.
                        "ConditionExpression": "version = :seen AND (attribute_not_exists(personalDataErasedAt)"
                        " OR attribute_type(personalDataErasedAt, :null))",
                        "ExpressionAttributeValues": serialize(values),
                    }
                },
                *history_puts(request.request_id, [erased]),
            ]
        )
    except ClientError as error:
        if "ConditionalCheckFailed" in cancellation_codes(error):
            return False
        raise
    return True
