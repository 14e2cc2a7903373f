"""Requests the first release recorded, met by this one: it kept no claims item per customer
(`CUSTOMER#<username>` / `CLAIMS`), kept the open claim as `CUSTOMER#<username>` / `OPEN_CLAIM`, and no
version on the order's claim. Such a customer's earlier claims still count, and their pending request can
still be decided or withdrawn."""

from __future__ import annotations

from typing import Any

import boto3
from api_support import call, seed_order

from refund_core.adapters import customer_claims
from refund_core.settings import settings
from refund_local.environment import REGION
from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

SUBMIT = "/refund-requests"
RITA = claims_for("rita", reviewer=True)


def submit(username: str, order_id: str) -> Any:
    body = {"orderId": order_id, "reason": "Nothing connects.", "supportTicketId": f"T-{order_id}"}
    return call(api_event("POST", SUBMIT, SUBMIT, body=body, claims=claims_for(username)))


def on_request(request_id: str, action: str, claims: dict[str, str], body: Any = None) -> Any:
    resource, path = f"/refund-requests/{{requestId}}/{action}", f"/refund-requests/{request_id}/{action}"
    return call(api_event("POST", resource, path, path_parameters={"requestId": request_id}, claims=claims, body=body))


def as_the_first_release_left_it(username: str, order_id: str, open_request_id: str | None) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = settings().requests_table_name
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": f"CUSTOMER#{username}"}, "sk": {"S": "CLAIMS"}})
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "CLAIM"}},
        UpdateExpression="REMOVE version, filings",
    )
    if open_request_id:
        dynamodb.put_item(
            TableName=table,
            Item={
                "pk": {"S": f"CUSTOMER#{username}"},
                "sk": {"S": "OPEN_CLAIM"},
                "requestId": {"S": open_request_id},
            },
        )


def test_an_approval_the_first_release_recorded_is_an_earlier_claim(stack: LocalAws) -> None:
    seed_order("ord-old", "alice", days_ago=5)
    seed_order("ord-new", "alice", days_ago=5)
    first = submit("alice", "ord-old").json
    assert first["status"] == "APPROVED"
    as_the_first_release_left_it("alice", "ord-old", None)

    second = submit("alice", "ord-new")
    assert second.status == 201, second.json
    assert second.json["status"] == "REFUSED"
    (earlier,) = [rule for rule in second.json["assessment"]["rules"] if rule["id"] == "NO_EARLIER_CLAIM"]
    assert earlier["result"] == "fail"
    assert "ord-old" in earlier["reason"]
    again = submit("alice", "ord-old")
    assert again.status == 409, again.json  # the order's claim the first release kept still holds


def test_a_pending_request_the_first_release_recorded_holds_the_open_claim_and_can_be_withdrawn(
    stack: LocalAws,
) -> None:
    seed_order("ord-b1", "bob", days_ago=40)
    seed_order("ord-b2", "bob", days_ago=40)
    pending = submit("bob", "ord-b1").json
    assert pending["status"] == "PENDING"
    as_the_first_release_left_it("bob", "ord-b1", pending["requestId"])

    assert submit("bob", "ord-b2").status == 409
    cancelled = on_request(pending["requestId"], "cancel", claims_for("bob"))
    assert cancelled.status == 200, cancelled.json
    assert cancelled.json["status"] == "CANCELLED"
    claims = customer_claims.get_claims("bob")
    assert (claims.open_request_id, claims.cancelled) == (None, 1)
    assert submit("bob", "ord-b1").status == 201  # the order is free again


def test_a_pending_request_the_first_release_recorded_can_be_decided(stack: LocalAws) -> None:
    seed_order("ord-c1", "carol", days_ago=40)
    pending = submit("carol", "ord-c1").json
    as_the_first_release_left_it("carol", "ord-c1", pending["requestId"])

    approved = on_request(pending["requestId"], "evaluate", RITA, {"action": "approve"})
    assert approved.status == 200, approved.json
    assert approved.json["status"] == "APPROVED"
    claims = customer_claims.get_claims("carol")
    assert claims.decided == 1
    assert claims.first_decided is not None and claims.first_decided.request_id == pending["requestId"]
