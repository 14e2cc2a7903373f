"""What requests owe (docs/design.md "What requests owe"), in the requests table: each effect's item taken with a
lease for one delivery, done (with its history entry and, for an email, which request SES's message id was
about), owed again after a failure, or marked uncertain; and the sparse index of what is still owed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from refund_core.adapters.dynamo import Page, call, decode_token, deserialize, encode_token
from refund_core.adapters.records import EffectState, OwedEffect
from refund_core.adapters.requests_table import (
    OWED_INDEX,
    OWED_PARTITION,
    effect_condition,
    effect_update,
    history_put,
    owed_again,
    owed_key,
    owed_put,
    sent_email_put,
    transact,
)
from refund_core.errors import Conflict
from refund_core.policy.models import HistoryEntry, utc_iso
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from refund_core.adapters.records import Effect


def take_effect(request_id: str, effect: Effect, now: datetime, lease_seconds: float) -> OwedEffect | None:
    """Holds an owed effect for one delivery until its lease ends; None when it is not owed (done, held by
    another delivery, uncertain, or not there)."""
    lease_until = now + timedelta(seconds=lease_seconds)
    update = effect_update(
        request_id,
        effect,
        "SET #state = :sending, leaseUntil = :lease, attempts = attempts + :one",
        "#state = :owed",
        {
            ":sending": str(EffectState.SENDING),
            ":owed": str(EffectState.OWED),
            ":lease": utc_iso(lease_until),
            ":one": 1,
        },
    )["Update"]
    try:
        response = call("update_item", **update, ReturnValues="ALL_NEW")
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    return OwedEffect.model_validate(deserialize(response["Attributes"]))


def effect_state(request_id: str, effect: Effect) -> EffectState | None:
    """Where an owed effect of the request stands (None: it was never owed), read consistently."""
    response = call(
        "get_item",
        TableName=settings().requests_table_name,
        Key=owed_key(request_id, effect),
        ProjectionExpression="#state",
        ExpressionAttributeNames={"#state": "state"},
        ConsistentRead=True,
    )
    item = response.get("Item")
    return EffectState(deserialize(item)["state"]) if item else None


def owe_once_more(request_id: str, effect: Effect, at: datetime, busy: str) -> TransactWriteItemTypeDef:
    """The write that owes `effect` once more: owed for the first time, owed again once its last delivery ended,
    or left owed (the delivery to come does what is owed now), each conditional on the state read. A delivery
    holding it this moment is a moment's conflict, which `busy` explains."""
    state = effect_state(request_id, effect)
    if state is None:
        return owed_put(request_id, effect, at)
    if state in (EffectState.DONE, EffectState.UNCERTAIN):
        return owed_again(request_id, effect, at)
    if state is EffectState.OWED:
        return effect_condition(request_id, effect, "#state = :owed", {":owed": str(EffectState.OWED)})
    raise Conflict(busy, code="try_again")


def not_being_delivered(request_id: str, effect: Effect, now: datetime) -> TransactWriteItemTypeDef:
    """A condition of a transaction: no delivery holds `effect` this moment (never owed, not taken, or its lease
    over), so that what the transaction changes cannot race a delivery in flight."""
    return effect_condition(
        request_id,
        effect,
        "attribute_not_exists(pk) OR #state <> :sending OR leaseUntil < :now",
        {":sending": str(EffectState.SENDING), ":now": utc_iso(now)},
    )


def effect_done(owed: OwedEffect, outcome: str, at: datetime, entry: HistoryEntry, *, sent_email: bool = False) -> None:
    """Done, as the delivery holding it says: out of the index of what is owed, and in the request's history."""
    update = effect_update(
        owed.request_id,
        owed.effect,
        "SET #state = :done, doneAt = :at, outcome = :outcome REMOVE leaseUntil, nextAttemptAt, gsi3pk, gsi3sk",
        "#state = :sending AND leaseUntil = :lease",
        {
            ":done": str(EffectState.DONE),
            ":sending": str(EffectState.SENDING),
            ":at": utc_iso(at),
            ":outcome": outcome,
            ":lease": utc_iso(owed.lease_until) if owed.lease_until else "",
        },
    )
    # Keyed by what happened (`email#decision`), not when: one entry of it.
    history = history_put(owed.request_id, entry, owed.history_key)
    # An email's Message-ID is SES's id: a reply that names it (In-Reply-To, References) finds its request.
    sent = (sent_email_put(outcome, owed.request_id),) if sent_email else ()
    transact([update, history, *sent])


def effect_waits(owed: OwedEffect, next_attempt_at: datetime, reason: str) -> None:
    """Not done this time (SES failed, or no address yet): owed again, to try from `next_attempt_at`."""
    update = effect_update(
        owed.request_id,
        owed.effect,
        "SET #state = :owed, nextAttemptAt = :next, outcome = :reason REMOVE leaseUntil",
        "#state = :sending AND leaseUntil = :lease",
        {
            ":owed": str(EffectState.OWED),
            ":sending": str(EffectState.SENDING),
            ":next": utc_iso(next_attempt_at),
            ":reason": reason[:500],
            ":lease": utc_iso(owed.lease_until) if owed.lease_until else "",
        },
    )["Update"]
    try:
        call("update_item", **update)
    except ClientError as error:  # lost the lease meanwhile: whoever holds it now decides
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def effect_uncertain(owed: OwedEffect, reason: str) -> bool:
    """A delivery's lease ran out with nothing recorded: SES may have sent it. Marked so, never repeated without
    a person (docs/design.md "What requests owe"), and moved to the index's `UNCERTAIN` partition, where
    operators list them and the reconciler no longer reads them; False when it changed meanwhile."""
    update = effect_update(
        owed.request_id,
        owed.effect,
        "SET #state = :uncertain, outcome = :reason, gsi3pk = :uncertain",
        "#state = :sending AND leaseUntil = :lease",
        {
            ":uncertain": str(EffectState.UNCERTAIN),
            ":sending": str(EffectState.SENDING),
            ":reason": reason,
            ":lease": utc_iso(owed.lease_until) if owed.lease_until else "",
        },
    )["Update"]
    try:
        call("update_item", **update)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def owed_effects(before: datetime, limit: int, next_token: str | None = None) -> Page[OwedEffect]:
    """What is still owed, owed before `before`, oldest first, from the sparse index of what is owed
    (eventually consistent: each delivery takes its effect with a conditional write)."""
    arguments: dict[str, Any] = {
        "TableName": settings().requests_table_name,
        "IndexName": OWED_INDEX,
        "KeyConditionExpression": "gsi3pk = :owed AND gsi3sk < :before",
        "ExpressionAttributeValues": {":owed": {"S": OWED_PARTITION}, ":before": {"S": utc_iso(before)}},
        "Limit": limit,
    }
    if next_token:
        arguments["ExclusiveStartKey"] = decode_token(
            next_token, {"pk", "sk", "gsi3pk", "gsi3sk"}, ("gsi3pk", OWED_PARTITION)
        )
    response = call("query", **arguments)
    items = tuple(OwedEffect.model_validate(deserialize(item)) for item in response.get("Items", []))
    last = response.get("LastEvaluatedKey")
    return Page(items=items, next_token=encode_token(last) if last else None)


def oldest_owed() -> OwedEffect | None:
    page = call(
        "query",
        TableName=settings().requests_table_name,
        IndexName=OWED_INDEX,
        KeyConditionExpression="gsi3pk = :owed",
        ExpressionAttributeValues={":owed": {"S": OWED_PARTITION}},
        Limit=1,
    )
    items = page.get("Items", [])
    return OwedEffect.model_validate(deserialize(items[0])) if items else None
