"""The supervisors' decisions exports, in the requests table (docs/design.md "Decisions exports"):
`EXPORTS` / `DECISIONS#<export id>`, one item an export, its ids in the order they were asked for. An export is
written once under `attribute_not_exists`, then only replaced on the condition that its `version` is still the
one read: of two deliveries of one job, one moves it on and the other stops. Each item expires (`expiresAt`,
the table's TTL) with its file."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from refund_core.adapters.dynamo import call, deserialize, query_all, serialize, stored, written
from refund_core.adapters.records import DecisionsExportRecord
from refund_core.settings import settings

EXPORTS_PARTITION = "EXPORTS"
_DECISIONS = "DECISIONS#"
# As long as the bucket keeps the files (template.yaml, ReportsBucket's lifecycle).
KEPT = timedelta(days=7)


def _key(export_id: str) -> dict[str, Any]:
    return {"pk": {"S": EXPORTS_PARTITION}, "sk": {"S": f"{_DECISIONS}{export_id}"}}


def _item(export: DecisionsExportRecord) -> dict[str, Any]:
    expires = int((export.requested_at + KEPT).timestamp())
    stored = export.model_dump(mode="json", by_alias=True, exclude_none=True)
    return serialize({"pk": EXPORTS_PARTITION, "sk": f"{_DECISIONS}{export.export_id}", **stored, "expiresAt": expires})


def _read(item: dict[str, Any]) -> DecisionsExportRecord:
    return DecisionsExportRecord.model_validate(item)


def create(export: DecisionsExportRecord) -> None:
    table, item = settings().requests_table_name, _item(export)
    new = written("put_item", TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    if not new and not stored(table, item):
        raise RuntimeError(f"export {export.export_id} is stored already, and not as asked")


def replaced(old: DecisionsExportRecord, new: DecisionsExportRecord) -> bool:
    """`new` (one version on) in place of `old`, unless the export has moved on since `old` was read (or, its
    condition failed, it is this write's own)."""
    table, item = settings().requests_table_name, _item(new.model_copy(update={"version": old.version + 1}))
    return written(
        "put_item",
        TableName=table,
        Item=item,
        ConditionExpression="#version = :read",
        ExpressionAttributeNames={"#version": "version"},
        ExpressionAttributeValues={":read": {"N": str(old.version)}},
    ) or stored(table, item)


def export(export_id: str) -> DecisionsExportRecord | None:
    response = call("get_item", TableName=settings().requests_table_name, Key=_key(export_id), ConsistentRead=True)
    item = response.get("Item")
    return _read(deserialize(item)) if item else None


def recent(since: datetime) -> list[DecisionsExportRecord]:
    """The exports asked for since `since`, newest first (export ids begin with the moment they were asked)."""
    items = query_all(
        {
            "TableName": settings().requests_table_name,
            "KeyConditionExpression": "pk = :exports AND sk >= :since",
            "ExpressionAttributeValues": {
                ":exports": {"S": EXPORTS_PARTITION},
                ":since": {"S": f"{_DECISIONS}{since.strftime('%Y%m%dT%H%M%S')}"},
            },
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
    )
    return [_read(item) for item in items]
