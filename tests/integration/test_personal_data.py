"""GET /personal-data (the Personal Data (Privacy) Ordinance's data access request): a customer downloads all the
service keeps about them, as they see it; a supervisor downloads a named customer's to answer a written request,
and gets the same; nobody else gets another's."""

from __future__ import annotations

from typing import Any

from api_support import Response, call, customer_upserted, file_request, seed_order

from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

PATH = "/personal-data"
HANA = claims_for("hana")


def download(claims: dict[str, str], username: str | None = None) -> Response:
    query = {"username": username} if username is not None else None
    return call(api_event("GET", PATH, PATH, query=query, claims=claims))


def hana_with_a_request_under_review() -> str:
    seed_order("ord-h1", "hana", days_ago=3)
    seed_order("ord-h2", "hana", days_ago=40)  # a partial refund: waits for a reviewer
    seed_order("ord-h3", "hana", days_ago=400)
    customer_upserted("hana", "hana.lee@example.com", name="Hana Lee", language="zh-HK")
    pending = str(file_request("hana", "ord-h2", "It drops every evening.")["requestId"])
    evaluate = f"/refund-requests/{pending}/evaluate"
    taken = call(api_event("POST", "/refund-requests/{requestId}/evaluate", evaluate,
                           path_parameters={"requestId": pending}, body={"action": "take"},
                           claims=claims_for("rita", reviewer=True)))  # fmt: skip
    assert taken.status == 200, taken.json
    return pending


def without_the_moment(data: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in data.items() if name != "generatedAt"}


def test_a_customer_downloads_their_account_orders_and_requests_as_they_see_them(stack: LocalAws) -> None:
    pending = hana_with_a_request_under_review()
    answer = download(HANA)
    assert answer.status == 200, answer.json
    assert answer.header("Content-Disposition") == 'attachment; filename="personal-data-hana.json"'
    data = answer.json
    assert data["username"] == "hana"
    assert (data["profile"]["name"], data["profile"]["email"], data["profile"]["language"]) == (
        "Hana Lee", "hana.lee@example.com", "zh-HK",
    )  # fmt: skip
    assert sorted(order["orderId"] for order in data["orders"]) == ["ord-h1", "ord-h2", "ord-h3"]
    (request,) = data["refundRequests"]
    assert (request["requestId"], request["status"]) == (pending, "PENDING")
    assert request["reason"] == "It drops every evening."
    assert request["history"][0]["event"] == "received"
    # What staff alone see stays with staff: who holds the request, the facts weighed, the holding history.
    assert "heldBy" not in request and "facts" not in request
    assert "taken" not in {entry["event"] for entry in request["history"]}
    assert "rita" not in str(data)


def test_a_supervisor_answering_a_written_request_gets_what_the_customer_would(stack: LocalAws) -> None:
    hana_with_a_request_under_review()
    own = download(HANA).json
    answered = download(claims_for("sue", supervisor=True), "hana")
    assert answered.status == 200, answered.json
    assert without_the_moment(answered.json) == without_the_moment(own)


def test_nobody_else_gets_another_customers_data(stack: LocalAws) -> None:
    hana_with_a_request_under_review()
    for claims in (claims_for("rita", reviewer=True), claims_for("ivan"), claims_for("fin", finance=True)):
        refused = download(claims, "hana")
        assert refused.status == 403, refused.json
        assert [error["field"] for error in refused.json["errors"]] == ["username"]
        assert "hana" not in str(refused.json["message"])
    assert download(HANA, "hana").status == 200  # naming oneself is asking for one's own


def test_a_customer_the_service_knows_nothing_of_gets_empty_lists(stack: LocalAws) -> None:
    answer = download(claims_for("sue", supervisor=True), "nobody-here")
    assert answer.status == 200
    assert without_the_moment(answer.json) == {
        "username": "nobody-here", "profile": None, "orders": [], "refundRequests": [],
    }  # fmt: skip
    assert download(HANA, "").status == 400  # an empty name is no name
