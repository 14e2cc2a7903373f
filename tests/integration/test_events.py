"""Every events/ file, fed to its handler as `sam local invoke -e` would, gives its documented answer."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from api_support import EVENTS, call, load_event, on_request, seed_order, sent_emails

from refund_core.settings import settings
from refund_local.environment import REGION
from refund_local.handlers import invoke
from refund_local.stack import LocalAws

# events/expected.json: each event's documented answer (scripts/sam_local.py checks the same through SAM CLI).
EXPECTED = json.loads((EVENTS / "expected.json").read_text(encoding="utf-8"))


def test_every_event_file_has_its_documented_answer() -> None:
    assert {path.stem for path in EVENTS.glob("api_*.json")} == set(EXPECTED["api"])
    assert {path.stem for path in EVENTS.glob("stream_*.json")} == set(EXPECTED["stream"])
    assert {path.stem for path in EVENTS.glob("queue_*.json")} == set(EXPECTED["queue"])
    assert {path.stem for path in EVENTS.glob("schedule_*.json")} == set(EXPECTED["schedule"])


@pytest.mark.parametrize("name", sorted(EXPECTED["api"]))
def test_event_gives_its_documented_status(stack: LocalAws, name: str) -> None:
    status = EXPECTED["api"][name]["status"]
    seed_order("ord-1001", days_ago=40, ticket_id="T-77")
    event = load_event(name)
    if EXPECTED["api"][name].get("onPendingRequest"):
        created = call(load_event("api_submit"))
        assert created.status == 201
        event = on_request(event, created.json["requestId"])
    assert call(event).status == status


def records_dead_letters() -> list[str]:
    sqs = boto3.client("sqs", region_name=REGION)
    url = settings().records_dead_letter_queue_url
    return [
        message["Body"] for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]


def with_request_id(event: dict[str, Any], request_id: str) -> dict[str, Any]:
    """A queue event aimed at a real request: the placeholder id replaced in its message bodies."""
    placeholder = "rr_01JD0000000000000000000000"
    loaded: dict[str, Any] = json.loads(json.dumps(event).replace(placeholder, request_id))
    return loaded


@pytest.mark.parametrize("name", sorted(EXPECTED["queue"]))
def test_queue_event_gives_its_documented_answer(stack: LocalAws, name: str) -> None:
    want = EXPECTED["queue"][name]
    seed_order("ord-1001", days_ago=40, ticket_id="T-77")
    event = load_event(name)
    if want.get("onPendingRequest"):
        created = call(load_event("api_submit"))
        assert created.status == 201
        event = with_request_id(event, created.json["requestId"])
    functions = {
        "OutboxFunction": "outbox",
        "RecordsFunction": "records",
        "ExportsFunction": "exports",
        "SimulationsFunction": "simulations",
    }
    code_uri = f"functions/{functions[want['function']]}/"
    assert invoke(code_uri, event) == {"batchItemFailures": want["batchItemFailures"]}
    if want["function"] == "OutboxFunction":
        (email,) = sent_emails()
        assert created.json["requestId"] in email.text
    letters = [json.loads(body)["field"] for body in records_dead_letters()]
    assert letters == ([want["deadLettered"]] if "deadLettered" in want else [])


@pytest.mark.parametrize("name", sorted(EXPECTED["schedule"]))
def test_schedule_event_gives_its_documented_answer(stack: LocalAws, name: str) -> None:
    assert invoke("functions/reconciler/", load_event(name)) == EXPECTED["schedule"][name]["answer"]
