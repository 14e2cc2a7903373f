"""Every events/api_*.json, fed to its handler as `sam local invoke -e` would, gives its documented status."""

from __future__ import annotations

import pytest
from api_support import EVENTS, call, load_event, on_request, seed_order

from refund_local.stack import LocalAws

# event file → (status, whether it acts on a pending request of alice's, created first)
EXPECTED = {
    "api_submit": (201, False),
    "api_submit_idempotent": (201, False),
    "api_submit_missing_field": (400, False),
    "api_submit_malformed_json": (400, False),
    "api_submit_no_claims": (401, False),
    "api_get_request": (200, True),
    "api_get_request_stranger": (404, True),
    "api_list_pending_reviewer": (200, False),
    "api_list_own": (200, False),
    "api_evaluate_assess": (200, True),
    "api_evaluate_approve": (200, True),
    "api_evaluate_refuse": (200, True),
    "api_evaluate_by_customer": (403, True),
    "api_evaluate_unknown_action": (400, True),
    "api_cancel": (200, True),
    "api_cancel_stranger": (404, True),
}


def test_every_api_event_file_is_covered() -> None:
    assert {path.stem for path in EVENTS.glob("api_*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_gives_its_documented_status(stack: LocalAws, name: str) -> None:
    status, needs_request = EXPECTED[name]
    seed_order("ord-1001", days_ago=40, ticket_id="T-77")
    event = load_event(name)
    if needs_request:
        created = call(load_event("api_submit"))
        assert created.status == 201
        event = on_request(event, created.json["requestId"])
    assert call(event).status == status
