"""A request's evidence in the requests table: one item per file (`REQUEST#<id>` / `EVIDENCE#<evidenceId>`),
read with the request, and the request's count of files, which the writes keep under the limit by their
conditions (never by reading first). Each file's history entry is keyed by the file, so that two files of one
moment keep theirs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from refund_core.adapters.dynamo import serialize
from refund_core.adapters.records import EVIDENCE_SK_PREFIX
from refund_core.adapters.requests_table import cancellation_codes, history_put, request_key, transact
from refund_core.errors import Conflict
from refund_core.policy.models import Evidence, EvidenceState, HistoryEntry, RequestStatus, utc_iso
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef


def _key(request_id: str, evidence_id: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"REQUEST#{request_id}"}, "sk": {"S": f"{EVIDENCE_SK_PREFIX}{evidence_id}"}}


def _slots(request_id: str, change: int, condition: str, values: dict[str, Any]) -> TransactWriteItemTypeDef:
    update: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": settings().requests_table_name,
            "Key": request_key(request_id),
            "UpdateExpression": "SET evidenceFiles = if_not_exists(evidenceFiles, :zero) + :change",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": serialize({**values, ":zero": 0, ":change": change}),
        }
    }
    if "#status" in condition:
        update["Update"]["ExpressionAttributeNames"] = {"#status": "status"}
    return update


def record_upload_started(
    request_id: str, evidence: Evidence, max_files: int, entry: HistoryEntry | None = None
) -> None:
    """The file's slot taken on the pending request, with its item (and its history entry, for a file that comes
    checked already: a letter's): a Conflict when the request is no longer pending, holds `max_files` already,
    or has this very file."""
    slot = _slots(
        request_id,
        1,
        "#status = :pending AND (attribute_not_exists(evidenceFiles) OR evidenceFiles < :max)",
        {":max": max_files, ":pending": str(RequestStatus.PENDING)},
    )
    item = {
        "pk": f"REQUEST#{request_id}",
        "sk": f"{EVIDENCE_SK_PREFIX}{evidence.evidence_id}",
        **evidence.model_dump(mode="json", by_alias=True, exclude_none=True),
        **({"versionId": evidence.version_id} if evidence.version_id else {}),
    }
    put: TransactWriteItemTypeDef = {
        "Put": {
            "TableName": settings().requests_table_name,
            "Item": serialize(item),
            "ConditionExpression": "attribute_not_exists(sk)",
        }
    }
    history = (
        [history_put(request_id, entry, f"{utc_iso(entry.at)}#{evidence.evidence_id}-{entry.event}")] if entry else []
    )
    try:
        transact([slot, put, *history])
    except ClientError as error:
        if "ConditionalCheckFailed" not in cancellation_codes(error):
            raise
        raise Conflict(
            f"refund request {request_id} is no longer pending, or already holds {max_files} files",
            code="evidence_closed",
            params={"max": max_files},
        ) from error


def _free_slot(request_id: str) -> TransactWriteItemTypeDef:
    return _slots(request_id, -1, "evidenceFiles > :zero", {})


def release_abandoned_upload(request_id: str, evidence: Evidence) -> bool:
    """A slot whose upload never came (its link has expired) freed, with its item; False when it was checked or
    freed meanwhile."""
    release: TransactWriteItemTypeDef = {
        "Delete": {
            "TableName": settings().requests_table_name,
            "Key": _key(request_id, evidence.evidence_id),
            "ConditionExpression": "#state = :uploading",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": serialize({":uploading": str(EvidenceState.UPLOADING)}),
        }
    }
    try:
        transact([release, _free_slot(request_id)])
    except ClientError as error:
        if "ConditionalCheckFailed" not in cancellation_codes(error):
            raise
        return False
    return True


def record_checked(request_id: str, checked: Evidence, at: datetime, entry: HistoryEntry) -> bool:
    """The uploaded file's verdict (`checked.state`, its size and the version of it that was read), once:
    accepted (in the history), or refused and its slot freed. False when another check recorded it first."""
    values: dict[str, str | int] = {
        ":uploading": str(EvidenceState.UPLOADING),
        ":state": str(checked.state),
        ":at": utc_iso(at),
    }
    changes = "#state = :state, checkedAt = :at"
    if checked.size is not None:
        changes, values[":size"] = f"{changes}, #size = :size", checked.size
    if checked.version_id is not None:
        changes, values[":version"] = f"{changes}, versionId = :version", checked.version_id
    verdict: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": settings().requests_table_name,
            "Key": _key(request_id, checked.evidence_id),
            "UpdateExpression": f"SET {changes}",
            "ConditionExpression": "#state = :uploading",
            "ExpressionAttributeNames": {"#state": "state", **({"#size": "size"} if ":size" in values else {})},
            "ExpressionAttributeValues": serialize(values),
        }
    }
    writes = [verdict, history_put(request_id, entry, f"{utc_iso(entry.at)}#{checked.evidence_id}-{entry.event}")]
    if checked.state is EvidenceState.REFUSED:
        writes.append(_free_slot(request_id))
    try:
        transact(writes)
    except ClientError as error:
        if "ConditionalCheckFailed" not in cancellation_codes(error):
            raise
        return False
    return True
