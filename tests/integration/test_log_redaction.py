"""What the handlers write to their logs (Powertools' JSON lines on stdout, captured from the service logger's
own handler): never a full email address, never a request body, on the happy paths and on an error path."""

from __future__ import annotations

import ast
import io
import json
import logging
import re
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import aws_error, call, deliver_all, on_call, seed_order

from refund_core.adapters import clients
from refund_core.observability import FunctionFailed, logger
from refund_local.events import api_event, claims_for
from refund_local.handlers import LambdaContext, load_handler
from refund_local.paths import REPO_ROOT
from refund_local.provision import load_template
from refund_local.stack import LocalAws

ALICE = claims_for("alice", email="alice.liddell@example.com")
BOB = claims_for("bob", email="bob.builder@example.com")
RITA = claims_for("rita", reviewer=True, email="rita.reviewer@example.com")
# What the customers and the reviewer typed: none of it may reach a log.
ALICE_REASON = "Zanzibar tunnel collapses whenever I open the banking app"
BOB_REASON = "Quokka relay never answers from my hotel"
RITA_NOTE = "Wombat logs confirm the outage"
BODY_TEXTS = (ALICE_REASON, BOB_REASON, RITA_NOTE)
FULL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything the service logger writes during the test, from DEBUG up."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    output = io.StringIO()
    level = logger.log_level
    before = handler.setStream(output)
    logger.setLevel(logging.DEBUG)
    yield output
    logger.setLevel(level)
    handler.setStream(before)


def submit(claims: dict[str, str], order_id: str, reason: str, **headers: str) -> Any:
    body = {"orderId": order_id, "reason": reason, "supportTicketId": f"T-{order_id}"}
    return call(api_event("POST", "/refund-requests", "/refund-requests", body=body, claims=claims, headers=headers))


def on_request(method: str, request_id: str, action: str, claims: dict[str, str], body: Any = None) -> Any:
    resource = "/refund-requests/{requestId}" + (f"/{action}" if action else "")
    path = f"/refund-requests/{request_id}" + (f"/{action}" if action else "")
    return call(api_event(method, resource, path, path_parameters={"requestId": request_id}, body=body, claims=claims))


def assert_clean(text: str) -> None:
    assert FULL_ADDRESS.findall(text) == []
    for body_text in BODY_TEXTS:
        assert body_text not in text
        assert json.dumps(body_text)[1:-1] not in text


def test_no_log_line_holds_an_address_or_a_body(stack: LocalAws, log_output: io.StringIO) -> None:
    seed_order("ord-1", username="alice", days_ago=40)
    seed_order("ord-2", username="bob", days_ago=40)
    seed_order("ord-3", username="alice", days_ago=40)

    alice_request = submit(ALICE, "ord-1", ALICE_REASON, **{"Idempotency-Key": "k-1"}).json["requestId"]
    bob_request = submit(BOB, "ord-2", BOB_REASON).json["requestId"]
    assert on_request("GET", alice_request, "", ALICE).status == 200
    assert on_request("GET", alice_request, "", BOB).status == 404
    assert on_request("POST", alice_request, "evaluate", RITA, {"action": "assess"}).status == 200
    approved = on_request("POST", alice_request, "evaluate", RITA, {"action": "approve", "note": RITA_NOTE})
    assert approved.status == 200
    assert on_request("POST", bob_request, "cancel", BOB).status == 200
    # An AWS error that quotes an address (SES's MessageRejected does) reaches logger.exception in api.py.
    quoting = aws_error("InternalServerError", "TransactWriteItems", "failed for alice.liddell@example.com")

    def fail(**_: Any) -> None:
        raise quoting

    with on_call(clients.dynamodb(), "before-call.dynamodb.TransactWriteItems", fail):
        assert submit(ALICE, "ord-3", ALICE_REASON).status == 500
    deliver_all()

    text = log_output.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    messages = [line["message"] for line in lines]
    # The logs were captured, and hold what operators need.
    assert "refund request recorded" in messages
    # Two acknowledgements, one decision, one cancellation, one RefundDecided.
    assert messages.count("effect done") == 5
    (failure,) = [line for line in lines if line["message"] == "unexpected error"]
    assert "failed for a***@example.com" in failure["exception"]
    assert failure["level"] == "ERROR"
    assert_clean(text)


def test_log_event_is_never_switched_on() -> None:
    """Powertools logs the whole event (claims, body) when `log_event` or POWERTOOLS_LOGGER_LOG_EVENT says so."""
    template = load_template()
    functions = {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    environments = [template["Globals"]["Function"].get("Environment", {})] + [
        properties.get("Environment", {}) for properties in functions.values()
    ]
    for environment in environments:
        assert "POWERTOOLS_LOGGER_LOG_EVENT" not in environment.get("Variables", {})
    for properties in functions.values():
        source = REPO_ROOT / properties["CodeUri"] / "app.py"
        calls = [node for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.Call)]
        assert all(keyword.arg != "log_event" for node in calls for keyword in node.keywords), source


def test_an_exception_that_escapes_a_handler_reaches_the_runtime_redacted(
    stack: LocalAws, log_output: io.StringIO
) -> None:
    """The Lambda runtime writes an escaping exception's text and traceback to the log itself, unformatted."""
    quoting = aws_error("InternalServerError", "Query", "failed for alice.liddell@example.com")

    def fail(**_: Any) -> None:
        raise quoting

    with on_call(clients.dynamodb(), "before-call.dynamodb.Query", fail), pytest.raises(FunctionFailed) as raised:
        load_handler("functions/reconciler/")({"source": "aws.events"}, LambdaContext())
    what_the_runtime_logs = "".join(traceback.format_exception(raised.value))
    assert "InternalServerError" in what_the_runtime_logs
    assert "failed for a***@example.com" in what_the_runtime_logs
    assert_clean(what_the_runtime_logs)
    (failure,) = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert (failure["message"], failure["level"]) == ("invocation failed", "ERROR")
    assert "failed for a***@example.com" in failure["exception"]
    assert_clean(log_output.getvalue())
