"""Helpers for the API tests: customer records, events/ files aimed at real requests, calling handlers."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from refund_core import repository
from refund_core.models import Customer, Order, SupportTicket, Usage
from refund_core.money import Money
from refund_local.handlers import invoke

EVENTS = Path(__file__).resolve().parents[2] / "events"


def seed_order(
    order_id: str,
    username: str = "alice",
    *,
    days_ago: int = 40,
    amount: str = "100.00",
    currency: str = "USD",
    channel: str | None = "card",
    kind: str | None = "new",
    payment_state: str | None = "settled",
    traffic_bytes: int | None = 1_200_000_000,
    connections: int | None = 12,
    ticket_id: str | None = None,
    ticket_response: str | None = "cannot_fix",
) -> None:
    """A customer record, an order, its usage and (by default) a support ticket `T-<order_id>`."""
    now = datetime.now(UTC)
    repository.put_customer(Customer(username=username, email=f"{username}@example.com"))
    repository.put_order(
        Order(
            order_id=order_id,
            username=username,
            ordered_at=now - timedelta(days=days_ago),
            amount_paid=Money.of(amount, currency),
            payment_channel=channel,
            kind=kind,
            service_period_days=365,
            payment_state=payment_state,  # type: ignore[arg-type]
        )
    )
    if traffic_bytes is not None or connections is not None:
        repository.put_usage(order_id, Usage(traffic_bytes=traffic_bytes, connections=connections))
    repository.put_support_ticket(
        SupportTicket(
            ticket_id=ticket_id or f"T-{order_id}",
            username=username,
            opened_at=now - timedelta(days=2),
            category="technical",
            official_response=ticket_response,  # type: ignore[arg-type]
        )
    )


def load_event(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8")))


def on_request(event: dict[str, Any], request_id: str) -> dict[str, Any]:
    """An events/ file aimed at a real request id instead of its placeholder."""
    placeholder = event["pathParameters"]["requestId"]
    event["pathParameters"]["requestId"] = request_id
    event["path"] = event["path"].replace(placeholder, request_id)
    event["requestContext"]["path"] = event["requestContext"]["path"].replace(placeholder, request_id)
    return event


FUNCTION_OF = {
    ("POST", "/refund-requests"): "functions/submit/",
    ("GET", "/refund-requests"): "functions/read/",
    ("GET", "/refund-requests/{requestId}"): "functions/read/",
    ("POST", "/refund-requests/{requestId}/evaluate"): "functions/evaluate/",
    ("POST", "/refund-requests/{requestId}/cancel"): "functions/cancel/",
}


class Response:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.status = raw["statusCode"]
        self.raw = raw
        self.json: Any = json.loads(raw["body"]) if raw.get("body") else None

    def header(self, name: str) -> str | None:
        headers = {key.lower(): value for key, value in (self.raw.get("headers") or {}).items()}
        for key, values in (self.raw.get("multiValueHeaders") or {}).items():
            headers.setdefault(key.lower(), values[0])
        return headers.get(name.lower())


def call(event: dict[str, Any]) -> Response:
    return Response(invoke(FUNCTION_OF[(event["httpMethod"], event["resource"])], event))
