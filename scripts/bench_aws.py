"""Benchmark sections that need the emulated stack or fresh processes: AWS API calls per operation
(counted under moto with a botocore event hook) and each handler's cold init."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def hooked(hooks: Mapping[str, Callable[..., None]]) -> Iterator[None]:
    """Registers each botocore event hook (event name → handler) on every client of the service
    (refund_core.adapters.clients) for the duration of the block."""
    from refund_core.adapters import clients, policy_store  # noqa: PLC0415 - imported once the stack's environment is set

    service_clients = [
        clients.dynamodb(),
        clients.stepfunctions(),
        clients.ses(),
        clients.eventbridge(),
        clients.sqs(),
        policy_store.versions_client(),
    ]
    for client in service_clients:
        for event, handler in hooks.items():
            client.meta.events.register(event, handler)
    try:
        yield
    finally:
        for client in service_clients:
            for event, handler in hooks.items():
                client.meta.events.unregister(event, handler)


@contextmanager
def counted_calls() -> Iterator[Counter[str]]:
    """Counts every AWS API call that the service's clients make inside the block."""
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}:{model.name}"] += 1

    with hooked({"before-call": count}):
        yield calls


def seed_claim(order_id: str, days_ago: int, channel: str = "card", username: str = "alice") -> None:
    """A customer with one settled order, light usage and a support ticket `T-<order_id>` saying it cannot be fixed."""
    from refund_local.seed import parse_seed, write_seed  # noqa: PLC0415 - imported once the stack's environment is set

    now = datetime.now(UTC)
    order = {
        "orderId": order_id,
        "username": username,
        "orderedAt": (now - timedelta(days=days_ago)).isoformat(),
        "amount": "100.00",
        "currency": "USD",
        "paymentChannel": channel,
        "kind": "new",
        "servicePeriodDays": 365,
        "paymentState": "settled",
        "trafficBytes": 10,
        "connections": 1,
    }
    ticket = {
        "ticketId": f"T-{order_id}",
        "username": username,
        "openedAt": (now - timedelta(days=1)).isoformat(),
        "category": "technical",
        "officialResponse": "cannot_fix",
    }
    customer = {"username": username, "email": f"{username}@example.com"}
    write_seed(parse_seed({"customers": [customer], "orders": [order], "tickets": [ticket]}))


def aws_calls_per_operation() -> list[tuple[str, int, str]]:
    """(operation, calls, goal): each operation once, on a fresh emulated stack."""
    from refund_local.events import api_event, claims_for, request_event  # noqa: PLC0415
    from refund_local.handlers import invoke  # noqa: PLC0415
    from refund_local.stack import LocalAws  # noqa: PLC0415

    alice, rita = claims_for("alice"), claims_for("rita", reviewer=True)
    rows: list[tuple[str, int, str]] = []
    stack = LocalAws(execute_state_machine=False)
    stack.start()
    try:

        def submit(order_id: str, key: str | None, claims: dict[str, str] = alice) -> tuple[int, str]:
            body = {"orderId": order_id, "reason": "Slow.", "supportTicketId": f"T-{order_id}"}
            headers = {"Idempotency-Key": key} if key else None
            event = api_event("POST", "/refund-requests", "/refund-requests", body=body, claims=claims, headers=headers)
            with counted_calls() as calls:
                response = invoke("functions/submit/", event)
            return sum(calls.values()), json.loads(response["body"])["requestId"]

        def on(request_id: str, suffix: str, method: str, claims: dict[str, str], body: Any = None) -> int:
            event = request_event(method, request_id, suffix, claims=claims, body=body)
            function = {"": "read", "/evaluate": "evaluate", "/cancel": "cancel"}[suffix]
            with counted_calls() as calls:
                invoke(f"functions/{function}/", event)
            return sum(calls.values())

        from refund_core.app import policies  # noqa: PLC0415

        # Each process reads the policy versions once per PolicyCacheSeconds: counted here, not per operation.
        with counted_calls() as calls:
            policies.in_force()
        rows.append(("read the policy versions, once per process per PolicyCacheSeconds", sum(calls.values()), "1"))
        seed_claim("ord-1", days_ago=40)
        count, pending = submit("ord-1", "key-1")
        rows.append(("submit, pending, with Idempotency-Key", count, "≤ 6"))
        rows.append(("read one request", on(pending, "", "GET", alice), ""))
        rows.append(("evaluate: assess", on(pending, "/evaluate", "POST", rita, {"action": "assess"}), "≤ 4"))
        rows.append(("cancel", on(pending, "/cancel", "POST", alice), "≤ 2"))
        seed_claim("ord-2", days_ago=40)
        count, pending = submit("ord-2", None)
        rows.append(("submit, pending, no key", count, "≤ 6"))
        rows.append(("evaluate: approve", on(pending, "/evaluate", "POST", rita, {"action": "approve"}), "≤ 4"))
        seed_claim("ord-3", days_ago=2, channel="apple_itunes")
        count, _ = submit("ord-3", "key-3")
        rows.append(("submit, refused at once, with key", count, "≤ 6"))
        seed_claim("ord-4", days_ago=2, username="bob")
        count, _ = submit("ord-4", "key-4", claims_for("bob"))
        rows.append(("submit, approved at once, with key", count, "≤ 6"))
    finally:
        stack.stop()
    return rows


Measure = Callable[[], list[tuple[str, Any, Any]]]
