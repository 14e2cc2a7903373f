"""How many replies each letter writer got today (requests table, `SENDER#<address>` / `REPLIES#<date>`): one
conditional update a reply, so that an auto-responder that ignores `Auto-Submitted` gets a few answers a day,
not one per message it sends. Each item expires (the table's TTL) two days after its day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from refund_core.adapters.dynamo import written
from refund_core.settings import settings

_KEPT_FOR = timedelta(days=2)


def take_reply(sender: str, day: date, most: int) -> bool:
    """One of the `most` replies `sender` may get on `day`; False when they have had them all."""
    expires = datetime.combine(day, time.min, tzinfo=UTC) + _KEPT_FOR
    return written(
        "update_item",
        TableName=settings().requests_table_name,
        Key={"pk": {"S": f"SENDER#{sender}"}, "sk": {"S": f"REPLIES#{day.isoformat()}"}},
        UpdateExpression="ADD replies :one SET expiresAt = :expires",
        ConditionExpression="attribute_not_exists(replies) OR replies < :most",
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":most": {"N": str(most)},
            ":expires": {"N": str(int(expires.timestamp()))},
        },
    )
