"""The API handlers against moto: every route's happy path and every error code of API.md."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from api_support import call, load_event, seed_order, stored

from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

ALICE = claims_for("alice")
BOB = claims_for("bob")
RITA = claims_for("rita", reviewer=True)
SUBMIT = "/refund-requests"


def submit(
    order_id: str,
    claims: dict[str, str] = ALICE,
    ticket: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Any:
    body = {"orderId": order_id, "reason": "It keeps disconnecting.", "supportTicketId": ticket or f"T-{order_id}"}
    return call(api_event("POST", SUBMIT, SUBMIT, body=body | extra, claims=claims, headers=headers))


def read(request_id: str, claims: dict[str, str] = ALICE) -> Any:
    path = f"/refund-requests/{request_id}"
    return call(
        api_event("GET", "/refund-requests/{requestId}", path, path_parameters={"requestId": request_id}, claims=claims)
    )


def evaluate(request_id: str, body: dict[str, Any] | str, claims: dict[str, str] = RITA) -> Any:
    return call(
        api_event(
            "POST",
            "/refund-requests/{requestId}/evaluate",
            f"/refund-requests/{request_id}/evaluate",
            path_parameters={"requestId": request_id},
            body=body,
            claims=claims,
        )
    )


def cancel(request_id: str, claims: dict[str, str] = ALICE) -> Any:
    return call(
        api_event(
            "POST",
            "/refund-requests/{requestId}/cancel",
            f"/refund-requests/{request_id}/cancel",
            path_parameters={"requestId": request_id},
            claims=claims,
        )
    )


def listing(claims: dict[str, str], **query: str) -> Any:
    return call(api_event("GET", SUBMIT, SUBMIT, query=query or None, claims=claims))


def requests_table_items(stack: LocalAws) -> list[dict[str, Any]]:
    table = stack.table_names["RequestsTable"]
    return boto3.client("dynamodb").scan(TableName=table)["Items"]


# ---- submit ------------------------------------------------------------------------------------------


def test_partial_refund_claim_is_recorded_pending_with_deadline_and_workflow(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=40)
    response = submit("ord-1")
    assert response.status == 201
    body = response.json
    assert response.header("Location") == f"/refund-requests/{body['requestId']}"
    assert body["status"] == "PENDING"
    assert body["username"] == "alice"
    assert body["assessment"]["outcome"] == "PARTIAL_REFUND"
    assert body["assessment"]["suggestedAmount"] == {"amount": "89.04", "currency": "USD"}
    assert [rule["id"] for rule in body["assessment"]["rules"]][:3] == [
        "WITHIN_30_DAYS",
        "TRAFFIC_UNDER_LIMIT",
        "NEW_ORDER",
    ]
    assert len(body["assessment"]["rules"]) == 10
    assert body["deadline"] > body["receivedAt"]
    assert body["decision"] is None
    assert "customerEmail" not in body
    assert [entry["event"] for entry in body["history"]] == ["received", "assessed"]
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=stack.state_machine_arn)
    assert [execution["name"] for execution in executions["executions"]] == [body["requestId"]]


def test_clear_full_refund_is_approved_at_once_and_frees_the_customer(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=3)
    response = submit("ord-1")
    assert response.status == 201
    assert response.json["status"] == "APPROVED"
    assert response.json["decision"]["refundType"] == "FULL"
    assert response.json["decision"]["amount"] == {"amount": "100.00", "currency": "USD"}
    assert response.json["decision"]["decidedBy"] == "auto"
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=stack.state_machine_arn)
    assert executions["executions"] == []
    # No open claim is left behind, but the decided claim now counts as an earlier claim.
    seed_order("ord-2", days_ago=3)
    second = submit("ord-2")
    assert second.status == 201
    assert second.json["status"] == "REFUSED"
    failed = [rule["id"] for rule in second.json["assessment"]["rules"] if rule["result"] == "fail"]
    assert failed == ["NO_EARLIER_CLAIM"]


def test_clear_refusal_is_decided_at_once_with_every_reason(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=3, channel="apple_itunes", connections=250)
    response = submit("ord-1")
    assert response.status == 201
    assert response.json["status"] == "REFUSED"
    reasons = response.json["decision"]["reasons"]
    assert len(reasons) == 2
    assert any("Apple" in reason for reason in reasons)
    assert any("250 connections" in reason for reason in reasons)


def test_unknown_ticket_needs_review(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=3)
    response = submit("ord-1", ticket="T-unknown")
    assert response.status == 201
    assert response.json["status"] == "PENDING"
    assert response.json["assessment"]["outcome"] == "NEEDS_REVIEW"


@pytest.mark.parametrize("owner", ["bob", None], ids=["another-customers-order", "unknown-order"])
def test_order_that_is_not_yours_is_404(stack: LocalAws, owner: str | None) -> None:
    if owner:
        seed_order("ord-9", username=owner)
    response = submit("ord-9")
    assert response.status == 404
    assert "ord-9" in response.json["message"]
    assert requests_table_items(stack) == []


def test_second_open_request_of_a_customer_is_409(stack: LocalAws) -> None:
    seed_order("ord-1")
    seed_order("ord-2")
    assert submit("ord-1").status == 201
    second = submit("ord-2")
    assert second.status == 409
    assert "open refund request" in second.json["message"]


def test_second_request_for_an_order_is_409_even_after_its_decision(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=3, channel="apple_itunes")
    assert submit("ord-1").json["status"] == "REFUSED"
    again = submit("ord-1")
    assert again.status == 409
    assert again.json["errors"][0]["field"] == "orderId"


def test_a_body_naming_another_username_changes_nothing(stack: LocalAws) -> None:
    seed_order("ord-1", username="alice")
    seed_order("ord-2", username="bob")
    response = submit("ord-2", claims=ALICE, username="bob")
    assert response.status == 404
    mine = submit("ord-1", claims=ALICE, username="bob")
    assert mine.status == 201
    assert mine.json["username"] == "alice"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "x", "supportTicketId": "T-1"}, "orderId"),
        ({"orderId": "ord-1", "supportTicketId": "T-1"}, "reason"),
        ({"orderId": "ord-1", "reason": "x"}, "supportTicketId"),
        ({"orderId": "ord-1", "reason": "   \n", "supportTicketId": "T-1"}, "reason"),
        ({"orderId": "ord-1", "reason": "x" * 2001, "supportTicketId": "T-1"}, "reason"),
        ({"orderId": "ord-1", "reason": "bad\x00byte", "supportTicketId": "T-1"}, "reason"),
        ({"orderId": "ord\n1", "reason": "x", "supportTicketId": "T-1"}, "orderId"),
        ({"orderId": "o" * 129, "reason": "x", "supportTicketId": "T-1"}, "orderId"),
        ({"orderId": 1001, "reason": "x", "supportTicketId": "T-1"}, "orderId"),
        ({"orderId": "ord-1", "reason": ["x"], "supportTicketId": "T-1"}, "reason"),
    ],
    ids=[
        "missing-order",
        "missing-reason",
        "missing-ticket",
        "blank-reason",
        "reason-2001",
        "control-char",
        "newline-in-id",
        "id-129",
        "number-id",
        "list-reason",
    ],
)
def test_bad_submission_is_400_naming_the_field_and_records_nothing(
    stack: LocalAws, body: dict[str, Any], field: str
) -> None:
    seed_order("ord-1")
    response = call(api_event("POST", SUBMIT, SUBMIT, body=body, claims=ALICE))
    assert response.status == 400
    assert field in [error["field"] for error in response.json["errors"]]
    assert field in response.json["message"]
    assert requests_table_items(stack) == []


def test_reason_of_2000_unicode_characters_is_accepted(stack: LocalAws) -> None:
    seed_order("ord-1")
    assert submit("ord-1", reason="退" * 2000).status == 201


@pytest.mark.parametrize("body", ['{"orderId": ', "", "[1, 2]", "null"], ids=["truncated", "empty", "array", "null"])
def test_malformed_body_is_400(stack: LocalAws, body: str) -> None:
    response = call(api_event("POST", SUBMIT, SUBMIT, body=body, claims=ALICE))
    assert response.status == 400
    assert response.json["errors"]
    assert requests_table_items(stack) == []


def test_no_claims_is_401_on_every_route(stack: LocalAws) -> None:
    for name in ("api_submit_no_claims",):
        assert call(load_event(name)).status == 401
    assert listing(None).status == 401  # type: ignore[arg-type]
    assert read("rr_x", None).status == 401  # type: ignore[arg-type]
    assert cancel("rr_x", None).status == 401  # type: ignore[arg-type]
    assert evaluate("rr_x", {"action": "assess"}, None).status == 401  # type: ignore[arg-type]


# ---- idempotency -------------------------------------------------------------------------------------


def test_same_idempotency_key_and_body_returns_the_first_answer(stack: LocalAws) -> None:
    seed_order("ord-1001")
    event = load_event("api_submit_idempotent")
    first = call(event)
    retry = call(load_event("api_submit_idempotent"))
    assert first.status == retry.status == 201
    assert retry.json["requestId"] == first.json["requestId"]
    requests = [item for item in requests_table_items(stack) if item["sk"]["S"] == "REQUEST"]
    assert len(requests) == 1


def test_same_idempotency_key_with_another_body_is_409(stack: LocalAws) -> None:
    seed_order("ord-1001")
    assert call(load_event("api_submit_idempotent")).status == 201
    other = load_event("api_submit_idempotent")
    other["body"] = json.dumps(json.loads(other["body"]) | {"reason": "Another reason"})
    response = call(other)
    assert response.status == 409
    assert response.json["errors"][0]["field"] == "Idempotency-Key"


def test_idempotency_keys_are_per_customer(stack: LocalAws) -> None:
    seed_order("ord-1", username="alice")
    seed_order("ord-2", username="bob")
    headers = {"Idempotency-Key": "same-key"}
    alice = submit("ord-1", ALICE, headers=headers)
    bob = submit("ord-2", BOB, headers=headers)
    assert alice.status == bob.status == 201
    assert alice.json["requestId"] != bob.json["requestId"]


def test_a_second_submission_while_the_first_is_answered_waits_for_it_then_says_when_to_retry(
    stack: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same key again while the first call is still in its service (a double click): the second waits for
    the first answer, and, the first still unanswered after that wait, is a 409 saying when to send it again."""
    from refund_core.app import claims, idempotency  # noqa: PLC0415
    from refund_core.app.inputs import SubmitRefundRequest  # noqa: PLC0415
    from refund_core.errors import StillInProgress  # noqa: PLC0415
    from refund_core.http.identity import caller_from_claims  # noqa: PLC0415

    seed_order("ord-1")
    caller = caller_from_claims(ALICE)
    command = SubmitRefundRequest(order_id="ord-1", reason="x", support_ticket_id="T-ord-1")
    waits: list[float] = []
    monkeypatch.setattr(idempotency.time, "sleep", waits.append)
    seen: list[Exception] = []
    first_submit = claims.submit_refund_request

    def submit_during_which_the_same_key_comes_again(*args: Any, **kwargs: Any) -> Any:
        try:
            idempotency.submit_refund_request_once(caller, command, "double-click")
        except StillInProgress as error:
            seen.append(error)
        return first_submit(*args, **kwargs)

    monkeypatch.setattr(claims, "submit_refund_request", submit_during_which_the_same_key_comes_again)
    first = idempotency.submit_refund_request_once(caller, command, "double-click")
    (second,) = seen
    assert second.retry_after_seconds == 1 and second.field == "Idempotency-Key"
    assert sum(waits) == idempotency.FIRST_ANSWER_WAIT_SECONDS
    monkeypatch.setattr(claims, "submit_refund_request", first_submit)
    assert idempotency.submit_refund_request_once(caller, command, "double-click") == first


def test_still_in_progress_is_409_with_retry_after(stack: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    from refund_core.app import claims  # noqa: PLC0415
    from refund_core.errors import StillInProgress  # noqa: PLC0415

    def still_answering(*_: Any, **__: Any) -> Any:
        raise StillInProgress("the first request is still being answered", field="Idempotency-Key")

    monkeypatch.setattr(claims, "submit_refund_request", still_answering)
    seed_order("ord-1")
    answer = submit("ord-1")
    assert answer.status == 409 and answer.header("Retry-After") == "1"
    assert answer.json["errors"] == [
        {
            "field": "Idempotency-Key",
            "message": "the first request is still being answered",
            "code": "in_progress",
            "params": {},
        }
    ]


# ---- read and list -----------------------------------------------------------------------------------


def test_owner_and_reviewer_read_a_request_stranger_gets_404(stack: LocalAws) -> None:
    seed_order("ord-1")
    request_id = submit("ord-1").json["requestId"]
    assert read(request_id).json["requestId"] == request_id
    assert read(request_id, RITA).status == 200
    stranger = read(request_id, BOB)
    assert stranger.status == 404
    assert "alice" not in json.dumps(stranger.json)
    assert read("rr_unknown").status == 404


def test_reviewer_queue_is_oldest_deadline_first_and_customers_see_only_their_own(stack: LocalAws) -> None:
    ids = []
    for username in ("carol", "dave", "erin"):
        seed_order(f"ord-{username}", username=username)
        ids.append(submit(f"ord-{username}", claims=claims_for(username)).json["requestId"])
    queue = listing(RITA, status="PENDING")
    assert queue.status == 200
    deadlines = [item["deadline"] for item in queue.json["items"]]
    assert deadlines == sorted(deadlines)
    assert {item["requestId"] for item in queue.json["items"]} == set(ids)
    own = listing(claims_for("dave"))
    assert [item["username"] for item in own.json["items"]] == ["dave"]
    assert listing(claims_for("dave"), status="APPROVED").json["items"] == []
    assert listing(RITA, status="APPROVED").json == {"items": [], "nextToken": None}


def test_listing_pages_with_next_token(stack: LocalAws) -> None:
    for username in ("carol", "dave", "erin"):
        seed_order(f"ord-{username}", username=username)
        submit(f"ord-{username}", claims=claims_for(username))
    seen: list[str] = []
    token: str | None = None
    for _ in range(5):
        query = {"status": "PENDING", "limit": "2"} | ({"nextToken": token} if token else {})
        page = listing(RITA, **query).json
        seen += [item["requestId"] for item in page["items"]]
        token = page["nextToken"]
        if token is None:
            break
    assert len(seen) == len(set(seen)) == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [({"status": "LOST"}, "status"), ({"limit": "0"}, "limit"), ({"nextToken": "not-a-token"}, "nextToken")],
    ids=["unknown-status", "limit-0", "forged-token"],
)
def test_bad_listing_query_is_400(stack: LocalAws, query: dict[str, str], field: str) -> None:
    response = listing(RITA, **query)
    assert response.status == 400
    assert response.json["errors"][0]["field"] == field


# ---- evaluate ----------------------------------------------------------------------------------------


def test_reviewer_approves_a_partial_refund(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=40)
    request_id = submit("ord-1").json["requestId"]
    response = evaluate(request_id, {"action": "approve", "amount": "89.04", "note": "as suggested"})
    assert response.status == 200
    assert response.json["status"] == "APPROVED"
    decision = response.json["decision"]
    assert decision["refundType"] == "PARTIAL"
    assert decision["amount"] == {"amount": "89.04", "currency": "USD"}
    assert decision["decidedBy"] == "rita"
    assert any("40 days" in reason for reason in decision["reasons"])
    stored = read(request_id).json
    assert stored["status"] == "APPROVED"
    assert [entry["event"] for entry in stored["history"]] == ["received", "assessed", "decided"]
    # The decision released the customer's open claim.
    seed_order("ord-2")
    assert submit("ord-2").status == 201


def test_reviewer_approves_in_full_when_no_amount_is_given(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=40)
    request_id = submit("ord-1").json["requestId"]
    decision = evaluate(request_id, {"action": "approve"}).json["decision"]
    assert decision["refundType"] == "FULL"
    assert decision["amount"] == {"amount": "100.00", "currency": "USD"}


def test_reviewer_refuses_with_a_note(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=40)
    request_id = submit("ord-1").json["requestId"]
    response = evaluate(request_id, {"action": "refuse", "note": "The logs show normal service."})
    assert response.status == 200
    assert response.json["status"] == "REFUSED"
    assert "The logs show normal service." in response.json["decision"]["reasons"]


def test_assess_reruns_the_rules_on_todays_facts(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=3, traffic_bytes=None, connections=None)
    created = submit("ord-1").json
    assert created["assessment"]["outcome"] == "NEEDS_REVIEW"
    seed_order("ord-1", days_ago=3, traffic_bytes=5, connections=5)
    response = evaluate(created["requestId"], {"action": "assess"})
    assert response.status == 200
    assert response.json["status"] == "PENDING"
    assert response.json["assessment"]["outcome"] == "FULL_REFUND"
    assert read(created["requestId"]).json["assessment"]["outcome"] == "FULL_REFUND"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"action": "approve", "amount": "100.01"}, 422, "amount"),
        ({"action": "approve", "amount": "0"}, 400, "amount"),
        ({"action": "approve", "amount": "0.001"}, 400, "amount"),
        ({"action": "approve", "amount": "-5"}, 400, "amount"),
        ({"action": "approve", "amount": "ten"}, 400, "amount"),
        ({"action": "approve", "amount": 10}, 400, "amount"),
        ({"action": "refuse"}, 400, "note"),
        ({"action": "refuse", "note": " "}, 400, "note"),
        ({"action": "escalate"}, 400, "action"),
        ({}, 400, "action"),
    ],
    ids=[
        "over-paid",
        "zero",
        "sub-cent",
        "negative",
        "word",
        "number",
        "no-note",
        "blank-note",
        "unknown-action",
        "empty",
    ],
)
def test_bad_evaluation_is_rejected_and_changes_nothing(
    stack: LocalAws, body: dict[str, Any], status: int, field: str
) -> None:
    seed_order("ord-1", days_ago=40)
    request_id = submit("ord-1").json["requestId"]
    response = evaluate(request_id, body)
    assert response.status == status
    assert field in [error["field"] for error in response.json.get("errors", [])]
    assert read(request_id).json["status"] == "PENDING"


def test_approving_a_refused_assessment_is_422(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=3, channel=None)
    request_id = submit("ord-1").json["requestId"]
    seed_order("ord-1", days_ago=3, channel="apple_itunes")
    assert evaluate(request_id, {"action": "assess"}).json["assessment"]["outcome"] == "REFUSED"
    response = evaluate(request_id, {"action": "approve"})
    assert response.status == 422
    assert read(request_id).json["status"] == "PENDING"


def test_customer_on_a_reviewer_route_is_403(stack: LocalAws) -> None:
    seed_order("ord-1")
    request_id = submit("ord-1").json["requestId"]
    assert evaluate(request_id, {"action": "approve"}, ALICE).status == 403
    assert evaluate("rr_unknown", {"action": "approve"}, ALICE).status == 403


def test_acting_on_a_decided_request_is_409(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=40)
    request_id = submit("ord-1").json["requestId"]
    assert evaluate(request_id, {"action": "approve"}).status == 200
    assert evaluate(request_id, {"action": "refuse", "note": "again"}).status == 409
    assert cancel(request_id).status == 409
    assert evaluate("rr_unknown", {"action": "assess"}).status == 404


# ---- cancel ------------------------------------------------------------------------------------------


def test_cancel_is_owner_only_idempotent_and_frees_the_order(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=40)
    request_id = submit("ord-1").json["requestId"]
    assert cancel(request_id, BOB).status == 404
    first = cancel(request_id)
    assert first.status == 200
    assert first.json["status"] == "CANCELLED"
    before = stored(stack)
    again = cancel(request_id)
    assert again.status == 200
    assert again.json == read(request_id).json
    assert stored(stack) == before
    assert [entry["event"] for entry in read(request_id).json["history"]].count("cancelled") == 1
    # The order is free again, and the cancelled request is no earlier claim.
    resubmitted = submit("ord-1")
    assert resubmitted.status == 201
    no_earlier = next(rule for rule in resubmitted.json["assessment"]["rules"] if rule["id"] == "NO_EARLIER_CLAIM")
    assert no_earlier["result"] == "pass"
    assert cancel("rr_unknown").status == 404


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
def test_a_body_that_is_not_json_is_415_not_a_server_error(stack: LocalAws, content_type: str) -> None:
    seed_order("ord-1")
    event = api_event(
        "POST",
        SUBMIT,
        SUBMIT,
        body='{"orderId": "ord-1", "reason": "x", "supportTicketId": "T-ord-1"}',
        claims=ALICE,
        headers={"Content-Type": content_type},
    )
    response = call(event)
    assert response.status == 415
    assert response.json["errors"][0]["field"] == "Content-Type"
    assert requests_table_items(stack) == []


# ---- who may act, and how often -----------------------------------------------------------------------


def test_a_reviewer_may_not_assess_or_decide_a_request_they_filed_themselves(stack: LocalAws) -> None:
    seed_order("ord-rita", "rita", days_ago=40)
    request_id = submit("ord-rita", claims=RITA).json["requestId"]
    before = stored(stack)
    for body in ({"action": "assess"}, {"action": "approve"}, {"action": "refuse", "note": "no"}):
        response = evaluate(request_id, body, claims=RITA)
        assert response.status == 403, response.json
        assert "filed themselves" in response.json["message"]
    assert stored(stack) == before
    other_reviewer = claims_for("rex", reviewer=True)
    assert evaluate(request_id, {"action": "approve"}, claims=other_reviewer).status == 200


def test_an_order_refiled_after_each_cancellation_stops_at_the_policys_limit(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=40)
    for _ in range(3):  # filingLimits.perOrder
        created = submit("ord-1")
        assert created.status == 201, created.json
        assert cancel(created.json["requestId"]).status == 200
    before = stored(stack)
    refused = submit("ord-1")
    assert refused.status == 429
    assert refused.json["errors"][0]["field"] == "orderId"
    assert "3 refund requests, the most the Refund Policy allows for one order" in refused.json["message"]
    assert stored(stack) == before


def test_a_customer_filing_past_the_limit_of_the_period_is_429(stack: LocalAws) -> None:
    for index in range(6):
        seed_order(f"ord-{index}", days_ago=40)
    for index in range(5):  # filingLimits.perCustomer in perCustomerDays
        created = submit(f"ord-{index}")
        assert created.status == 201, created.json
        assert cancel(created.json["requestId"]).status == 200
    refused = submit("ord-5")
    assert refused.status == 429
    assert "5 refund requests in the last 30 days" in refused.json["message"]


def test_a_request_refused_only_for_its_app_store_order_is_no_earlier_claim(stack: LocalAws) -> None:
    """POLICY-RULES.md, third release: refused only because Apple refunds it (NOT_APP_STORE its one failed rule),
    it was never a claim under this Policy, and the customer's card claim after it is judged as a first claim."""
    seed_order("ord-apple", days_ago=5, channel="apple_itunes")
    seed_order("ord-card", days_ago=5)
    refused = submit("ord-apple", ticket="T-ord-apple")
    assert refused.json["status"] == "REFUSED"
    assert [rule["id"] for rule in refused.json["assessment"]["rules"] if rule["result"] == "fail"] == ["NOT_APP_STORE"]
    card = submit("ord-card")
    assert (card.json["status"], card.json["assessment"]["outcome"]) == ("APPROVED", "FULL_REFUND")
    (earlier,) = [rule for rule in card.json["assessment"]["rules"] if rule["id"] == "NO_EARLIER_CLAIM"]
    assert earlier["result"] == "pass"


def test_a_request_refused_for_its_app_store_order_and_more_is_an_earlier_claim(stack: LocalAws) -> None:
    seed_order("ord-apple", days_ago=5, channel="apple_itunes", payment_state="charged_back")
    seed_order("ord-card", days_ago=5)
    assert submit("ord-apple", ticket="T-ord-apple").json["status"] == "REFUSED"
    card = submit("ord-card")
    (earlier,) = [rule for rule in card.json["assessment"]["rules"] if rule["id"] == "NO_EARLIER_CLAIM"]
    assert (card.json["status"], earlier["result"]) == ("REFUSED", "fail")


@pytest.mark.parametrize(
    ("changes", "field", "code", "params"),
    [
        ({"reason": ""}, "reason", "string_too_short", {"min_length": 1}),
        ({"reason": " \u200b "}, "reason", "no_visible_text", {}),
        ({"reason": "x" * 2001}, "reason", "string_too_long", {"max_length": 2000}),
        ({"supportTicketId": None}, "supportTicketId", "string_type", {}),
    ],
)
def test_a_field_error_carries_a_code_and_its_parameters_for_a_page_to_word(
    stack: LocalAws, changes: dict[str, Any], field: str, code: str, params: dict[str, Any]
) -> None:
    seed_order("ord-1")
    answer = submit("ord-1", **changes)
    assert answer.status == 400 and answer.json["code"] == "invalid_request"
    (error,) = answer.json["errors"]
    assert (error["field"], error["code"], error["params"]) == (field, code, params)
    assert error["message"]  # the API's English words stay for its clients
