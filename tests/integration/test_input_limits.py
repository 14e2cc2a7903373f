"""The limits of what the handlers take, at the limit and one past it: the body's size, every field's length,
control characters and Unicode in every text field, numbers and strings swapped, huge integers, deep nesting,
duplicate keys, bodies that are no object. Every refusal is a 4xx naming the field, and stores nothing.

Each test sends a table of calls to one emulated AWS (starting one costs more than a hundred refused calls) and
reports every call that is not refused as it should be."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from api_support import Response, call, seed_order, stored

from refund_core.http.body import MAX_BODY_BYTES
from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

SUBMIT = "/refund-requests"
RITA = claims_for("rita", reviewer=True)
ALICE = claims_for("alice")
VALID = {"orderId": "ord-alice", "reason": "It keeps disconnecting.", "supportTicketId": "T-ord-alice"}
# Text a person may write: combining marks, right-to-left script with its mark, emoji, the astral plane, a tab
# and a line feed.
UNICODE = "Re\u0301fund 😀 طلب استرداد\u200f 𝔘𝔫𝔦𝔠𝔬𝔡𝔢\tline\nend"
ASTRAL = "😀"
CONTROLS = {"nul": "\x00", "escape": "\x1b", "delete": "\x7f", "c1 next line": "\x85"}
NON_ASCII = {"accent": "é", "emoji": ASTRAL, "arabic": "ع"}
TEXT_FIELDS = ["orderId", "supportTicketId", "reason", "note", "amount", "requestId", "nextToken", "status"]
TEXT_FIELDS += ["Idempotency-Key"]
# Request ids, amounts, page tokens, statuses and idempotency keys are ASCII tokens; the other fields are text.
ASCII_FIELDS = ["amount", "requestId", "nextToken", "status", "Idempotency-Key"]


def submit(body: dict[str, Any] | str, claims: dict[str, str] | None = ALICE, **kwargs: Any) -> Response:
    return call(api_event("POST", SUBMIT, SUBMIT, body=body, claims=claims, **kwargs))


def on_request(method: str, request_id: str, suffix: str = "", **kwargs: Any) -> Response:
    resource = "/refund-requests/{requestId}" + suffix
    path = f"/refund-requests/{request_id}{suffix}"
    return call(api_event(method, resource, path, path_parameters={"requestId": request_id}, **kwargs))


def evaluate(request_id: str, body: dict[str, Any] | str) -> Response:
    return on_request("POST", request_id, "/evaluate", body=body, claims=RITA)


def listing(**query: str) -> Response:
    return call(api_event("GET", SUBMIT, SUBMIT, query=query, claims=RITA))


def new_customer(
    name: str, order_id: str | None = None, ticket_id: str | None = None
) -> tuple[dict[str, str], str, str]:
    """A customer with one order (40 days old: a partial refund, left pending) and its ticket."""
    order_id = order_id or f"ord-{name}"
    ticket_id = ticket_id or f"T-{name}"
    seed_order(order_id, name, ticket_id=ticket_id)
    return claims_for(name), order_id, ticket_id


def pending_request(name: str) -> str:
    claims, order_id, ticket_id = new_customer(name)
    response = submit({"orderId": order_id, "reason": "It keeps disconnecting.", "supportTicketId": ticket_id}, claims)
    assert response.json["status"] == "PENDING"
    request_id: str = response.json["requestId"]
    return request_id


@pytest.fixture
def pending(stack: LocalAws) -> str:
    """Alice's order, and a pending request of another customer for the reviewer's calls."""
    seed_order("ord-alice", "alice")
    return pending_request("paula")


def send(field: str, value: Any, pending: str) -> Response:
    """A call that is valid but for `field`, which is `value`."""
    match field:
        case "orderId" | "reason" | "supportTicketId":
            return submit(VALID | {field: value})
        case "note":
            return evaluate(pending, {"action": "refuse", "note": value})
        case "approval note":
            return evaluate(pending, {"action": "approve", "note": value})
        case "amount":
            return evaluate(pending, {"action": "approve", "amount": value})
        case "action":
            return evaluate(pending, {"action": value})
        case "requestId":
            return on_request("GET", value, claims=RITA)
        case "nextToken" | "status" | "limit":
            return listing(**{field: value})
        case "Idempotency-Key":
            return submit(VALID, headers={"Idempotency-Key": value})
    raise AssertionError(field)


def refusals(stack: LocalAws, calls: dict[str, tuple[Callable[[], Response], int, str]]) -> dict[str, str]:
    """Each call (label → the call, its status, the field it must name) that is not refused so, or that stored
    something, with what it got."""
    problems = {}
    for label, (make_call, status, field) in calls.items():
        before = stored(stack)
        response = make_call()
        fields = [error["field"] for error in (response.json or {}).get("errors", [])]
        if (
            response.status != status
            or field not in fields
            or (status == 400 and field not in response.json["message"])
        ):
            problems[label] = f"{response.status} {response.json}"
        elif stored(stack) != before:
            problems[label] = f"{response.status}, and it stored something"
    return problems


def padded(body: dict[str, Any], size: int) -> str:
    """`body` as JSON of exactly `size` bytes, an unknown field (ignored by the handlers) making up the rest."""
    text = json.dumps(body | {"padding": ""})
    return text.replace('"padding": ""', '"padding": "' + "x" * (size - len(text.encode())) + '"')


def nested(depth: int) -> Any:
    """`depth` arrays, one in the other."""
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


# ---- the body's size ---------------------------------------------------------------------------------


def test_a_body_over_the_cap_is_413_and_stores_nothing(stack: LocalAws, pending: str) -> None:
    over = MAX_BODY_BYTES + 1
    calls = {
        "submit": (lambda: submit(padded(VALID, over)), 413, "body"),
        "evaluate": (lambda: evaluate(pending, padded({"action": "approve"}, over)), 413, "body"),
    }
    assert refusals(stack, calls) == {}
    assert str(MAX_BODY_BYTES) in submit(padded(VALID, over)).json["message"]
    # An anonymous caller learns only that it needs a token.
    assert submit(padded(VALID, over), claims=None).status == 401
    # A route that takes no body ignores one.
    assert on_request("GET", pending, claims=RITA, body=padded({}, over)).status == 200


def test_bodies_up_to_the_cap_are_read(stack: LocalAws) -> None:
    claims, order_id, ticket_id = new_customer("carl")
    assert (
        submit(
            padded({"orderId": order_id, "reason": "x", "supportTicketId": ticket_id}, MAX_BODY_BYTES), claims
        ).status
        == 201
    )
    # The largest valid body: 2,000 astral characters and two ids of 128, each sent as an escaped surrogate
    # pair (12 bytes).
    claims, order_id, ticket_id = new_customer("astrid", ASTRAL * 128, "𝔘" * 128)
    text = json.dumps({"orderId": order_id, "reason": ASTRAL * 2000, "supportTicketId": ticket_id})
    assert len(text.encode()) > 27_000
    response = submit(text, claims)
    assert response.status == 201, response.json
    assert (response.json["orderId"], response.json["reason"]) == (order_id, ASTRAL * 2000)


# ---- lengths -----------------------------------------------------------------------------------------


def test_ids_of_128_and_texts_of_2000_characters_are_accepted(stack: LocalAws) -> None:
    claims, order_id, ticket_id = new_customer("lena", "o" * 128, "t" * 128)
    created = submit({"orderId": order_id, "reason": "r" * 2000, "supportTicketId": ticket_id}, claims)
    assert created.status == 201, created.json
    refused = evaluate(created.json["requestId"], {"action": "refuse", "note": ASTRAL * 2000})
    assert refused.status == 200, refused.json
    assert refused.json["decision"]["note"] == ASTRAL * 2000
    approved = evaluate(pending_request("luke"), {"action": "approve", "note": "n" * 2000})
    assert approved.status == 200, approved.json


def test_one_character_past_each_limit_is_400(stack: LocalAws, pending: str) -> None:
    too_long = {
        "orderId": "o" * 129,
        "supportTicketId": "t" * 129,
        "reason": ASTRAL * 2001,
        "note": ASTRAL * 2001,
        "approval note": "n" * 2001,
        "amount": "1" * 41,
        "requestId": "r" * 129,
        "nextToken": "n" * 2049,
        "Idempotency-Key": "k" * 129,
    }
    calls = {
        field: (lambda field=field, value=value: send(field, value, pending), 400, field.removeprefix("approval "))
        for field, value in too_long.items()
    }
    assert refusals(stack, calls) == {}


# ---- control characters and Unicode ------------------------------------------------------------------


def test_unicode_text_is_accepted_and_kept_as_sent(stack: LocalAws) -> None:
    order_id = "ord-" + UNICODE.replace("\t", " ").replace("\n", " ")
    claims, order_id, ticket_id = new_customer("uma", order_id, "T-𝔘😀ع")
    created = submit({"orderId": order_id, "reason": UNICODE, "supportTicketId": ticket_id}, claims)
    assert created.status == 201, created.json
    read = on_request("GET", created.json["requestId"], claims=claims).json
    assert (read["orderId"], read["reason"], read["supportTicketId"]) == (order_id, UNICODE, ticket_id)
    refused = evaluate(created.json["requestId"], {"action": "refuse", "note": UNICODE})
    assert refused.status == 200, refused.json
    assert refused.json["decision"]["note"] == UNICODE


def test_a_control_character_in_any_text_field_is_400(stack: LocalAws, pending: str) -> None:
    calls = {}
    for field in TEXT_FIELDS:
        valid = {"amount": "1", "status": "PENDING"}.get(field, "ab")
        for name, control in CONTROLS.items():
            calls[f"{field} {name}"] = (
                lambda field=field, value=valid + control: send(field, value, pending),
                400,
                field,
            )
    assert refusals(stack, calls) == {}


def test_a_lone_surrogate_in_a_text_field_is_400(stack: LocalAws, pending: str) -> None:
    """JSON can escape half a surrogate pair (`\\ud800`): no character, and nothing DynamoDB could store."""

    def with_surrogate(body: dict[str, Any], field: str) -> str:
        return json.dumps(body | {field: "SURROGATE"}).replace("SURROGATE", "a\\ud800b")

    calls = {
        field: (lambda field=field: submit(with_surrogate(VALID, field)), 400, field)
        for field in ("orderId", "supportTicketId", "reason")
    }
    calls["note"] = (lambda: evaluate(pending, with_surrogate({"action": "refuse"}, "note")), 400, "note")
    assert refusals(stack, calls) == {}


def test_non_ascii_in_a_token_field_is_400(stack: LocalAws, pending: str) -> None:
    calls = {
        f"{field} {name}": (lambda field=field, value="1" + character: send(field, value, pending), 400, field)
        for field in ASCII_FIELDS
        for name, character in NON_ASCII.items()
    }
    assert refusals(stack, calls) == {}


# ---- types -------------------------------------------------------------------------------------------


def test_a_number_or_other_json_where_a_string_belongs_is_400(stack: LocalAws, pending: str) -> None:
    wrong = [
        ("orderId", 1001),
        ("supportTicketId", 77),
        ("reason", 5),
        ("reason", True),
        ("reason", None),
        ("reason", ["x"]),
        ("reason", {"text": "x"}),
        ("note", 5),
        ("amount", 10),
        ("amount", 10.5),
        ("action", 1),
    ]
    calls = {
        f"{field} {json.dumps(value)}": (lambda field=field, value=value: send(field, value, pending), 400, field)
        for field, value in wrong
    }
    assert refusals(stack, calls) == {}


def test_the_same_values_as_strings_pass_validation(stack: LocalAws) -> None:
    seed_order("ord-alice", "alice")
    assert submit(VALID | {"orderId": "1001"}).status == 404  # read, and not found
    approved = evaluate(pending_request("amy"), {"action": "approve", "amount": "10"})
    assert approved.status == 200, approved.json
    assert approved.json["decision"]["amount"] == {"amount": "10.00", "currency": "USD"}  # its minor units
    assert listing(limit="100").status == 200


def test_a_limit_that_is_no_integer_from_1_to_100_is_400(stack: LocalAws) -> None:
    values = ["99999999999999999999", "9" * 5000, "1.5", "1e2", "-1", "0", "101", "ten", ""]
    calls = {value[:24]: (lambda value=value: listing(limit=value), 400, "limit") for value in values}
    assert refusals(stack, calls) == {}


# ---- the JSON itself ---------------------------------------------------------------------------------


def test_json_nested_deeper_than_the_parser_reads_is_400_and_less_is_read(stack: LocalAws) -> None:
    seed_order("ord-alice", "alice")
    # 10,000 levels fit in the body's cap, and are far past Python's recursion limit.
    text = json.dumps(VALID | {"extra": "DEEP"}).replace('"DEEP"', "[" * 10_000 + "]" * 10_000)
    too_deep = {"too deep": (lambda: submit(text), 400, "body")}
    assert refusals(stack, too_deep) == {}
    # Brackets in a string, after an escaped quote, are text.
    reason = 'He wrote "[[[' + "[" * 100 + '" \\'
    created = submit(VALID | {"reason": reason, "extra": nested(100)})
    assert created.status == 201, created.json
    assert created.json["reason"] == reason


def test_a_key_given_twice_is_400_naming_it(stack: LocalAws, pending: str) -> None:
    texts = {
        "reason": '{"orderId": "a", "reason": "x", "reason": "y", "supportTicketId": "T"}',
        "k": '{"orderId": "a", "reason": "x", "supportTicketId": "T", "extra": {"k": 1, "k": 2}}',
    }
    calls = {f"submit {field}": (lambda text=text: submit(text), 400, field) for field, text in texts.items()}
    calls["evaluate note"] = (lambda: evaluate(pending, '{"action": "refuse", "note": "a", "note": "b"}'), 400, "note")
    calls["evaluate action"] = (
        lambda: evaluate(pending, '{"action": "approve", "action": "refuse", "note": "n"}'),
        400,
        "action",
    )
    assert refusals(stack, calls) == {}


def test_a_body_that_is_no_json_object_is_400_naming_the_body(stack: LocalAws, pending: str) -> None:
    texts = ["[]", '[{"action": "assess"}]', "null", "42", '"assess"', "true", " "]
    calls = {f"submit {text}": (lambda text=text: submit(text), 400, "body") for text in texts}
    calls |= {f"evaluate {text}": (lambda text=text: evaluate(pending, text), 400, "body") for text in texts}
    assert refusals(stack, calls) == {}


# ---- text that shows nothing, amounts as typed, media types -----------------------------------------

INVISIBLE = {
    "zero-width space": "\u200b",
    "byte-order mark": "\ufeff",
    "no-break space": "\u00a0",
    "word joiner and spaces": "\u2060 \u3000",
    "line separator": "\u2028",
}


def test_a_reason_or_note_of_only_invisible_characters_is_400(stack: LocalAws, pending: str) -> None:
    calls = {
        f"{field} {name}": (lambda field=field, value=text: send(field, value, pending), 400, field)
        for field in ("reason", "note")
        for name, text in INVISIBLE.items()
    }
    assert refusals(stack, calls) == {}


def test_text_with_an_invisible_character_among_visible_ones_is_kept(stack: LocalAws) -> None:
    claims, order_id, ticket_id = new_customer("vera")
    reason = "\ufeffNo\u200bthing connects"
    created = submit({"orderId": order_id, "reason": reason, "supportTicketId": ticket_id}, claims)
    assert created.status == 201, created.json
    assert created.json["reason"] == reason


@pytest.mark.parametrize(
    ("typed", "currency", "stored_as"),
    [("1", "USD", "1.00"), ("12.5", "USD", "12.50"), ("500.0", "JPY", "500"), ("500", "JPY", "500")],
)
def test_an_approved_amount_is_kept_and_shown_in_the_currencys_minor_units(
    stack: LocalAws, typed: str, currency: str, stored_as: str
) -> None:
    seed_order("ord-wes", "wes", days_ago=40, currency=currency, amount="1000")
    created = submit({"orderId": "ord-wes", "reason": "It drops.", "supportTicketId": "T-ord-wes"}, claims_for("wes"))
    assert created.json["status"] == "PENDING", created.json
    approved = evaluate(created.json["requestId"], {"action": "approve", "amount": typed, "note": "Partial, agreed."})
    assert approved.status == 200, approved.json
    assert approved.json["decision"]["amount"] == {"amount": stored_as, "currency": currency}
    assert on_request("GET", created.json["requestId"], claims=RITA).json["decision"]["amount"]["amount"] == stored_as


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8"])
def test_the_json_media_type_in_any_case_is_json(stack: LocalAws, content_type: str) -> None:
    claims, order_id, ticket_id = new_customer("xena")
    body = {"orderId": order_id, "reason": "It drops.", "supportTicketId": ticket_id}
    assert submit(body, claims, headers={"Content-Type": content_type}).status == 201


@pytest.mark.parametrize("content_type", ["application/jsonp", "application/json-patch+json", "text/json"])
def test_a_media_type_that_only_begins_like_json_is_415(stack: LocalAws, content_type: str) -> None:
    claims, order_id, ticket_id = new_customer("yuri")
    body = {"orderId": order_id, "reason": "It drops.", "supportTicketId": ticket_id}
    calls = {content_type: (lambda: submit(body, claims, headers={"Content-Type": content_type}), 415, "Content-Type")}
    assert refusals(stack, calls) == {}
