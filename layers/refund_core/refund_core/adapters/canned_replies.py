"""The canned replies, items of the policy table (`CANNED_REPLY` / `<replyId>`): the only module that knows their
key and conditions. Every write is conditional on the version read (a new one: on there being none)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from refund_core.adapters.dynamo import query_all, serialize, written
from refund_core.errors import Conflict
from refund_core.policy.models import CannedReply, utc_iso
from refund_core.settings import settings

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_PARTITION = "CANNED_REPLY"


def _key(reply_id: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": _PARTITION}, "sk": {"S": reply_id}}


def canned_replies() -> list[CannedReply]:
    """Every canned reply, retired ones too, by id (a library of a few dozen: one page)."""
    found = query_all(
        {
            "TableName": settings().policy_table_name,
            "KeyConditionExpression": "pk = :partition",
            "ExpressionAttributeValues": {":partition": {"S": _PARTITION}},
            "ConsistentRead": True,
        }
    )
    return [CannedReply.model_validate(item) for item in found]


def save_canned_reply(reply: CannedReply, seen: int | None) -> None:
    """`reply` written as version `seen + 1` (1 for a new one) if it is still at `seen`; else a Conflict."""
    condition = "attribute_not_exists(pk)" if seen is None else "version = :seen"
    item = {**_key(reply.reply_id), **serialize(reply.model_dump(mode="json", by_alias=True))}
    _conditional(
        "put_item",
        reply.reply_id,
        Item=item,
        ConditionExpression=condition,
        **({"ExpressionAttributeValues": {":seen": {"N": str(seen)}}} if seen is not None else {}),
    )


def retire_canned_reply(reply_id: str, seen: int, by: str, at: datetime) -> None:
    _conditional(
        "update_item",
        reply_id,
        Key=_key(reply_id),
        UpdateExpression="SET retired = :yes, updatedBy = :by, updatedAt = :at, version = :next",
        ConditionExpression="version = :seen",
        ExpressionAttributeValues=serialize(
            {":yes": True, ":by": by, ":at": utc_iso(at), ":next": seen + 1, ":seen": seen}
        ),
    )


def _conditional(operation: str, reply_id: str, **arguments: Any) -> None:
    if not written(operation, TableName=settings().policy_table_name, **arguments):
        raise Conflict(
            f"canned reply {reply_id} was changed (or created) by someone else meanwhile; read it again",
            code="changed_meanwhile",
        )
