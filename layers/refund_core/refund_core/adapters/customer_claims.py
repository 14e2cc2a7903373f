"""The customers' claims and the orders' claims in the requests table: their keys, items and conditions.

One claim at a time (POLICY-RULES.md): the customer's claims item (`CUSTOMER#<username>` / `CLAIMS`) counts
their requests and names the open one; the order's claim (`ORDER#<orderId>` / `CLAIM`) names the request that
holds the order. Both are read with strong consistency and written on the version read, in the transaction
that records or closes a request (refund_core.adapters.repository), so that two claims racing cannot both be
judged without the other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from refund_core.adapters import customer_records
from refund_core.adapters.dynamo import batch_get_tables, deserialize, query_all
from refund_core.adapters.dynamo import call as _call
from refund_core.adapters.dynamo import serialize as _serialize
from refund_core.adapters.records import ClaimsRecord, OrderClaim, RequestRecord
from refund_core.adapters.requests_table import BY_CUSTOMER_INDEX
from refund_core.policy.models import EarlierClaim, RequestStatus
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

CLAIMS_SK = "CLAIMS"
ORDER_CLAIM_SK = "CLAIM"


class ClaimsChanged(Exception):
    """The customer's claims changed between being read and being written (another claim of theirs won a
    race): whoever wrote them must read them again and judge the claim with the winner counted."""


def _claims_key(username: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": f"CUSTOMER#{username}"}, "sk": {"S": CLAIMS_SK}}


def order_claim_key(order_id: str) -> dict[str, AttributeValueTypeDef]:
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
    found = batch_get_tables(
        {
            records_table: {"Keys": customer_records.record_keys(username, order_id, ticket_id)},
            requests_table: {"Keys": [_claims_key(username), order_claim_key(order_id)], "ConsistentRead": True},
        }
    )
    records = customer_records.records_found(
        {f"{item['pk']}|{item['sk']}": item for item in found[records_table]}, username, order_id, ticket_id
    )
    claim_items = {(item["pk"], item["sk"]): item for item in found[requests_table]}
    claims = claim_items.get((f"CUSTOMER#{username}", CLAIMS_SK))
    order_claim = claim_items.get((f"ORDER#{order_id}", ORDER_CLAIM_SK))
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


def claims_puts(context: ClaimContext, claims: ClaimsRecord, order_claim: OrderClaim) -> list[TransactWriteItemTypeDef]:
    """The customer's claims and the order's claim as a new request leaves them, in this order (a transaction's
    cancellation reasons are read by position), each conditional on the version `context` read."""
    order_item = {
        "pk": f"ORDER#{order_claim.order_id}",
        "sk": ORDER_CLAIM_SK,
        **order_claim.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    return [
        _put_as_read(_claims_item(claims), context.claims.version),
        _put_as_read(order_item, context.order_claim.version),
    ]


def release_open_claim(request: RequestRecord, outcome: str, claim: EarlierClaim) -> TransactWriteItemTypeDef:
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


def free_order(request: RequestRecord) -> TransactWriteItemTypeDef:
    """The order's claim let go of, if `request` still holds it."""
    return {
        "Update": {
            "TableName": settings().requests_table_name,
            "Key": order_claim_key(request.order_id),
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
