"""What fuzzing the served API (scripts/fuzz.py) and probing its input found, each pinned at the handlers: the
call, what it used to get (in the comment), and what it gets now: a clear 4xx with nothing stored or, for an
answer of ours that breaks its own model, a 500 that the fuzzer sees."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from api_support import call, seed_order, stored

from refund_local.events import api_event, claims_for
from refund_local.handlers import load_module
from refund_local.stack import LocalAws

ALICE = claims_for("alice")
RITA = claims_for("rita", reviewer=True)
SUBMIT = "/refund-requests"
BODY = {"orderId": "ord-1", "reason": "It keeps disconnecting.", "supportTicketId": "T-ord-1"}


def on_request(method: str, request_id: str, suffix: str = "", **kwargs: Any) -> Any:
    """A call to /refund-requests/{requestId}[suffix], its path as API Gateway hands it over (decoded)."""
    resource = "/refund-requests/{requestId}" + suffix
    path = f"/refund-requests/{request_id}{suffix}"
    return call(api_event(method, resource, path, path_parameters={"requestId": request_id}, **kwargs))


def pending_request(stack: LocalAws) -> str:
    seed_order("ord-1", days_ago=40)
    response = call(api_event("POST", SUBMIT, SUBMIT, body=BODY, claims=ALICE))
    assert response.json["status"] == "PENDING"
    request_id: str = response.json["requestId"]
    return request_id


# Found by the fuzzer: Powertools matched a path parameter against URI characters only, so the decoded path of
# a request id with `"`, `¢` or a control character matched no route, and the catch-all answered 500. Now the
# route's own validation answers: printable ASCII can be a request id (404: there is none), the rest cannot.
@pytest.mark.parametrize(
    ("request_id", "status"),
    [('O9z;"TBCVY', 404), ('Y_)<rK;"wl0aO?', 404), ("¢\x83Ç ù", 400), ("-¥~\x16", 400)],
    ids=["quote", "quote-question-mark", "latin-1", "control"],
)
def test_a_request_id_outside_uri_characters_is_a_4xx_naming_it(stack: LocalAws, request_id: str, status: int) -> None:
    pending_request(stack)
    before = stored(stack)
    for method, suffix, claims, body in [
        ("GET", "", ALICE, None),
        ("POST", "/cancel", ALICE, None),
        ("POST", "/evaluate", RITA, {"action": "assess"}),
    ]:
        response = on_request(method, request_id, suffix, claims=claims, body=body)
        assert response.status == status, (suffix, response.json)
        if status == 400:
            assert [error["field"] for error in response.json["errors"]] == ["requestId"]
        else:
            assert request_id in response.json["message"]
    assert stored(stack) == before


def test_a_path_that_matches_no_route_is_404_not_500(stack: LocalAws) -> None:
    # A request id holding an encoded `/` arrives decoded: one segment too many for any route.
    response = on_request("GET", "rr_a/b", claims=ALICE)
    assert response.status == 404
    assert response.json["message"]


def test_a_path_that_matches_no_route_is_still_401_without_a_token(stack: LocalAws) -> None:
    assert on_request("GET", "rr_a/b").status == 401


# Found by the fuzzer: Powertools raised ValueError (500) on a multipart body without a boundary; it read a form
# body as if it were JSON fields. The API takes JSON only.
@pytest.mark.parametrize(
    ("content_type", "body"),
    [("multipart/form-data", "--x\r\n"), ("application/x-www-form-urlencoded", "orderId=ord-1&reason=x")],
    ids=["multipart-without-boundary", "form"],
)
def test_a_multipart_or_form_body_is_415(stack: LocalAws, content_type: str, body: str) -> None:
    seed_order("ord-1")
    event = api_event("POST", SUBMIT, SUBMIT, body=body, claims=ALICE, headers={"Content-Type": content_type})
    response = call(event)
    assert response.status == 415
    assert response.json["errors"][0]["field"] == "Content-Type"
    assert stored(stack) == {"RequestsTable": [], "IdempotencyTable": []}


# Found probing what the fuzzer's JSON never holds: nesting past Python's recursion limit (RecursionError) and an
# integer of more than 4,300 digits (ValueError) crashed the JSON parser: 500.
@pytest.mark.parametrize(
    "text",
    ["[" * 5000 + "]" * 5000, '{"orderId": ' + "9" * 5000 + "}"],
    ids=["5000-deep-array", "5000-digit-integer"],
)
def test_json_the_parser_cannot_take_is_400_naming_the_body(stack: LocalAws, text: str) -> None:
    response = call(api_event("POST", SUBMIT, SUBMIT, body=text, claims=ALICE))
    assert response.status == 400
    assert [error["field"] for error in response.json["errors"]] == ["body"]
    assert stored(stack) == {"RequestsTable": [], "IdempotencyTable": []}


# Found writing test_input_limits.py: Powertools takes the first item of an array where it expects one value,
# so that an array holding a command ran it.
def test_a_command_wrapped_in_an_array_is_400_and_decides_nothing(stack: LocalAws) -> None:
    request_id = pending_request(stack)
    before = stored(stack)
    response = on_request("POST", request_id, "/evaluate", claims=RITA, body='[{"action": "approve"}, "x"]')
    assert response.status == 400
    assert response.json["errors"] == [
        {"field": "body", "message": "the body must be a JSON object", "code": "not_an_object", "params": {}}
    ]
    assert stored(stack) == before


# Found probing: of two equal keys the last silently won, so a body could say two things about one field.
def test_a_key_given_twice_is_400_naming_it(stack: LocalAws) -> None:
    seed_order("ord-1")
    seed_order("ord-2")
    text = '{"orderId": "ord-2", "orderId": "ord-1", "reason": "x", "supportTicketId": "T-ord-1"}'
    response = call(api_event("POST", SUBMIT, SUBMIT, body=text, claims=ALICE))
    assert response.status == 400
    assert response.json["errors"] == [
        {
            "field": "orderId",
            "message": "orderId appears more than once in the body",
            "code": "duplicate_key",
            "params": {},
        }
    ]
    assert stored(stack) == {"RequestsTable": [], "IdempotencyTable": []}


# Found probing: the amount's pattern `\d` also matched other scripts' digits, which Decimal reads: "١٢" was
# recorded as an approval of 12.00, while the OpenAPI document (ECMA `\d`: ASCII) said it was invalid.
@pytest.mark.parametrize("amount", ["١٢", "１２", "12.٥"], ids=["arabic-indic", "fullwidth", "arabic-decimals"])
def test_an_amount_in_other_digits_is_400_and_decides_nothing(stack: LocalAws, amount: str) -> None:
    request_id = pending_request(stack)
    before = stored(stack)
    response = on_request("POST", request_id, "/evaluate", claims=RITA, body={"action": "approve", "amount": amount})
    assert response.status == 400
    assert [error["field"] for error in response.json["errors"]] == ["amount"]
    assert stored(stack) == before


def _token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


PENDING_QUEUE_KEY = {"gsi1pk": {"S": "STATUS#PENDING"}, "gsi1sk": {"S": "x"}, "pk": {"S": "x"}, "sk": {"S": "x"}}


# Found probing: a forged nextToken of the right shape reached DynamoDB. A value that is not a string made
# botocore's parameter validation fail (500 here too); an empty one, one over DynamoDB's key size, or one
# outside the query's partition is a ValidationException in AWS (500), which moto does not raise.
@pytest.mark.parametrize(
    "key",
    [
        PENDING_QUEUE_KEY | {"pk": {"S": 5}},
        PENDING_QUEUE_KEY | {"sk": {"S": ""}},
        PENDING_QUEUE_KEY | {"gsi1sk": {"S": "x" * 1025}},
        PENDING_QUEUE_KEY | {"gsi1pk": {"S": "STATUS#APPROVED"}},
    ],
    ids=["number", "empty", "over-key-size", "other-partition"],
)
def test_a_forged_next_token_is_400(stack: LocalAws, key: dict[str, Any]) -> None:
    response = call(api_event("GET", SUBMIT, SUBMIT, query={"nextToken": _token(key)}, claims=RITA))
    assert response.status == 400
    assert [error["field"] for error in response.json["errors"]] == ["nextToken"]


def test_a_token_of_the_queue_still_pages_it(stack: LocalAws) -> None:
    assert (
        call(api_event("GET", SUBMIT, SUBMIT, query={"nextToken": _token(PENDING_QUEUE_KEY)}, claims=RITA)).status
        == 200
    )


# Found reviewing the error mapping: Powertools reports an answer that breaks the route's declared model as a
# RequestValidationError, which was answered 400 "invalid request: response...": the fuzzer's server-error
# check could not see a broken answer. It is ours, so it is a 500.
def test_an_answer_that_breaks_its_model_is_a_500(stack: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    read = load_module("functions/read/")
    monkeypatch.setattr(read, "resource", lambda request: read.json_response({"requestId": request.request_id}))
    request_id = pending_request(stack)
    assert on_request("GET", request_id, claims=ALICE).status == 500
