"""The whole service over HTTP: every outcome, the reviewer's decisions, cancelling, the error statuses of
API.md, idempotency and the emails, against `refund-local serve` with the seed below. Each test uses its
own customers, so the tests do not depend on one another's order."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from e2e_support import (
    DECISION_SUBJECT,
    GB,
    REPO_ROOT,
    REVIEWER,
    Server,
    about,
    customer,
    iso,
    order,
    running_server,
    ticket,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-api")]

SEED: dict[str, Any] = {
    "customers": [
        customer(name)
        for name in ("fiona", "fred", "paul", "nina", "ruth", "cora", "olga", "ivy", "sam", "sue", "tom", "dora")
    ]
    + [
        customer(
            "rex",
            blocks=[{"reason": "terms_violation", "from": iso(20), "until": None}],
            violations=[{"kind": "terms_of_use", "at": iso(21)}],
        )
    ],
    "orders": [
        order("F-1", "fiona"),
        order("FR-1", "fred"),
        order("P-1", "paul", days_ago=40, amount="99.00"),
        order("X-1", "rex", paymentChannel="apple_itunes", connections=150),
        order("N-1", "nina"),
        order("R-1", "ruth", days_ago=40),
        # No usage records at all: needs review, so it stays pending for the cancel test.
        order("C-1", "cora", trafficBytes=None, connections=None),
        order("O-1", "olga", days_ago=40),
        order("O-2", "olga", days_ago=40),
        order("I-1", "ivy", days_ago=40),
        order("I-2", "ivy", days_ago=40),
        order("S-1", "sam", days_ago=40),
        order("SU-1", "sue", days_ago=40),
        order("T-1", "tom"),
        order("D-1", "dora", trafficBytes=2 * GB),
    ],
    "tickets": [
        ticket(f"TK-{name}", name)
        for name in ("fiona", "fred", "paul", "rex", "ruth", "cora", "olga", "ivy", "sam", "sue", "tom", "dora")
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("api"), SEED) as running:
        yield running


def rule_results(resource: dict[str, Any]) -> dict[str, str]:
    return {rule["id"]: rule["result"] for rule in resource["assessment"]["rules"]}


# ---- outcomes ----------------------------------------------------------------------------------------


def test_clear_full_refund_is_approved_at_once(server: Server) -> None:
    response = server.submit("fiona", "F-1", "TK-fiona")
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"/refund-requests/{body['requestId']}"
    assert body["status"] == "APPROVED"
    assert body["assessment"]["outcome"] == "FULL_REFUND"
    assert set(rule_results(body).values()) == {"pass"}
    assert body["decision"]["refundType"] == "FULL"
    assert body["decision"]["amount"] == {"amount": "59.99", "currency": "USD"}
    assert body["decision"]["decidedBy"] == "auto"
    assert body["deadline"]
    emails = server.wait_for_emails(about(body["requestId"], "is approved"))
    assert [email["to"] for email in emails] == [["fiona@example.com"]]
    assert "US$59.99" in emails[0]["text"]


def test_partial_refund_waits_for_a_reviewer_who_approves_part(server: Server) -> None:
    body = server.filed("paul", "P-1", "TK-paul")
    request_id = body["requestId"]
    assert body["status"] == "PENDING"
    assert body["decision"] is None
    assert body["assessment"]["outcome"] == "PARTIAL_REFUND"
    assert rule_results(body)["WITHIN_30_DAYS"] == "fail"
    suggested = body["assessment"]["suggestedAmount"]
    assert suggested["currency"] == "USD"
    assert Decimal("0") < Decimal(suggested["amount"]) < Decimal("99.00")

    acknowledgements = server.wait_for_emails(about(request_id, "We have received"))
    assert [email["to"] for email in acknowledgements] == [["paul@example.com"]]

    approved = server.evaluate(
        request_id, {"action": "approve", "amount": suggested["amount"], "note": "Less time used"}
    )
    assert approved.status_code == 200, approved.text
    decision = approved.json()["decision"]
    assert approved.json()["status"] == "APPROVED"
    assert decision["refundType"] == "PARTIAL"
    assert decision["amount"] == suggested
    assert decision["decidedBy"] == REVIEWER
    assert server.read(request_id, "paul").json()["status"] == "APPROVED"
    assert server.wait_for_emails(about(request_id, "approved in part"))


def test_clear_refusal_is_decided_at_once_with_every_failed_reason(server: Server) -> None:
    body = server.filed("rex", "X-1", "TK-rex")
    assert body["status"] == "REFUSED"
    assert body["assessment"]["outcome"] == "REFUSED"
    failed = {rule_id for rule_id, result in rule_results(body).items() if result == "fail"}
    assert failed == {"NOT_APP_STORE", "CONNECTIONS_WITHIN_LIMIT", "LAWFUL_USE", "NOT_BLOCKED"}
    reasons = {rule["id"]: rule["reason"] for rule in body["assessment"]["rules"]}
    assert body["decision"]["reasons"] == [
        reasons[rule["id"]] for rule in body["assessment"]["rules"] if rule["id"] in failed
    ]
    assert body["decision"]["refundType"] is None
    assert body["decision"]["decidedBy"] == "auto"
    refusal = server.wait_for_emails(about(body["requestId"], "is refused"))
    assert len(refusal) == 1
    assert "Apple" in refusal[0]["text"]
    assert not [email for email in server.outbox() if about(body["requestId"], "We have received")(email)]


def test_unknown_ticket_needs_review_and_a_reviewer_approves_in_full(server: Server) -> None:
    body = server.filed("nina", "N-1", "T-NOT-ON-RECORD")
    assert body["status"] == "PENDING"
    assert body["assessment"]["outcome"] == "NEEDS_REVIEW"
    assert rule_results(body)["SUPPORT_CONFIRMED_UNFIXABLE"] == "unknown"

    approved = server.evaluate(body["requestId"], {"action": "approve", "note": "Ticket found in the old system"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "APPROVED"
    assert approved.json()["decision"]["refundType"] == "FULL"
    assert approved.json()["decision"]["amount"] == {"amount": "59.99", "currency": "USD"}


def test_a_reviewer_refuses_with_a_note(server: Server) -> None:
    request_id = server.submit("ruth", "R-1", "TK-ruth").json()["requestId"]
    refused = server.evaluate(request_id, {"action": "refuse", "note": "The service was used all along."})
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "REFUSED"
    assert "The service was used all along." in refused.json()["decision"]["reasons"]
    assert refused.json()["decision"]["decidedBy"] == REVIEWER
    email = server.wait_for_emails(about(request_id, "is refused"))
    assert "The service was used all along." in email[0]["text"]


# ---- cancel ------------------------------------------------------------------------------------------


def test_cancel_then_cancel_again_changes_nothing(server: Server) -> None:
    request_id = server.submit("cora", "C-1", "TK-cora").json()["requestId"]
    cancelled = server.call("POST", f"/refund-requests/{request_id}/cancel", user="cora")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "CANCELLED"

    again = server.call("POST", f"/refund-requests/{request_id}/cancel", user="cora")
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "CANCELLED"
    # Changed nothing: as it reads now but for what the outbox appends meanwhile (emails sent).
    now = server.read(request_id, user="cora").json()

    def own(resource: dict[str, Any]) -> dict[str, Any]:
        return resource | {"history": [entry for entry in resource["history"] if entry["event"] != "email sent"]}

    assert own(again.json()) == own(now)
    assert [entry["event"] for entry in again.json()["history"]].count("cancelled") == 1
    assert len(server.wait_for_emails(about(request_id, "is cancelled"))) == 1

    acting = server.evaluate(request_id, {"action": "approve"})
    assert acting.status_code == 409, acting.text


# ---- conflicts ---------------------------------------------------------------------------------------


def test_second_open_request_of_a_customer_is_409(server: Server) -> None:
    assert server.submit("olga", "O-1", "TK-olga").status_code == 201
    second = server.submit("olga", "O-2", "TK-olga")
    assert second.status_code == 409, second.text
    assert "open refund request" in second.json()["message"]
    listed = server.call("GET", "/refund-requests", user="olga").json()["items"]
    assert [item["orderId"] for item in listed] == ["O-1"]


def test_second_request_for_a_decided_order_is_409(server: Server) -> None:
    first = server.submit("fred", "FR-1", "TK-fred")
    assert first.json()["status"] == "APPROVED"
    second = server.submit("fred", "FR-1", "TK-fred")
    assert second.status_code == 409, second.text
    answer = second.json()
    assert answer["code"] == "order_has_request" and answer["params"] == {"order": "FR-1"}
    assert answer["errors"] == [
        {"field": "orderId", "message": answer["message"], "code": "order_has_request", "params": {"order": "FR-1"}}
    ]


def test_acting_on_a_decided_request_is_409(server: Server) -> None:
    request_id = server.submit("dora", "D-1", "TK-dora").json()["requestId"]
    for body in ({"action": "approve"}, {"action": "refuse", "note": "no"}, {"action": "assess"}):
        response = server.evaluate(request_id, body)
        assert response.status_code == 409, response.text
    assert server.read(request_id).json()["status"] == "APPROVED"


# ---- who may do what ---------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer garbage", "Bearer a.b.c", "Basic dG9tOnRvbQ=="])
def test_no_or_unreadable_token_is_401(server: Server, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in (("GET", "/refund-requests"), ("POST", "/refund-requests"), ("GET", "/refund-requests/rr_x")):
        response = server.call(method, path, headers=headers, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["message"] == "Unauthorized"


def test_a_customer_cannot_evaluate(server: Server) -> None:
    request_id = server.submit("sam", "S-1", "TK-sam").json()["requestId"]
    response = server.evaluate(request_id, {"action": "approve"}, user="sam")
    assert response.status_code == 403, response.text
    assert server.read(request_id).json()["status"] == "PENDING"


def test_a_stranger_and_an_unknown_id_get_404(server: Server) -> None:
    request_id = server.submit("sue", "SU-1", "TK-sue").json()["requestId"]
    assert server.read(request_id, "sue").status_code == 200
    assert server.read(request_id, "tom").status_code == 404
    assert server.call("POST", f"/refund-requests/{request_id}/cancel", user="tom").status_code == 404
    unknown = server.read(f"rr_{uuid.uuid4().hex}")
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["message"]


# ---- idempotency and input ---------------------------------------------------------------------------


def test_same_idempotency_key_and_body_returns_the_first_answer(server: Server) -> None:
    key = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = server.submit("ivy", "I-1", "TK-ivy", headers=key)
    again = server.submit("ivy", "I-1", "TK-ivy", headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["requestId"] == first.json()["requestId"]
    assert len(server.call("GET", "/refund-requests", user="ivy").json()["items"]) == 1

    other_body = server.submit("ivy", "I-2", "TK-ivy", headers=key)
    assert other_body.status_code == 409, other_body.text
    assert len(server.call("GET", "/refund-requests", user="ivy").json()["items"]) == 1
    acknowledgements = server.wait_for_emails(about(first.json()["requestId"], "We have received"))
    assert len(acknowledgements) == 1


def test_malformed_json_is_400_naming_the_body(server: Server) -> None:
    response = server.call(
        "POST",
        "/refund-requests",
        user="tom",
        data=b'{"orderId": "T-1", "reason": ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "body" in response.json()["message"]
    assert [error["field"] for error in response.json()["errors"]] == ["body"]


def test_unknown_route_wrong_method_and_oversized_body(server: Server) -> None:
    unknown = server.call("GET", "/refunds", user="tom")
    assert unknown.status_code == 404
    assert unknown.json()["message"]
    wrong = server.call("DELETE", "/refund-requests/rr_x", user="tom")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET"
    too_big = server.call("POST", "/refund-requests", user="tom", data=b"x" * (64 * 1024 + 1))
    assert too_big.status_code == 413
    assert too_big.json()["message"]


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PURGE"])
def test_a_method_http_server_does_not_know_is_405_not_501(server: Server, method: str) -> None:
    # Found by fuzzing: http.server answered a method without a `do_` handler with 501 and an HTML page.
    response = server.call(method, "/refund-requests", user="tom")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, GET"
    assert response.json()["message"]


def test_a_body_under_the_runners_cap_but_over_the_handlers_is_413_naming_it(server: Server) -> None:
    body = json.dumps({"orderId": "T-1", "reason": "x" * 40_000, "supportTicketId": "TK-tom"})
    response = server.call(
        "POST", "/refund-requests", user="tom", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json()["errors"][0]["field"] == "body"


# ---- documents ---------------------------------------------------------------------------------------


def test_openapi_document_is_the_one_in_the_repo_and_docs_serve_it(server: Server) -> None:
    served = server.call("GET", "/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads((REPO_ROOT / "openapi.json").read_text(encoding="utf-8"))
    docs = server.call("GET", "/docs")
    assert docs.status_code == 200
    assert "SwaggerUIBundle" in docs.text
    assert server.call("GET", "/docs/swagger-ui-bundle.min.js").status_code == 200


# ---- emails ------------------------------------------------------------------------------------------


def test_exactly_one_decision_email_per_decided_request(server: Server) -> None:
    """Every request decided so far on this server, at once or by a reviewer, got exactly one decision email
    (last in the module, so that it sees the decisions of the tests before it)."""
    assert server.submit("tom", "T-1", "TK-tom").json()["status"] == "APPROVED"
    decided = [
        item["requestId"]
        for status in ("APPROVED", "REFUSED")
        for item in server.call("GET", f"/refund-requests?status={status}", user=REVIEWER).json()["items"]
    ]
    for request_id in decided:
        server.wait_for_emails(about(request_id, DECISION_SUBJECT))
    outbox = server.outbox()
    counts = {request_id: sum(about(request_id, DECISION_SUBJECT)(email) for email in outbox) for request_id in decided}
    assert counts == dict.fromkeys(decided, 1)
    sent_at = [email["sentAt"] for email in outbox]
    assert sent_at == sorted(sent_at)
