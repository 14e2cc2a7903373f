"""The one module that knows table keys and condition expressions (docs/design.md).

Race safety comes from conditional writes and transactions, on what was read with strong consistency,
never from a read alone nor from an index (indexes are eventually consistent): a second open claim, a
second claim for an order, a claim judged without another that was decided meanwhile, or a decision racing
a cancellation fails its condition instead of overwriting."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from refund_core.adapters import customer_records
from refund_core.adapters.dynamo import Page, batch_get, deserialize, query_all
from refund_core.adapters.dynamo import call as _call
from refund_core.adapters.dynamo import decode_token as _decode_token
from refund_core.adapters.dynamo import encode_token as _encode_token
from refund_core.adapters.dynamo import serialize as _serialize
from refund_core.adapters.payouts import PAYOUT_SK, payout_from, payout_put
from refund_core.adapters.records import (
    EVIDENCE_SK_PREFIX,
    REQUEST_SK,
    ClaimsRecord,
    Effect,
    OrderClaim,
    RequestRecord,
)
from refund_core.adapters.requests_table import (
    cancellation_codes,
    cancellation_reasons,
    history_puts,
    owed_put,
    request_key,
    transact,
    transact_or_conflict,
)
from refund_core.errors import Conflict, ServiceBusy
from refund_core.policy.models import (
    AssessedFacts,
    Assessment,
    Decision,
    EarlierClaim,
    HistoryEntry,
    ProposedApproval,
    RequestStatus,
    utc_iso,
)
from refund_core.policy.payouts import Payout
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef


CLAIMS_SK = "CLAIMS"
ORDER_CLAIM_SK = "CLAIM"
BY_STATUS_INDEX = "ByStatus"
BY_CUSTOMER_INDEX = "ByCustomer"
_CONFLICT_BACKOFF_SECONDS = 0.02
_BATCH_TRIES = 5


def _index_keys(status: RequestStatus, request: RequestRecord) -> dict[str, str]:
    return {
        "gsi1pk": f"STATUS#{status}",
        "gsi1sk": f"{utc_iso(request.deadline)}#{request.request_id}",
        "gsi2pk": f"CUSTOMER#{request.username}",
        "gsi2sk": f"{utc_iso(request.received_at)}#{request.request_id}",
    }


def _received_keys(request: RequestRecord) -> dict[str, str]:
    """The ByReceived index: requests by the month (UTC) they were received, for the reports."""
    received = request.received_at.astimezone(UTC)
    return {
        "gsi4pk": f"RECEIVED#{received:%Y-%m}",
        "gsi4sk": f"{utc_iso(received)}#{request.request_id}",
        "policyVersion": request.assessment.policy_version,
    }


def request_item(request: RequestRecord) -> dict[str, Any]:
    # Nobody holding it is no heldBy at all: record_holder's condition is that the attribute does not exist; so
    # for erasure's (adapters/retention.py).
    unheld = {"held_by", "held_since"} if request.held_by is None else set()
    kept = {"personal_data_erased_at"} if request.personal_data_erased_at is None else set()
    kept |= {
        name
        for name in ("awaiting_second_approval", "question", "customer_answered_at")
        if getattr(request, name) is None
    }
    kept |= {"evidence_files"} if not request.evidence_files else set()
    item = request.model_dump(mode="json", by_alias=True, exclude={"history", "payout", "evidence", *unheld, *kept})
    return {
        "pk": f"REQUEST#{request.request_id}",
        "sk": REQUEST_SK,
        **item,
        **_index_keys(request.status, request),
        **_received_keys(request),
    }


# ---- every call -------------------------------------------------------------------------------------------


class ClaimsChanged(Exception):
    """The customer's claims changed between being read and being written (another claim of theirs won a
    race): whoever wrote them must read them again and judge the claim with the winner counted."""


# ---- refund requests --------------------------------------------------------------------------------


def _claims_key(username: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"CUSTOMER#{username}"}, "sk": {"S": CLAIMS_SK}}


def _order_claim_key(order_id: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": ORDER_CLAIM_SK}}


@dataclass(frozen=True)
class ClaimContext:
    """What judging a new claim reads: the customer records, and, with strong consistency, the customer's
    claims and the order's claim."""

    records: customer_records.CustomerRecords
    claims: ClaimsRecord
    order_claim: OrderClaim


def load_claim_context(username: str, order_id: str, ticket_id: str) -> ClaimContext:
    """In one BatchGetItem: the customer records (as fresh as their last event), and the customer's and the
    order's claims read consistently: the transaction that records the claim is conditional on them."""
    records_table = settings().customer_records_table_name
    requests_table = settings().requests_table_name
    found: dict[str, dict[str, Any]] = {}
    unprocessed: dict[str, Any] = {
        records_table: {"Keys": customer_records.record_keys(username, order_id, ticket_id)},
        requests_table: {"Keys": [_claims_key(username), _order_claim_key(order_id)], "ConsistentRead": True},
    }
    for attempt in range(_BATCH_TRIES):
        response = _call("batch_get_item", RequestItems=unprocessed)
        for table in (records_table, requests_table):
            for raw in response.get("Responses", {}).get(table, []):
                item = deserialize(raw)
                found[f"{table}|{item['pk']}|{item['sk']}"] = item
        unprocessed = dict(response.get("UnprocessedKeys") or {})
        if not unprocessed:
            break
        time.sleep(random.uniform(0, _CONFLICT_BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter
    else:
        raise ServiceBusy("the service is busy; try again in a few seconds")
    records = customer_records.records_found(
        {key.split("|", 1)[1]: item for key, item in found.items() if key.startswith(records_table + "|")},
        username,
        order_id,
        ticket_id,
    )
    claims = found.get(f"{requests_table}|CUSTOMER#{username}|{CLAIMS_SK}")
    order_claim = found.get(f"{requests_table}|ORDER#{order_id}|{ORDER_CLAIM_SK}")
    return ClaimContext(
        records=records,
        claims=ClaimsRecord.model_validate(claims) if claims else _claims_filed_before(username),
        order_claim=OrderClaim.model_validate(order_claim) if order_claim else OrderClaim(order_id=order_id),
    )


def _claims_filed_before(username: str) -> ClaimsRecord:
    """A customer with no claims item yet: none, or only requests the first release recorded (it kept no
    such item). Those are read from the ByCustomer index: written before this release, they are long in it;
    every request since writes the claims item, conditional on its absence here (version 0), so two first
    claims at once still cannot both be judged without the other."""
    requests = query_all(
        {
            "TableName": settings().requests_table_name,
            "IndexName": BY_CUSTOMER_INDEX,
            "KeyConditionExpression": "gsi2pk = :customer",
            "ProjectionExpression": "requestId, orderId, #status, receivedAt",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":customer": {"S": f"CUSTOMER#{username}"}},
        }
    )
    claims = [EarlierClaim.model_validate(request) for request in requests]
    decided = [claim for claim in claims if claim.status in {RequestStatus.APPROVED, RequestStatus.REFUSED}]
    cancelled = [claim for claim in claims if claim.status is RequestStatus.CANCELLED]
    pending = [claim.request_id for claim in claims if claim.status is RequestStatus.PENDING]
    return ClaimsRecord(
        username=username,
        open_request_id=pending[0] if pending else None,
        decided=len(decided),
        first_decided=min(decided, key=lambda claim: claim.received_at, default=None),
        cancelled=len(cancelled),
        first_cancelled=min(cancelled, key=lambda claim: claim.received_at, default=None),
        recent_filings=tuple(sorted(claim.received_at for claim in claims)),
    )


@dataclass(frozen=True)
class OrderRequest:
    request_id: str
    status: RequestStatus


def requests_of_orders(username: str, order_ids: Iterable[str]) -> dict[str, OrderRequest]:
    """Each order's request that was not cancelled (its order claim holds it), with that request's status; only
    `username`'s own: an order billing moved to them shows nothing of its owner's before."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        return {}
    claims = batch_get(settings().requests_table_name, [_order_claim_key(order_id) for order_id in ids])
    held = {str(item["pk"]).removeprefix("ORDER#"): str(item["requestId"]) for item in claims if item.get("requestId")}
    if not held:
        return {}
    requests = batch_get(
        settings().requests_table_name,
        [request_key(request_id) for request_id in held.values()],
        "requestId, #status, username",
    )
    status = {
        str(item["requestId"]): RequestStatus(item["status"]) for item in requests if item["username"] == username
    }
    return {
        order_id: OrderRequest(request_id, status[request_id])
        for order_id, request_id in held.items()
        if request_id in status
    }


def get_claims(username: str) -> ClaimsRecord:
    response = _call(
        "get_item", TableName=settings().requests_table_name, Key=_claims_key(username), ConsistentRead=True
    )
    item = response.get("Item")
    return ClaimsRecord.model_validate(deserialize(item)) if item else ClaimsRecord(username=username)


def _claims_item(claims: ClaimsRecord) -> dict[str, Any]:
    return {
        "pk": f"CUSTOMER#{claims.username}",
        "sk": CLAIMS_SK,
        **claims.model_dump(mode="json", by_alias=True, exclude_none=True),
    }


def _put_as_read(item: Mapping[str, Any], read_version: int) -> TransactWriteItemTypeDef:
    """A put that holds only if the item is still at the version read (0: it was not there)."""
    return {
        "Put": {
            "TableName": settings().requests_table_name,
            "Item": _serialize(item),
            "ConditionExpression": "attribute_not_exists(pk) OR version = :read",
            "ExpressionAttributeValues": {":read": {"N": str(read_version)}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def record_new_request(
    request: RequestRecord,
    history: Iterable[HistoryEntry],
    owed: Iterable[Effect],
    *,
    context: ClaimContext,
    claims: ClaimsRecord,
    order_claim: OrderClaim,
    payout: Payout | None = None,
) -> None:
    """Record the request with its history, the effects it owes and the payout of its approval (when approved
    at once), and write the customer's claims and the order's claim as `claims` and `order_claim` say, each
    conditional on the version `context` read: a concurrent claim of the customer makes it fail (ClaimsChanged,
    to judge again), a concurrent claim of the order too, unless the order is taken (Conflict)."""
    table = settings().requests_table_name
    order_item = {
        "pk": f"ORDER#{order_claim.order_id}",
        "sk": ORDER_CLAIM_SK,
        **order_claim.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    writes: list[TransactWriteItemTypeDef] = [
        {
            "Put": {
                "TableName": table,
                "Item": _serialize(request_item(request)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        _put_as_read(_claims_item(claims), context.claims.version),
        _put_as_read(order_item, context.order_claim.version),
        *history_puts(request.request_id, history),
        *(owed_put(request.request_id, effect, request.received_at) for effect in owed),
        *((payout_put(payout),) if payout else ()),
    ]
    try:
        transact(writes)
    except ClientError as error:
        reasons = cancellation_reasons(error)
        codes = cancellation_codes(error)
        if len(codes) > 2 and codes[2] == "ConditionalCheckFailed":
            now_held = deserialize(reasons[2].get("Item") or {}).get("requestId")
            if now_held and now_held != request.request_id:
                raise Conflict(
                    f"order {request.order_id} already has a refund request",
                    field="orderId",
                    code="order_has_request",
                    params={"order": request.order_id},
                ) from error
            raise ClaimsChanged from error
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            raise ClaimsChanged from error
        raise


def get_request(request_id: str) -> RequestRecord | None:
    """The request and its whole history, in one Query."""
    items = query_all(
        {
            "TableName": settings().requests_table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"REQUEST#{request_id}"}},
            "ConsistentRead": True,
        }
    )
    request = next((item for item in items if item["sk"] == REQUEST_SK), None)
    if request is None:
        return None
    history = sorted(
        (HistoryEntry.model_validate(item) for item in items if item["sk"].startswith("HISTORY#")),
        key=lambda entry: entry.at,
    )
    payout = next((payout_from(item) for item in items if item["sk"] == PAYOUT_SK), None)
    evidence = sorted(
        (item for item in items if item["sk"].startswith(EVIDENCE_SK_PREFIX)), key=lambda item: item["addedAt"]
    )
    return RequestRecord.model_validate({**request, "history": history, "payout": payout, "evidence": evidence})


def get_request_item(request_id: str) -> RequestRecord | None:
    """The request item alone (no history), read consistently."""
    response = _call(
        "get_item", TableName=settings().requests_table_name, Key=request_key(request_id), ConsistentRead=True
    )
    item = response.get("Item")
    return RequestRecord.model_validate(deserialize(item)) if item else None


@dataclass(frozen=True)
class RequestFilter:
    """What a listing narrows to (API.md "GET /refund-requests filters"); None: not narrowed."""

    status: RequestStatus | None = None
    username: str | None = None
    overdue: bool | None = None
    order_id: str | None = None
    received_from: datetime | None = None  # inclusive
    received_before: datetime | None = None  # exclusive
    held_by: str | None = None  # the reviewer who took them


def list_requests(*, narrowed: RequestFilter, limit: int, next_token: str | None) -> Page[RequestRecord]:
    """One customer's own (their index), else by status across customers (the reviewers' queue, oldest
    deadline first), narrowed as `narrowed` says. A page of `limit` index entries may hold fewer requests."""
    kwargs: dict[str, Any] = {"TableName": settings().requests_table_name, "Limit": limit}
    values: dict[str, Any] = {}
    conditions: list[str] = []
    if narrowed.username is not None:
        partition = ("gsi2pk", f"CUSTOMER#{narrowed.username}")
        kwargs |= {"IndexName": BY_CUSTOMER_INDEX, "KeyConditionExpression": "gsi2pk = :partition"}
        index_keys = {"pk", "sk", "gsi2pk", "gsi2sk"}
        if narrowed.status is not None:
            conditions.append("#status = :status")
            values[":status"] = str(narrowed.status)
    else:
        partition = ("gsi1pk", f"STATUS#{narrowed.status or RequestStatus.PENDING}")
        kwargs |= {"IndexName": BY_STATUS_INDEX, "KeyConditionExpression": "gsi1pk = :partition"}
        index_keys = {"pk", "sk", "gsi1pk", "gsi1sk"}
    values[":partition"] = partition[1]
    if narrowed.overdue is not None:
        conditions.append("overdue = :overdue")
        values[":overdue"] = narrowed.overdue
    if narrowed.order_id is not None:
        conditions.append("orderId = :order")
        values[":order"] = narrowed.order_id
    if narrowed.held_by is not None:
        conditions.append("heldBy = :holder")
        values[":holder"] = narrowed.held_by
    if narrowed.received_from is not None:
        conditions.append("receivedAt >= :from")
        values[":from"] = utc_iso(narrowed.received_from)
    if narrowed.received_before is not None:
        conditions.append("receivedAt < :before")
        values[":before"] = utc_iso(narrowed.received_before)
    if conditions:
        kwargs["FilterExpression"] = " AND ".join(conditions)
    if "#status" in kwargs.get("FilterExpression", ""):
        kwargs["ExpressionAttributeNames"] = {"#status": "status"}
    kwargs["ExpressionAttributeValues"] = _serialize(values)
    if next_token:
        kwargs["ExclusiveStartKey"] = _decode_token(next_token, index_keys, partition)
    response = _call("query", **kwargs)
    items = tuple(RequestRecord.model_validate(deserialize(item)) for item in response.get("Items", []))
    last = response.get("LastEvaluatedKey")
    return Page(items=items, next_token=_encode_token(last) if last else None)


def pending_update(
    request: RequestRecord, set_clause: str, values: dict[str, Any], status: RequestStatus, remove: str | None = None
) -> TransactWriteItemTypeDef:
    """An update that only applies to the version of the pending request the caller read."""
    index = _index_keys(status, request)
    removed = f" REMOVE {remove}" if remove else ""
    return {
        "Update": {
            "TableName": settings().requests_table_name,
            "Key": request_key(request.request_id),
            "UpdateExpression": f"SET {set_clause}, version = :next, gsi1pk = :gsi1pk, gsi1sk = :gsi1sk{removed}",
            "ConditionExpression": "#status = :pending AND version = :version",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": _serialize(
                {
                    **values,
                    ":pending": str(RequestStatus.PENDING),
                    ":version": request.version,
                    ":next": request.version + 1,
                    ":gsi1pk": index["gsi1pk"],
                    ":gsi1sk": index["gsi1sk"],
                }
            ),
        }
    }


def _release_open_claim(request: RequestRecord, outcome: str, claim: EarlierClaim) -> TransactWriteItemTypeDef:
    """The customer's claims, the request no longer open: counted as decided (or cancelled), and the first of
    its kind kept. Conditional on the request being the open one, so that it is counted once."""
    return {
        "Update": {
            "TableName": settings().requests_table_name,
            "Key": _claims_key(request.username),
            "UpdateExpression": f"REMOVE openRequestId SET {outcome} = if_not_exists({outcome}, :zero) + :one, "
            f"#first = if_not_exists(#first, :claim), version = if_not_exists(version, :zero) + :one, "
            "username = if_not_exists(username, :username)",
            # Or no claims item at all: a request the first release recorded, decided before its customer filed again.
            "ConditionExpression": "openRequestId = :request OR attribute_not_exists(pk)",
            "ExpressionAttributeNames": {"#first": f"first{outcome[0].upper()}{outcome[1:]}"},
            "ExpressionAttributeValues": _serialize(
                {
                    ":request": request.request_id,
                    ":username": request.username,
                    ":zero": 0,
                    ":one": 1,
                    ":claim": claim.model_dump(mode="json", by_alias=True, exclude_none=True),
                }
            ),
        }
    }


def transact_on_pending(request: RequestRecord, writes: list[TransactWriteItemTypeDef]) -> None:
    try:
        transact(writes)
    except ClientError as error:
        raise _lost_to_another_change(request, error) from error


def _lost_to_another_change(request: RequestRecord, error: ClientError) -> Exception:
    """A transaction on a pending request that failed its conditions: the request changed meanwhile."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return error
    return Conflict(
        f"refund request {request.request_id} changed meanwhile (decided, cancelled or re-assessed); read it again"
    )


def record_assessment(
    request: RequestRecord, assessment: Assessment, facts: AssessedFacts, history: Iterable[HistoryEntry]
) -> None:
    update = pending_update(
        request,
        "assessment = :assessment, facts = :facts, policyVersion = :policy",
        {
            ":assessment": assessment.model_dump(mode="json", by_alias=True),
            ":facts": facts.model_dump(mode="json", by_alias=True),
            ":policy": assessment.policy_version,
        },
        RequestStatus.PENDING,
    )
    transact_on_pending(request, [update, *history_puts(request.request_id, history)])


def record_proposed_approval(
    request: RequestRecord, proposal: ProposedApproval, history: Iterable[HistoryEntry]
) -> None:
    """An approval that waits for a second reviewer (four eyes), in place of any before it, on the version read."""
    update = pending_update(
        request,
        "awaitingSecondApproval = :proposal",
        {":proposal": proposal.model_dump(mode="json", by_alias=True)},
        RequestStatus.PENDING,
    )
    transact_on_pending(request, [update, *history_puts(request.request_id, history)])


def record_decision(
    request: RequestRecord,
    status: RequestStatus,
    decision: Decision,
    history: Iterable[HistoryEntry],
    *,
    owed: Iterable[Effect],
    at: datetime,
    payout: Payout | None = None,
    a_claim: bool = True,
) -> None:
    """Decide a pending request, count it among the customer's decided claims (`a_claim` False: among the
    requests that were no claim under the Policy) and release their open claim, with the effects the decision
    owes and the payout of an approval; or lose to whoever acted first."""
    update = pending_update(
        request,
        "#status = :decided, decision = :decision",
        {":decided": str(status), ":decision": decision.model_dump(mode="json", by_alias=True)},
        status,
        # An approval awaiting its confirmation is over once the request is decided, either way.
        remove="awaitingSecondApproval",
    )
    claim = EarlierClaim(
        request_id=request.request_id, order_id=request.order_id, status=status, received_at=request.received_at
    )
    writes = [
        update,
        _release_open_claim(request, "decided" if a_claim else "excluded", claim),
        *history_puts(request.request_id, history),
        *(owed_put(request.request_id, effect, at) for effect in owed),
        *((payout_put(payout),) if payout else ()),
    ]
    transact_on_pending(request, writes)


def record_holder(
    request: RequestRecord, holder: str | None, *, held_by: str | None, at: datetime, history: Iterable[HistoryEntry]
) -> None:
    """Who reviews a pending request: `holder` (None: nobody) in place of `held_by`, the holder the caller saw
    (None: nobody), on the condition that it still is; a Conflict when it no longer is (taken or released
    meanwhile, or the request decided). Holding changes nothing of the claim, so it neither checks nor bumps
    the version a decision is conditional on."""
    names = {"#status": "status"}
    values: dict[str, Any] = {":pending": str(RequestStatus.PENDING)}
    if held_by is None:
        condition = "#status = :pending AND attribute_not_exists(heldBy)"
    else:
        condition = "#status = :pending AND heldBy = :seen"
        values[":seen"] = held_by
    if holder is None:
        change = "REMOVE heldBy, heldSince"
    else:
        change = "SET heldBy = :holder, heldSince = :since"
        values |= {":holder": holder, ":since": utc_iso(at)}
    update: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": settings().requests_table_name,
            "Key": request_key(request.request_id),
            "UpdateExpression": change,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _serialize(values),
        }
    }
    transact_or_conflict(
        [update, *history_puts(request.request_id, history)],
        f"refund request {request.request_id} was taken, released or decided meanwhile; read it again",
        "holder_changed",
    )


def record_cancellation(
    request: RequestRecord, history: Iterable[HistoryEntry], *, owed: Iterable[Effect], at: datetime
) -> None:
    """Withdraw a pending request: count it as cancelled, release the customer's open claim and free the order
    for a new claim (its count of requests kept). An order billing has since moved to another customer, who
    filed for it, is theirs: the cancellation leaves its claim alone."""
    update = pending_update(request, "#status = :cancelled", {":cancelled": "CANCELLED"}, RequestStatus.CANCELLED)
    claim = EarlierClaim(
        request_id=request.request_id,
        order_id=request.order_id,
        status=RequestStatus.CANCELLED,
        received_at=request.received_at,
    )
    released = _release_open_claim(request, "cancelled", claim)
    rest = [*history_puts(request.request_id, history), *(owed_put(request.request_id, effect, at) for effect in owed)]
    try:
        transact([update, released, _free_order(request), *rest])
    except ClientError as error:
        if cancellation_codes(error)[:3] != ["None", "None", "ConditionalCheckFailed"]:
            raise _lost_to_another_change(request, error) from error
        transact_on_pending(request, [update, released, *rest])  # the order's claim is another owner's now


def _free_order(request: RequestRecord) -> TransactWriteItemTypeDef:
    """The order's claim let go of, if `request` still holds it."""
    return {
        "Update": {
            "TableName": settings().requests_table_name,
            "Key": _order_claim_key(request.order_id),
            # The first release kept no version on the order's claim.
            "UpdateExpression": "REMOVE requestId SET version = if_not_exists(version, :zero) + :one",
            "ConditionExpression": "requestId = :request",
            "ExpressionAttributeValues": {
                ":request": {"S": request.request_id},
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
            },
        }
    }
