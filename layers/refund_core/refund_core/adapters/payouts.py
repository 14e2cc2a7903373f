"""Payouts in the requests table (`REQUEST#<requestId>` / `PAYOUT`, docs/design.md): the one module that knows
their key, their index entries and their conditions. A payout is put once, in its decision's transaction
(never a second for one request), and every change after is a put conditional on the version read, in one
transaction with its history entries and what it owes (emails, the delivery it ends). Each payout is also in
the ByStatus index under `PAYOUT#<state>`, by the moment it reached that state: what finance lists and what
the hourly look at payouts without news reads (eventually consistent: it only finds candidates)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, islice
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from refund_core.adapters.dynamo import call, decode_token, deserialize, encode_token, query_pages, serialize
from refund_core.adapters.owed_effects import not_being_delivered, owe_once_more
from refund_core.adapters.records import Effect, EffectState, OwedEffect
from refund_core.adapters.requests_table import (
    BY_STATUS_INDEX,
    cancellation_codes,
    effect_update,
    history_puts,
    owed_put,
    transact,
)
from refund_core.errors import Conflict
from refund_core.policy.models import HistoryEntry, utc_iso
from refund_core.policy.payouts import Payout, PayoutRoute, PayoutState
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

PAYOUT_SK = "PAYOUT"
_SENDING_NOW = "the payout is being sent this moment; try again in a few seconds"
_BATCH_GET_KEYS = 100


def _key(request_id: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"REQUEST#{request_id}"}, "sk": {"S": PAYOUT_SK}}


def _item(payout: Payout) -> dict[str, AttributeValueTypeDef]:
    return serialize(
        {
            "pk": f"REQUEST#{payout.request_id}",
            "sk": PAYOUT_SK,
            **payout.model_dump(mode="json", by_alias=True, exclude_none=True),
            "gsi1pk": f"PAYOUT#{payout.state}",
            "gsi1sk": f"{utc_iso(payout.state_since)}#{payout.request_id}",
        }
    )


def payout_put(payout: Payout) -> TransactWriteItemTypeDef:
    """The payout of a decision, in the decision's transaction: one per request, ever."""
    return {
        "Put": {
            "TableName": settings().requests_table_name,
            "Item": _item(payout),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def payout_from(item: dict[str, Any]) -> Payout:
    return Payout.model_validate(item)


def get_payout(request_id: str) -> Payout | None:
    response = call("get_item", TableName=settings().requests_table_name, Key=_key(request_id), ConsistentRead=True)
    item = response.get("Item")
    return payout_from(deserialize(item)) if item else None


def payouts_of(request_ids: Iterable[str]) -> dict[str, Payout]:
    """The payouts of these requests (those that have one), read consistently, 100 a BatchGetItem."""
    ids = list(dict.fromkeys(request_ids))
    found: dict[str, Payout] = {}
    table = settings().requests_table_name
    for first in range(0, len(ids), _BATCH_GET_KEYS):
        unprocessed: dict[str, Any] = {
            table: {"Keys": [_key(request_id) for request_id in ids[first : first + _BATCH_GET_KEYS]],
                    "ConsistentRead": True}
        }  # fmt: skip
        while unprocessed:
            response = call("batch_get_item", RequestItems=unprocessed)
            for item in response.get("Responses", {}).get(table, []):
                payout = payout_from(deserialize(item))
                found[payout.request_id] = payout
            unprocessed = dict(response.get("UnprocessedKeys") or {})
    return found


@dataclass(frozen=True)
class Done:
    """The delivery a change ends: its owed effect is done, by the delivery that holds it (its lease)."""

    owed: OwedEffect
    outcome: str
    at: datetime


def _done(done: Done) -> TransactWriteItemTypeDef:
    return effect_update(
        done.owed.request_id,
        done.owed.effect,
        "SET #state = :done, doneAt = :at, outcome = :outcome REMOVE leaseUntil, nextAttemptAt, gsi3pk, gsi3sk",
        "#state = :sending AND leaseUntil = :lease",
        {
            ":done": str(EffectState.DONE),
            ":sending": str(EffectState.SENDING),
            ":at": utc_iso(done.at),
            ":outcome": done.outcome[:500],
            ":lease": utc_iso(done.owed.lease_until) if done.owed.lease_until else "",
        },
    )


def record_change(
    read: Payout,
    changed: Payout,
    history: Iterable[HistoryEntry],
    *,
    owed: Iterable[Effect] = (),
    owed_again: Iterable[Effect] = (),
    done: Done | None = None,
    while_not_sending: bool = False,
) -> bool:
    """`read` becomes `changed`, with its history and what it owes; False when the payout is no longer at the
    version read (another change came first: read it again) or the delivery no longer holds its lease.
    `while_not_sending`: only while no delivery is sending it (a Conflict to try again in a moment)."""
    at = changed.state_since
    writes: list[TransactWriteItemTypeDef] = [
        {
            "Put": {
                "TableName": settings().requests_table_name,
                "Item": _item(changed),
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": {"N": str(read.version)}},
            }
        },
        *history_puts(changed.request_id, history),
        *(owed_put(changed.request_id, effect, at) for effect in owed),
        # A payout with finance from the start was never owed a sending: sent through its route now, it is.
        *(owe_once_more(changed.request_id, effect, at, _SENDING_NOW) for effect in owed_again),
        *((_done(done),) if done else ()),
        *((not_being_delivered(changed.request_id, Effect.PAYOUT, at),) if while_not_sending else ()),
    ]
    try:
        transact(writes)
    except ClientError as error:
        codes = cancellation_codes(error)
        if while_not_sending and codes[-1:] == ["ConditionalCheckFailed"]:
            raise Conflict(_SENDING_NOW, code="try_again") from error
        if "ConditionalCheckFailed" in codes:
            return False
        raise
    return True


def record_delivery_done(done: Done, entry: HistoryEntry | None = None) -> None:
    """The payout's delivery done without a change of the payout (billing asked; nothing left to send)."""
    transact([_done(done), *(history_puts(done.owed.request_id, [entry]) if entry else [])])


@dataclass(frozen=True)
class PayoutPage:
    items: tuple[Payout, ...]
    next_token: str | None


def sent_through(route: PayoutRoute, before: datetime, most: int) -> list[Payout]:
    """Up to `most` payouts `SENT` through `route` before `before`, longest there first: those of other routes
    (billing's, waiting days for its news) filtered out, not counted, whatever their number."""
    arguments: dict[str, Any] = {
        "TableName": settings().requests_table_name,
        "IndexName": BY_STATUS_INDEX,
        "KeyConditionExpression": "gsi1pk = :state AND gsi1sk < :before",
        "FilterExpression": "#route = :route",
        "ExpressionAttributeNames": {"#route": "route"},
        "ExpressionAttributeValues": serialize(
            {":state": f"PAYOUT#{PayoutState.SENT}", ":before": utc_iso(before), ":route": str(route)}
        ),
    }
    # Pages are read only until `most` are found.
    return [payout_from(item) for item in islice(chain.from_iterable(query_pages(arguments)), most)]


def payouts_in(state: PayoutState, before: datetime | None, limit: int, next_token: str | None = None) -> PayoutPage:
    """Payouts in `state` since before `before` (all, when None), longest there first."""
    partition = ("gsi1pk", f"PAYOUT#{state}")
    condition = "gsi1pk = :state" + (" AND gsi1sk < :before" if before else "")
    values: dict[str, AttributeValueTypeDef] = {":state": {"S": partition[1]}}
    if before:
        values[":before"] = {"S": utc_iso(before)}
    arguments: dict[str, Any] = {
        "TableName": settings().requests_table_name,
        "IndexName": BY_STATUS_INDEX,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "Limit": limit,
    }
    if next_token:
        arguments["ExclusiveStartKey"] = decode_token(next_token, {"pk", "sk", "gsi1pk", "gsi1sk"}, partition)
    response = call("query", **arguments)
    last = response.get("LastEvaluatedKey")
    return PayoutPage(
        items=tuple(payout_from(deserialize(item)) for item in response.get("Items", [])),
        next_token=encode_token(last) if last else None,
    )
