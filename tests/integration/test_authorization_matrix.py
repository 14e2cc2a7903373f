"""API.md, "Who is calling", as one table: every route × {no token, another customer, the owner, a reviewer,
a supervisor (where the route is theirs)}
with the status it owes, run against the handlers on moto. No claims → 401; another customer's request or
order → 404, never 403; a customer on a reviewer's route → 403. Every answer a caller other than a reviewer
gets is also searched for the other customer's username, email address, order ids and request id: none may
show unless the caller named it in its own call. A refused call changes nothing in the table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from api_support import Response, call, requests_table_items, seed_order

from refund_local.events import api_event, claims_for
from refund_local.provision import api_routes, load_template
from refund_local.stack import LocalAws

SUBMIT = "POST /refund-requests"
CHECK = "GET /orders/{orderId}/assessment"
READ = "GET /refund-requests/{id}"
LIST = "GET /refund-requests"
EVALUATE = "POST /refund-requests/{id}/evaluate"
CANCEL = "POST /refund-requests/{id}/cancel"
ANSWER = "POST /refund-requests/{id}/answer"
ATTACH = "POST /refund-requests/{id}/evidence"
CHECK_FILE = "POST /refund-requests/{id}/evidence/{evidenceId}/check"
DOWNLOAD = "GET /refund-requests/{id}/evidence/{evidenceId}"
ORDERS = "GET /orders"
SLA = "GET /reports/sla"
CSV = "GET /reports/decisions.csv"
START_EXPORT = "POST /reports/decisions-exports"
EXPORTS = "GET /reports/decisions-exports"
EXPORT = "GET /reports/decisions-exports/{exportId}"
VERSIONS = "GET /policy"
AUDIT = "GET /policy/audit"
DRAFT = "PUT /policy/drafts/{version}"
SIMULATE = "POST /policy/drafts/{version}/simulate"
PUBLISH = "POST /policy/drafts/{version}/publish"
START_SIMULATION = "POST /policy/drafts/{version}/simulations"
SIMULATIONS = "GET /policy/simulations"
SIMULATION = "GET /policy/simulations/{simulationId}"
POLICY_ROUTES = (VERSIONS, AUDIT, DRAFT, SIMULATE, PUBLISH, START_SIMULATION, SIMULATIONS, SIMULATION)
PAYOUTS = "GET /payouts"
PAYOUT_ACTION = "POST /payouts/{id}"
PAYOUTS_CSV = "GET /reports/payouts.csv"
WEBHOOK = "POST /webhooks/stripe"
PERSONAL_DATA = "GET /personal-data"
QUEUE_COUNTS = "GET /queue/counts"
CANNED_REPLIES = "GET /canned-replies"
SAVE_REPLY = "PUT /canned-replies/{replyId}"
RETIRE_REPLY = "POST /canned-replies/{replyId}/retire"
POLICY_OWNER_ONLY = {
    "no token": 401,
    "stranger": 403,
    "owner": 403,
    "reviewer": 403,
    "supervisor": 403,
    "policy owner": 200,
}
FINANCE_OR_SUPERVISOR = {
    "no token": 401, "stranger": 403, "owner": 403, "reviewer": 403, "supervisor": 200, "finance": 200,
}  # fmt: skip

# The target is the owner's: their order for a submission or a check, their pending request for the other routes.
# fmt: off
MATRIX: dict[str, dict[str, int]] = {
    SUBMIT:   {"no token": 401, "stranger": 404, "owner": 201, "reviewer": 404},
    CHECK:    {"no token": 401, "stranger": 404, "owner": 200, "reviewer": 404},
    READ:     {"no token": 401, "stranger": 404, "owner": 200, "reviewer": 200},
    LIST:     {"no token": 401, "stranger": 200, "owner": 200, "reviewer": 200},
    EVALUATE: {"no token": 401, "stranger": 403, "owner": 403, "reviewer": 200},
    CANCEL:   {"no token": 401, "stranger": 404, "owner": 200, "reviewer": 404},
    # A reviewer asked the owner a question first.
    ANSWER:   {"no token": 401, "stranger": 404, "owner": 200, "reviewer": 404},
    ATTACH:   {"no token": 401, "stranger": 404, "owner": 201, "reviewer": 201},
    # The owner uploaded a file (checked already for the download).
    CHECK_FILE: {"no token": 401, "stranger": 404, "owner": 200, "reviewer": 200},
    DOWNLOAD: {"no token": 401, "stranger": 404, "owner": 200, "reviewer": 200},
    ORDERS:   {"no token": 401, "stranger": 200, "owner": 200, "reviewer": 200, "supervisor": 200},
    # Each caller's own (a stranger's holds nothing of the owner's: searched below).
    PERSONAL_DATA: {"no token": 401, "stranger": 200, "owner": 200, "reviewer": 200, "supervisor": 200},
    QUEUE_COUNTS: {"no token": 401, "stranger": 403, "owner": 403, "reviewer": 200, "supervisor": 200},
    CANNED_REPLIES: {"no token": 401, "stranger": 403, "owner": 403, "reviewer": 200, "supervisor": 200},
    SAVE_REPLY: {"no token": 401, "stranger": 403, "owner": 403, "reviewer": 403, "supervisor": 200},
    # No reply of that id: the supervisor's retire finds nothing.
    RETIRE_REPLY: {"no token": 401, "stranger": 403, "owner": 403, "reviewer": 403, "supervisor": 404},
    SLA:      {"no token": 401, "stranger": 403, "owner": 403, "reviewer": 403, "supervisor": 200},
    CSV:      {"no token": 401, "stranger": 403, "owner": 403, "reviewer": 403, "supervisor": 200},
    START_EXPORT: {"no token": 401, "stranger": 403, "owner": 403, "reviewer": 403, "supervisor": 202},
    EXPORTS:  {"no token": 401, "stranger": 403, "owner": 403, "reviewer": 403, "supervisor": 200},
    # No export of that id: the supervisor's read finds nothing.
    EXPORT:   {"no token": 401, "stranger": 403, "owner": 403, "reviewer": 403, "supervisor": 404},
    **{route: POLICY_OWNER_ONLY for route in POLICY_ROUTES},
    START_SIMULATION: POLICY_OWNER_ONLY | {"policy owner": 202},
    # No simulation of that id: the policy owner's read finds nothing.
    SIMULATION: POLICY_OWNER_ONLY | {"policy owner": 404},
    PAYOUTS:       FINANCE_OR_SUPERVISOR,
    PAYOUTS_CSV:   FINANCE_OR_SUPERVISOR,
    # Finance only; the owner's pending request has no payout yet (404 to finance, nothing said to others).
    PAYOUT_ACTION: {"no token": 401, "stranger": 403, "owner": 403, "reviewer": 403, "supervisor": 403, "finance": 404},
    # No Cognito token counts: without Stripe's signature, every caller is refused alike.
    WEBHOOK:       {"no token": 400, "owner": 400, "finance": 400},
}
# fmt: on
CASES = [(route, caller, status) for route, row in MATRIX.items() for caller, status in row.items()]


@dataclass(frozen=True)
class Customer:
    username: str
    email: str
    orders: tuple[str, ...]

    def claims(self) -> dict[str, str]:
        return claims_for(self.username, email=self.email)

    def identifiers(self, request_id: str | None) -> set[str]:
        return {self.username, self.email, *self.orders} | ({request_id} if request_id else set())


# Names that no message of the API contains by chance, and order ids free of the usernames.
OWNER = Customer("olivia7", "olivia.owner@example.com", ("ord-7001", "ord-7002"))
STRANGER = Customer("samuel9", "samuel.stranger@example.com", ("ord-9001",))
CLAIMS: dict[str, dict[str, str] | None] = {
    "no token": None,
    "stranger": STRANGER.claims(),
    "owner": OWNER.claims(),
    "reviewer": claims_for("rita", reviewer=True),
    "supervisor": claims_for("sue", supervisor=True),
    "policy owner": claims_for("olive", policy_owner=True),
    "finance": claims_for("fin", finance=True),
}
# The draft the policy routes act on (saved by the policy owner before each case).
DRAFT_NAME = "2027-01-01.1"


def draft_document() -> dict[str, Any]:
    from refund_core.policy.document import shipped_policy  # noqa: PLC0415

    return shipped_policy().model_dump(mode="json", by_alias=True) | {"version": DRAFT_NAME, "claimWindowDays": 14}


def policy_event(route: str, claims: dict[str, str] | None) -> dict[str, Any]:
    method, resource = route.split()
    simulation_id = "20260101T000000000000-0123456789ab"
    path = resource.replace("{version}", DRAFT_NAME).replace("{simulationId}", simulation_id)
    bodies = {
        DRAFT: draft_document(),
        SIMULATE: {"from": "2026-11-01", "to": "2026-11-30"},
        START_SIMULATION: {"from": "2026-11-01", "to": "2026-11-30"},
        PUBLISH: {"effectiveFrom": "2030-01-01T00:00:00Z"},
    }
    parameters = {"version": DRAFT_NAME} if "{version}" in resource else None
    if "{simulationId}" in resource:
        parameters = {"simulationId": simulation_id}
    return api_event(method, resource, path, path_parameters=parameters, body=bodies.get(route), claims=claims)


def policy_table_items() -> list[dict[str, Any]]:
    import boto3  # noqa: PLC0415

    from refund_core.settings import settings  # noqa: PLC0415

    return boto3.client("dynamodb").scan(TableName=settings().policy_table_name)["Items"]


def submission(order_id: str) -> dict[str, str]:
    return {"orderId": order_id, "reason": "It keeps disconnecting.", "supportTicketId": f"T-{order_id}"}


def file_request(customer: Customer, order_id: str) -> str:
    body = submission(order_id)
    created = call(api_event("POST", "/refund-requests", "/refund-requests", body=body, claims=customer.claims()))
    assert created.status == 201, created.json
    request_id: str = created.json["requestId"]
    return request_id


def route_event(
    route: str, claims: dict[str, str] | None, request_id: str, evidence_id: str | None = None
) -> dict[str, Any]:
    """The route's call aimed at the owner's order (submit) or pending request (the others)."""
    if route == SUBMIT:
        body = submission(OWNER.orders[1])
        return api_event("POST", "/refund-requests", "/refund-requests", body=body, claims=claims)
    if route == CHECK:
        order_id = OWNER.orders[1]
        return api_event(
            "GET", "/orders/{orderId}/assessment", f"/orders/{order_id}/assessment",
            path_parameters={"orderId": order_id}, query={"supportTicketId": f"T-{order_id}"}, claims=claims,
        )  # fmt: skip
    if route in POLICY_ROUTES:
        return policy_event(route, claims)
    if route in (LIST, ORDERS, SLA, CSV, EXPORTS, PAYOUTS, PAYOUTS_CSV, PERSONAL_DATA, QUEUE_COUNTS, CANNED_REPLIES):
        path = route.split()[1]
        return api_event("GET", path, path, claims=claims)
    if route == START_EXPORT:
        path, body = route.split()[1], {"from": "2026-01-01", "to": "2026-01-31"}
        return api_event("POST", path, path, body=body, claims=claims)
    if route == EXPORT:
        export_id = "20260101T000000000000-0123456789ab"
        path = EXPORT.split()[1].replace("{exportId}", export_id)
        return api_event("GET", EXPORT.split()[1], path, path_parameters={"exportId": export_id}, claims=claims)
    if route in (SAVE_REPLY, RETIRE_REPLY):
        method, resource = route.split()
        body = (
            {"version": 1} if route == RETIRE_REPLY else {"title": "Outage", "english": "Sorry.", "chinese": "抱歉。"}
        )
        path = resource.replace("{replyId}", "outage")
        return api_event(method, resource, path, path_parameters={"replyId": "outage"}, body=body, claims=claims)
    if route == WEBHOOK:
        return api_event("POST", "/webhooks/stripe", "/webhooks/stripe", body={"type": "refund.updated"}, claims=claims)
    if route == PAYOUT_ACTION:
        return api_event(
            "POST", "/payouts/{requestId}", f"/payouts/{request_id}", path_parameters={"requestId": request_id},
            body={"action": "toFinance", "note": "paid by hand"}, claims=claims,
        )  # fmt: skip
    method, path = route.split()
    suffix = path.removeprefix("/refund-requests/{id}")
    parameters = {"requestId": request_id, **({"evidenceId": evidence_id} if evidence_id else {})}
    return api_event(
        method,
        "/refund-requests/{requestId}" + suffix,
        f"/refund-requests/{request_id}{suffix.replace('{evidenceId}', evidence_id or '')}",
        path_parameters=parameters,
        body={
            EVALUATE: {"action": "approve"},
            ANSWER: {"answer": "From Kowloon."},
            ATTACH: {"fileName": "bill.pdf", "contentType": "application/pdf", "size": 100},
        }.get(route),
        claims=claims,
    )


def case_id(case: tuple[str, str, int]) -> str:
    route, caller, status = case
    return f"{route} x {caller} -> {status}"


def test_the_matrix_covers_every_route_of_the_template() -> None:
    served = {f"{route.method} {route.path.replace('{requestId}', '{id}')}" for route in api_routes(load_template())}
    assert served == set(MATRIX)


@pytest.mark.parametrize(("route", "caller", "status"), CASES, ids=[case_id(case) for case in CASES])
def test_who_gets_what(stack: LocalAws, route: str, caller: str, status: int) -> None:
    for order_id in OWNER.orders:
        seed_order(order_id, username=OWNER.username, days_ago=40)
    seed_order(STRANGER.orders[0], username=STRANGER.username, days_ago=40)
    # Both customers hold a pending request, except that the owner submitting must not already have one.
    stranger_request = file_request(STRANGER, STRANGER.orders[0])
    owner_request = file_request(OWNER, OWNER.orders[0]) if route not in (SUBMIT, CHECK) else None
    evidence_id = None
    if route in (CHECK_FILE, DOWNLOAD):
        from test_evidence import PDF, attach, check  # noqa: PLC0415

        slot = attach(owner_request or "", OWNER.claims(), {"fileName": "bill.pdf", "contentType": "application/pdf",
                                                             "size": len(PDF)})  # fmt: skip
        evidence_id = slot.json["evidenceId"]
        posted = requests.post(slot.json["url"], data=slot.json["fields"], files={"file": PDF}, timeout=30)
        assert posted.status_code == 204
        if route == DOWNLOAD:
            assert check(owner_request or "", evidence_id, OWNER.claims()).status == 200
    if route == ANSWER:
        asked = call(
            route_event(EVALUATE, CLAIMS["reviewer"], owner_request or "")
            | {"body": json.dumps({"action": "askCustomer", "question": "Where do you connect from?"})}
        )
        assert asked.status == 200, asked.json
    if route in POLICY_ROUTES:
        saved = call(policy_event(DRAFT, CLAIMS["policy owner"]))
        assert saved.status == 200, saved.json
    before = requests_table_items()
    policy_before = policy_table_items()

    event = route_event(route, CLAIMS[caller], owner_request or "", evidence_id)
    response = call(event)

    assert response.status == status, response.json
    if status >= 400 or route == CHECK:  # a check records nothing either
        assert requests_table_items() == before
        assert policy_table_items() == policy_before
    if status >= 400:
        assert isinstance(response.json["message"], str)
    if caller not in ("reviewer", "supervisor", "policy owner", "finance"):
        others = {
            "no token": OWNER.identifiers(owner_request) | STRANGER.identifiers(stranger_request),
            "stranger": OWNER.identifiers(owner_request),
            "owner": STRANGER.identifiers(stranger_request),
        }[caller]
        assert_shows_none_of(others, response, sent=f"{event['path']} {event['body'] or ''}")
    if route == LIST and status == 200:
        own = {"stranger": {stranger_request}, "owner": {owner_request}}
        listed = {item["requestId"] for item in response.json["items"]}
        assert listed == own.get(caller, {stranger_request, owner_request})
    if route == ORDERS and status == 200:
        mine = {"stranger": set(STRANGER.orders), "owner": set(OWNER.orders)}.get(caller, set())
        assert {item["orderId"] for item in response.json["items"]} == mine


def assert_shows_none_of(secrets: set[str], response: Response, sent: str) -> None:
    """None of `secrets` in the answer's body or headers, except what the caller sent itself."""
    shown = json.dumps(response.raw.get("body")) + json.dumps(response.raw.get("headers"))
    leaked = {secret for secret in secrets if secret in shown and secret not in sent}
    assert leaked == set()
