"""Writes events/api_*.json (API Gateway REST proxy events), events/queue_*.json (the delivery, records,
decisions exports and policy simulations queues' SQS events) and events/schedule_*.json (the reconciler's
scheduled event, and an operator's backfill) for `sam local invoke <Function> -e FILE`.

The tests feed the same files to the handlers (tests/integration/test_events.py). Regenerate after
changing a route or a message: `python scripts/generate_events.py`."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from refund_core.adapters.records import Effect
from refund_core.app.outbox import Delivery
from refund_local.events import api_event, claims_for, request_event
from refund_local.queues import scheduled_event, sqs_event

EVENTS = Path(__file__).resolve().parents[1] / "events"
REQUEST_ID = "rr_01JD0000000000000000000000"
ALICE = claims_for("alice", email="alice@example.com")
BOB = claims_for("bob", email="bob@example.com")
REVIEWER = claims_for("rita", reviewer=True, email="rita@smartsecurity.example")
AT = datetime(2026, 11, 26, 2, 15, tzinfo=UTC)
REGION = "ap-southeast-1"
SUBMIT_BODY = {"orderId": "ord-1001", "reason": "The VPN drops every few minutes.", "supportTicketId": "T-77"}


def _on_request(method: str, suffix: str, claims: dict[str, str] | None, body: Any = None) -> dict[str, Any]:
    return request_event(method, REQUEST_ID, suffix, claims=claims, body=body)


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


def _sqs_message(message_id: str, body: str) -> dict[str, Any]:
    """A queue's message as SQS hands it to Lambda: sent at AT, received once."""
    return {
        "MessageId": message_id,
        "ReceiptHandle": "AQEB-local-receipt-handle",
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(AT.timestamp() * 1000))},
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
    }


def _delivery(effect: Effect) -> dict[str, Any]:
    body = Delivery(request_id=REQUEST_ID, effect=effect, owed_at=AT).model_dump_json(by_alias=True)
    message = _sqs_message("2f1c6a1e-5b7d-4c1a-9d59-0c1b2a3d4e5f", body)
    return sqs_event([message], f"arn:aws:sqs:{REGION}:123456789012:DeliveryQueue")


def _records_event(detail_type: str, source: str, detail: dict[str, Any]) -> dict[str, Any]:
    """An event of another system as the records rule puts it on the records queue (RECORDS.md)."""
    event = {
        "version": "0",
        "id": "7c1b4f2e-0a9d-4e6b-8f3a-2d5c6b7a8e9f",
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": AT.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": detail,
    }
    message = _sqs_message("9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", json.dumps(event))
    return sqs_event([message], f"arn:aws:sqs:{REGION}:123456789012:RecordsQueue")


def _export_job(export_id: str) -> dict[str, Any]:
    message = _sqs_message("4d3c2b1a-0f9e-4d8c-a7b6-5e4d3c2b1a0f", json.dumps({"exportId": export_id}))
    return sqs_event([message], f"arn:aws:sqs:{REGION}:123456789012:DecisionsExportQueue")


def _simulation_job(simulation_id: str) -> dict[str, Any]:
    message = _sqs_message("7e6d5c4b-3a29-4f18-8e07-d6c5b4a39281", json.dumps({"simulationId": simulation_id}))
    return sqs_event([message], f"arn:aws:sqs:{REGION}:123456789012:PolicySimulationQueue")


def other_events() -> dict[str, dict[str, Any]]:
    placed = {
        "orderId": "ord-2002", "username": "alice", "orderedAt": "2026-11-20T10:00:00+08:00", "amount": "59.99",
        "currency": "USD", "paymentChannel": "card", "kind": "new", "servicePeriodDays": 365,
    }  # fmt: skip
    return {
        "queue_records_order_placed": _records_event("OrderPlaced", "smart-security.billing", placed),
        "queue_records_refused": _records_event("OrderPlaced", "smart-security.billing", placed | {"coupon": "X"}),
        "queue_delivery_acknowledgement": _delivery(Effect.ACKNOWLEDGEMENT),
        # The job of an export whose item has expired (7 days): nothing is left to do.
        "queue_export_expired": _export_job("20261119T021500000000-0123456789ab"),
        # The job of a simulation that is not stored: nothing to run.
        "queue_simulation_unknown": _simulation_job("20261119T021500000000-0123456789ab"),
        "schedule_reconcile": scheduled_event("EveryFiveMinutes", AT, "5b0c1a7e-3f9d-4e8a-b1c2-d3e4f5a6b7c8"),
        # Not a schedule's: an operator's backfill of the service levels (docs/operations.md), for the reconciler.
        "schedule_recount_service_levels": {"recountServiceLevels": {"from": "2026-10-01", "to": "2026-10-31"}},
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
    for name, event in other_events().items():
        (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
