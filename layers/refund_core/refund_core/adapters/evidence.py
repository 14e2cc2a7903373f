"""A request's evidence in the requests table: one item per file (`REQUEST#<id>` / `EVIDENCE#<evidenceId>`),
read with the request, and the request's count of files, which the writes keep under the limit by their
conditions (never by reading first)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from refund_core.adapters.dynamo import serialize
from refund_core.adapters.records import EVIDENCE_SK_PREFIX
from refund_core.adapters.requests_table import cancellation_codes, history_puts, request_key, transact
from refund_core.adapters.settings import settings
from refund_core.errors import Conflict
from refund_core.policy.models import Evidence, EvidenceState, HistoryEntry, RequestStatus, utc_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef


def _key(request_id: str, evidence_id: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"REQUEST#{request_id}"}, "sk": {"S": f"{EVIDENCE_SK_PREFIX}{evidence_id}"}}


def record_upload_started(
    request_id: str, evidence: Evidence, max_files: int, history: Iterable[HistoryEntry] = ()
) -> None:
    """The file's slot taken on the pending request, with its item (and its history, for a file that comes
    checked already: a letter's): a Conflict when the request is no longer pending, holds `max_files` already,
    or has this very file."""
    slot: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": settings().requests_table_name,
            "Key": request_key(request_id),
            "UpdateExpression": "SET evidenceFiles = if_not_exists(evidenceFiles, :zero) + :one",
            "ConditionExpression": "#status = :pending AND (attribute_not_exists(evidenceFiles) OR evidenceFiles < :max)",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": serialize(
                {":zero": 0, ":one": 1, ":max": max_files, ":pending": str(RequestStatus.PENDING)}
            ),
        }
    }
    item = {
        "pk": f"REQUEST#{request_id}",
        "sk": f"{EVIDENCE_SK_PREFIX}{evidence.evidence_id}",
        **evidence.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    put: TransactWriteItemTypeDef = {
        "Put": {
            "TableName": settings().requests_table_name,
            "Item": serialize(item),
            "ConditionExpression": "attribute_not_exists(sk)",
        }
    }
    try:
        transact([slot, put, *history_puts(request_id, history)])
    except ClientError as error:
        if "ConditionalCheckFailed" not in cancellation_codes(error):
            raise
        raise Conflict(
            f"refund request {request_id} is no longer pending, or already holds {max_files} files",
            code="evidence_closed",
            params={"max": max_files},
        ) from error


def record_checked(
    request_id: str, evidence: Evidence, state: EvidenceState, *, size: int | None, at: datetime, entry: HistoryEntry
) -> bool:
    """The uploaded file's verdict, once: accepted (in the history), or refused and its slot freed. False when
    another check recorded it first."""
    values: dict[str, str | int] = {
        ":uploading": str(EvidenceState.UPLOADING),
        ":state": str(state),
        ":at": utc_iso(at),
    }
    sized = ""
    if size is not None:
        sized, values[":size"] = ", #size = :size", size
    verdict: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": settings().requests_table_name,
            "Key": _key(request_id, evidence.evidence_id),
            "UpdateExpression": f"SET #state = :state, checkedAt = :at{sized}",
            "ConditionExpression": "#state = :uploading",
            "ExpressionAttributeNames": {"#state": "state", **({"#size": "size"} if sized else {})},
            "ExpressionAttributeValues": serialize(values),
        }
    }
    writes = [verdict, *history_puts(request_id, [entry])]
    if state is EvidenceState.REFUSED:
        writes.append(
            {
                "Update": {
                    "TableName": settings().requests_table_name,
                    "Key": request_key(request_id),
                    "UpdateExpression": "SET evidenceFiles = evidenceFiles - :one",
                    "ConditionExpression": "evidenceFiles > :zero",
                    "ExpressionAttributeValues": serialize({":one": 1, ":zero": 0}),
                }
            }
        )
    try:
        transact(writes)
    except ClientError as error:
        if "ConditionalCheckFailed" not in cancellation_codes(error):
            raise
        return False
    return True
