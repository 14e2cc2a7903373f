"""Writes events/api_*.json: API Gateway REST proxy events for `sam local invoke <Function> -e FILE`.

The tests feed the same files to the handlers (tests/integration/test_events.py). Regenerate after
changing a route: `python scripts/generate_events.py`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from refund_local.events import api_event, claims_for

EVENTS = Path(__file__).resolve().parents[1] / "events"
REQUEST_ID = "rr_01JD0000000000000000000000"
ALICE = claims_for("alice", email="alice@example.com")
BOB = claims_for("bob", email="bob@example.com")
REVIEWER = claims_for("rita", reviewer=True, email="rita@smartsecurity.example")
SUBMIT_BODY = {"orderId": "ord-1001", "reason": "The VPN drops every few minutes.", "supportTicketId": "T-77"}


def _on_request(method: str, suffix: str, claims: dict[str, str] | None, body: Any = None) -> dict[str, Any]:
    return api_event(
        method,
        "/refund-requests/{requestId}" + suffix,
        f"/refund-requests/{REQUEST_ID}{suffix}",
        path_parameters={"requestId": REQUEST_ID},
        claims=claims,
        body=body,
    )


def events() -> dict[str, dict[str, Any]]:
    submit = "/refund-requests"
    return {
        "api_submit": api_event("POST", submit, submit, body=SUBMIT_BODY, claims=ALICE),
        "api_submit_idempotent": api_event(
            "POST", submit, submit, body=SUBMIT_BODY, claims=ALICE, headers={"Idempotency-Key": "b7c1e1f0-retry-1"}
        ),
        "api_submit_missing_field": api_event("POST", submit, submit, body={"orderId": "ord-1001"}, claims=ALICE),
        "api_submit_malformed_json": api_event("POST", submit, submit, body='{"orderId": "ord-1001",', claims=ALICE),
        "api_submit_no_claims": api_event("POST", submit, submit, body=SUBMIT_BODY, claims=None),
        "api_get_request": _on_request("GET", "", ALICE),
        "api_get_request_stranger": _on_request("GET", "", BOB),
        "api_list_pending_reviewer": api_event("GET", submit, submit, query={"status": "PENDING"}, claims=REVIEWER),
        "api_list_own": api_event("GET", submit, submit, claims=ALICE),
        "api_evaluate_assess": _on_request("POST", "/evaluate", REVIEWER, {"action": "assess"}),
        "api_evaluate_approve": _on_request(
            "POST", "/evaluate", REVIEWER, {"action": "approve", "amount": "40.00", "note": "Partial, as suggested."}
        ),
        "api_evaluate_refuse": _on_request(
            "POST", "/evaluate", REVIEWER, {"action": "refuse", "note": "The logs show the service worked."}
        ),
        "api_evaluate_by_customer": _on_request("POST", "/evaluate", ALICE, {"action": "approve"}),
        "api_evaluate_unknown_action": _on_request("POST", "/evaluate", REVIEWER, {"action": "escalate"}),
        "api_cancel": _on_request("POST", "/cancel", ALICE),
        "api_cancel_stranger": _on_request("POST", "/cancel", BOB),
    }


def _stable(event: dict[str, Any]) -> dict[str, Any]:
    """Fixed ids and times, so that regenerating changes nothing unless a route did."""
    context = event["requestContext"]
    context["requestId"] = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    context["requestTime"] = "26/Nov/2026:02:15:00 +0000"
    context["requestTimeEpoch"] = 1795659300000
    return event


def main() -> None:
    EVENTS.mkdir(exist_ok=True)
    for name, event in events().items():
        (EVENTS / f"{name}.json").write_text(json.dumps(_stable(event), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
