"""GET /orders/{orderId}/assessment: a customer checks a claim before sending it. The policy's result on their
own facts, what sending it would use up, refused as the submit would be, and nothing recorded."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import Response, call, seed_order, stored

from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

SUBMIT = "/refund-requests"
CHECK = "/orders/{orderId}/assessment"


def check(username: str, order_id: str, **query: str) -> Response:
    path = f"/orders/{order_id}/assessment"
    return call(
        api_event("GET", CHECK, path, path_parameters={"orderId": order_id}, query=query or None,
                  claims=claims_for(username))
    )  # fmt: skip


def submit(username: str, order_id: str) -> Response:
    body = {"orderId": order_id, "reason": "It drops.", "supportTicketId": f"T-{order_id}"}
    return call(api_event("POST", SUBMIT, SUBMIT, body=body, claims=claims_for(username)))


def rules(assessment: dict[str, Any]) -> dict[str, str]:
    return {rule["id"]: rule["result"] for rule in assessment["rules"]}


def test_the_check_is_what_the_submit_then_finds_and_records_nothing(stack: LocalAws) -> None:
    seed_order("ord-1", "alice", days_ago=40)
    before = stored(stack)
    checked = check("alice", "ord-1", supportTicketId="T-ord-1")
    assert checked.status == 200, checked.json
    assert stored(stack) == before
    assert checked.json["orderId"] == "ord-1"
    assert checked.json["assessment"]["outcome"] == "PARTIAL_REFUND"
    assert checked.json["decidedAtOnce"] is False  # a partial refund goes to a reviewer
    assert checked.json["usesTheOneClaim"] is True
    assert checked.json["cancellingFreesTheClaim"] is True

    filed = submit("alice", "ord-1").json
    assert filed["assessment"]["outcome"] == checked.json["assessment"]["outcome"]
    assert rules(filed["assessment"]) == rules(checked.json["assessment"])
    assert filed["assessment"]["suggestedAmount"] == checked.json["assessment"]["suggestedAmount"]


def test_a_clear_full_refund_is_decided_at_once_and_uses_the_one_claim(stack: LocalAws) -> None:
    seed_order("ord-2", "bea", days_ago=3)
    checked = check("bea", "ord-2", supportTicketId="T-ord-2").json
    assert (checked["assessment"]["outcome"], checked["decidedAtOnce"], checked["usesTheOneClaim"]) == (
        "FULL_REFUND", True, True,
    )  # fmt: skip


def test_a_refusal_uses_the_one_claim_too_and_the_next_check_says_so(stack: LocalAws) -> None:
    """A ticket support never answered 'cannot fix' is refused at once, and that refusal is the claim: the check of
    the customer's next order fails NO_EARLIER_CLAIM, as the next request would."""
    seed_order("ord-3", "cai", days_ago=3, ticket_response="fixed")
    seed_order("ord-4", "cai", days_ago=3)
    checked = check("cai", "ord-3", supportTicketId="T-ord-3").json
    assert (checked["assessment"]["outcome"], checked["decidedAtOnce"], checked["usesTheOneClaim"]) == (
        "REFUSED", True, True,
    )  # fmt: skip
    assert check("cai", "ord-4", supportTicketId="T-ord-4").json["assessment"]["outcome"] == "FULL_REFUND"

    assert submit("cai", "ord-3").json["status"] == "REFUSED"
    after = check("cai", "ord-4", supportTicketId="T-ord-4").json
    assert after["assessment"]["outcome"] == "REFUSED"
    assert rules(after["assessment"])["NO_EARLIER_CLAIM"] == "fail"


def test_an_app_store_order_would_not_be_a_claim_under_the_policy(stack: LocalAws) -> None:
    seed_order("ord-5", "dov", days_ago=3, channel="apple_itunes")
    checked = check("dov", "ord-5", supportTicketId="T-ord-5").json
    assert checked["assessment"]["outcome"] == "REFUSED"
    assert checked["usesTheOneClaim"] is False


def test_the_check_is_refused_as_the_submit_would_be(stack: LocalAws) -> None:
    seed_order("ord-6", "eve", days_ago=40)
    seed_order("ord-7", "eve", days_ago=40)
    stranger = check("mallory", "ord-6", supportTicketId="T-ord-6")
    assert (stranger.status, stranger.json["code"], stranger.json["errors"][0]["field"]) == (
        404, "order_not_found", "orderId",
    )  # fmt: skip
    assert submit("eve", "ord-6").status == 201  # pending: a partial refund
    again = check("eve", "ord-6", supportTicketId="T-ord-6")
    assert again.status == 409
    other = check("eve", "ord-7", supportTicketId="T-ord-7")
    assert (other.status, other.json["code"]) == (409, "open_request_exists")


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ({}, "supportTicketId", "missing"),
        ({"supportTicketId": ""}, "supportTicketId", "string_too_short"),
        ({"supportTicketId": "T\x01"}, "supportTicketId", "string_pattern_mismatch"),
        ({"supportTicketId": "T" * 129}, "supportTicketId", "string_too_long"),
        ({"supportTicketId": "T-1", "ticket": "T-1"}, "ticket", "unknown_parameter"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(
    stack: LocalAws, query: dict[str, str], field: str, code: str
) -> None:
    seed_order("ord-8", "fay", days_ago=40)
    before = stored(stack)
    answer = check("fay", "ord-8", **query)
    assert answer.status == 400, answer.json
    assert [(error["field"], error["code"]) for error in answer.json["errors"]] == [(field, code)]
    assert stored(stack) == before
