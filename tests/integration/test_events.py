"""Every events/api_*.json, fed to its handler as `sam local invoke -e` would, gives its documented status."""

from __future__ import annotations

import json

import pytest
from api_support import EVENTS, call, load_event, on_request, seed_order

from refund_local.stack import LocalAws

# events/expected.json: each event's documented answer (scripts/sam_local.py checks the same through SAM CLI).
EXPECTED = json.loads((EVENTS / "expected.json").read_text(encoding="utf-8"))


def test_every_event_file_has_its_documented_answer() -> None:
    assert {path.stem for path in EVENTS.glob("api_*.json")} == set(EXPECTED["api"])
    assert {path.stem for path in EVENTS.glob("stream_*.json")} == set(EXPECTED["stream"])


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
