"""A refund request in the requests table: recorded (with its claims, customer_claims), read, changed while
pending, decided, cancelled; its items and conditions (docs/design.md lists the modules that own the rest).

Race safety comes from conditional writes and transactions, on what was read with strong consistency,
never from a read alone nor from an index (indexes are eventually consistent): a second open claim, a
second claim for an order, a claim judged without another that was decided meanwhile, or a decision racing
a cancellation fails its condition instead of overwriting."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from refund_core.adapters.customer_claims import (
    ClaimContext,
    ClaimsChanged,
    claims_puts,
    free_order,
    release_open_claim,
)
from refund_core.adapters.customer_records import order_still_owned_by
from refund_core.adapters.dynamo import call as _call
from refund_core.adapters.dynamo import deserialize, query_all
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
from refund_core.errors import Conflict, OrderMoved, OrderNotFound
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
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


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


# ---- refund requests --------------------------------------------------------------------------------


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
    at once: only while the order is still the customer's, else OrderNotFound), and write the customer's claims
    and the order's claim as `claims` and `order_claim` say, each conditional on the version `context` read: a
    concurrent claim of the customer makes it fail (ClaimsChanged, to judge again), a concurrent claim of the
    order too, unless the order is taken (Conflict)."""
    table = settings().requests_table_name
    writes: list[TransactWriteItemTypeDef] = [
        {
            "Put": {
                "TableName": table,
                "Item": _serialize(request_item(request)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        *claims_puts(context, claims, order_claim),
        *history_puts(request.request_id, history),
        *(owed_put(request.request_id, effect, request.received_at) for effect in owed),
        *_paid_back(request, payout),
    ]
    try:
        transact(writes)
    except ClientError as error:
        reasons = cancellation_reasons(error)
        codes = cancellation_codes(error)
        if _order_given_away(payout, error):
            # Refused as for any order not the caller's, not judged again (a second read of the records may still
            # show the order as before).
            raise OrderNotFound(request.order_id) from error
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


def _paid_back(request: RequestRecord, payout: Payout | None) -> tuple[TransactWriteItemTypeDef, ...]:
    """An approval's payout, on the condition that billing still says the order is the customer's: the last writes
    of the approval's transaction, so that `_order_given_away` can tell that condition's failure apart."""
    return (payout_put(payout), order_still_owned_by(request.order_id, request.username)) if payout else ()


def _order_given_away(payout: Payout | None, error: ClientError) -> bool:
    """The approval's check of the order's owner (`_paid_back`, its transaction's last write) failed: billing gave
    the order to another customer."""
    return payout is not None and cancellation_codes(error)[-1:] == ["ConditionalCheckFailed"]


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
    """A re-assessment on the facts as they are now: with the order's amount and channel as billing now has them,
    which are what an approval is held to (never more than was paid, never an excluded channel); an approval
    waiting for a second reviewer, judged on the facts before, waits no more."""
    update = pending_update(
        request,
        "assessment = :assessment, facts = :facts, policyVersion = :policy, amountPaid = :paid, "
        "paymentChannel = :channel",
        {
            ":assessment": assessment.model_dump(mode="json", by_alias=True),
            ":facts": facts.model_dump(mode="json", by_alias=True),
            ":policy": assessment.policy_version,
            ":paid": (facts.order.amount_paid if facts.order else request.amount_paid).model_dump(mode="json"),
            ":channel": facts.order.payment_channel if facts.order else request.payment_channel,
        },
        RequestStatus.PENDING,
        remove="awaitingSecondApproval",
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
    owes and the payout of an approval (on the condition that the order is still the customer's); or lose to
    whoever acted first."""
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
        release_open_claim(request, "decided" if a_claim else "excluded", claim),
        *history_puts(request.request_id, history),
        *(owed_put(request.request_id, effect, at) for effect in owed),
        *_paid_back(request, payout),
    ]
    try:
        transact(writes)
    except ClientError as error:
        if _order_given_away(payout, error):  # after the approval read the order
            raise OrderMoved(request.order_id, request.username) from error
        raise _lost_to_another_change(request, error) from error


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
    released = release_open_claim(request, "cancelled", claim)
    rest = [*history_puts(request.request_id, history), *(owed_put(request.request_id, effect, at) for effect in owed)]
    try:
        transact([update, released, free_order(request), *rest])
    except ClientError as error:
        if cancellation_codes(error)[:3] != ["None", "None", "ConditionalCheckFailed"]:
            raise _lost_to_another_change(request, error) from error
        transact_on_pending(request, [update, released, *rest])  # the order's claim is another owner's now
