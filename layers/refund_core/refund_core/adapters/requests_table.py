"""The requests table's writes that every part of it shares: a request's key, its history entries, what it
owes (docs/design.md "What requests owe"), and the transactions they go in, tried again while another
transaction on the same item is in the way. The keys of each kind of item are the module of that kind's
(repository: requests and claims; payouts: payouts)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from refund_core.adapters.dynamo import call, deserialize, serialize
from refund_core.adapters.records import OWED_SK_PREFIX, REQUEST_SK, Effect, EffectState, OwedEffect
from refund_core.errors import Conflict
from refund_core.observability import count
from refund_core.policy.models import HistoryEntry, utc_iso
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        ConditionCheckTypeDef,
        TransactWriteItemTypeDef,
    )

OWED_INDEX = "ByOwed"
# The reviewers' queue (a status, oldest deadline first) and each customer's requests.
BY_STATUS_INDEX = "ByStatus"
BY_CUSTOMER_INDEX = "ByCustomer"
OWED_PARTITION = "OWED"
CONFLICT_TRIES = 5
_CONFLICT_BACKOFF_SECONDS = 0.02


def request_key(request_id: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"REQUEST#{request_id}"}, "sk": {"S": REQUEST_SK}}


def history_put(request_id: str, entry: HistoryEntry, key: str) -> TransactWriteItemTypeDef:
    """One history entry of the request under `HISTORY#<key>` (history is read in the order of `at`, whatever
    the key: a key that names what happened, not when, keeps one entry of it however often it is written)."""
    item = {
        "pk": f"REQUEST#{request_id}",
        "sk": f"HISTORY#{key}",
        **entry.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    return {"Put": {"TableName": settings().requests_table_name, "Item": serialize(item)}}


def history_puts(request_id: str, entries: Iterable[HistoryEntry]) -> list[TransactWriteItemTypeDef]:
    return [
        history_put(request_id, entry, f"{utc_iso(entry.at)}#{position:02d}-{entry.event}")
        for position, entry in enumerate(entries)
    ]


def cancellation_reasons(error: ClientError) -> list[dict[str, Any]]:
    return [dict(reason) for reason in error.response.get("CancellationReasons") or []]


def cancellation_codes(error: ClientError) -> list[str]:
    return [str(reason.get("Code", "None")) for reason in cancellation_reasons(error)]


def transact(writes: list[TransactWriteItemTypeDef]) -> None:
    """TransactWriteItems, tried again with jitter while it is cancelled by a conflicting transaction only (two
    at once on one item): what it conflicted with may have changed nothing it checks. A cancellation for a
    failed condition is the caller's to read (`TransactionCanceledException`); a conflict that outlasts the
    tries is a Conflict (409)."""
    for attempt in range(CONFLICT_TRIES):
        try:
            call("transact_write_items", TransactItems=writes)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            codes = set(cancellation_codes(error))
            if "ConditionalCheckFailed" in codes or not codes & {"TransactionConflict"}:
                raise
            count("TransactionConflicts")
            time.sleep(random.uniform(0, _CONFLICT_BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter, not a secret
    raise Conflict("another change to the same claim came at the same moment; try again", code="try_again")


def transact_or_conflict(writes: list[TransactWriteItemTypeDef], message: str, code: str) -> None:
    """A transaction whose failed condition means the item changed since it was read: a Conflict saying so."""
    try:
        transact(writes)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        raise Conflict(message, code=code) from error


def owed_key(request_id: str, effect: Effect) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"REQUEST#{request_id}"}, "sk": {"S": f"{OWED_SK_PREFIX}{effect}"}}


def owed_put(request_id: str, effect: Effect, owed_at: datetime) -> TransactWriteItemTypeDef:
    owed = OwedEffect(request_id=request_id, effect=effect, owed_at=owed_at)
    item = {
        "pk": f"REQUEST#{request_id}",
        "sk": f"{OWED_SK_PREFIX}{effect}",
        **owed.model_dump(mode="json", by_alias=True, exclude_none=True),
        # The sparse index of what is owed: gone once done, so the reconciler reads only what waits.
        "gsi3pk": OWED_PARTITION,
        "gsi3sk": f"{utc_iso(owed_at)}#{request_id}#{effect}",
    }
    return {
        "Put": {
            "TableName": settings().requests_table_name,
            "Item": serialize(item),
            "ConditionExpression": "attribute_not_exists(sk)",
        }
    }


def effect_update(
    request_id: str,
    effect: Effect,
    update: str,
    condition: str,
    values: dict[str, Any],
    *,
    names: dict[str, str] | None = None,
) -> TransactWriteItemTypeDef:
    return {"Update": {**_on_owed_item(request_id, effect, condition, values, names), "UpdateExpression": update}}


def effect_condition(
    request_id: str, effect: Effect, condition: str, values: dict[str, Any]
) -> TransactWriteItemTypeDef:
    """A ConditionCheck, in a transaction, of the item of what the request owes (its `#state` named)."""
    return {"ConditionCheck": _on_owed_item(request_id, effect, condition, values)}


def _on_owed_item(
    request_id: str, effect: Effect, condition: str, values: dict[str, Any], names: dict[str, str] | None = None
) -> ConditionCheckTypeDef:
    """What a write or a check of the item of what the request owes says: where it is, and on what condition."""
    return {
        "TableName": settings().requests_table_name,
        "Key": owed_key(request_id, effect),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#state": "state", **(names or {})},
        "ExpressionAttributeValues": serialize(values),
    }


def owed_again(request_id: str, effect: Effect, at: datetime) -> TransactWriteItemTypeDef:
    """A done delivery owed once more (a payout sent again, another question asked): back in the index of what
    is owed."""
    return effect_update(
        request_id,
        effect,
        "SET #state = :owed, owedAt = :at, attempts = :zero, gsi3pk = :partition, gsi3sk = :sort "
        "REMOVE leaseUntil, nextAttemptAt, doneAt",
        "#state IN (:done, :uncertain)",
        {
            ":owed": str(EffectState.OWED),
            ":done": str(EffectState.DONE),
            ":uncertain": str(EffectState.UNCERTAIN),
            ":at": utc_iso(at),
            ":zero": 0,
            ":partition": OWED_PARTITION,
            ":sort": f"{utc_iso(at)}#{request_id}#{effect}",
        },
    )


def _sent_email_key(message_id: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"SENT#{message_id}"}, "sk": {"S": "SENT"}}


def sent_email_put(message_id: str, request_id: str) -> TransactWriteItemTypeDef:
    """Which request an email SES sent (its message id) was about: what threads a customer's reply to it."""
    item = {**_sent_email_key(message_id), "requestId": {"S": request_id}}
    return {"Put": {"TableName": settings().requests_table_name, "Item": item}}


def request_of_sent_email(message_id: str) -> str | None:
    response = call(
        "get_item",
        TableName=settings().requests_table_name,
        Key=_sent_email_key(message_id),
        ConsistentRead=True,
    )
    item = response.get("Item")
    return str(deserialize(item)["requestId"]) if item else None
