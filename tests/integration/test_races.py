"""Races decided by conditional writes and transactions, not by reading first: threads against moto,
each with its own copy of the handler module, as separate Lambda containers would be."""

from __future__ import annotations

import importlib.util
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

from api_support import seed_order

from refund_local.events import api_event, claims_for
from refund_local.handlers import LambdaContext
from refund_local.provision import REPO_ROOT
from refund_local.stack import LocalAws

ALICE = claims_for("alice")
RITA = claims_for("rita", reviewer=True)


def container(job: str, index: int) -> ModuleType:
    """A separate instance of functions/<job>/app.py: its own resolver, like its own Lambda container."""
    name = f"race_{job}_{index}"
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "functions" / job / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_together(calls: list[tuple[ModuleType, dict[str, Any]]]) -> list[dict[str, Any]]:
    barrier = threading.Barrier(len(calls))

    def run(call: tuple[ModuleType, dict[str, Any]]) -> dict[str, Any]:
        module, event = call
        barrier.wait(timeout=10)
        result: dict[str, Any] = module.lambda_handler(event, LambdaContext())
        return result

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def submit_event(order_id: str) -> dict[str, Any]:
    body = {"orderId": order_id, "reason": "Too slow.", "supportTicketId": f"T-{order_id}"}
    return api_event("POST", "/refund-requests", "/refund-requests", body=body, claims=ALICE)


def test_ten_concurrent_submits_of_one_customer_give_exactly_one_request(stack: LocalAws) -> None:
    for index in range(10):
        seed_order(f"ord-{index}", days_ago=40)
    results = run_together([(container("submit", index), submit_event(f"ord-{index}")) for index in range(10)])
    statuses = sorted(result["statusCode"] for result in results)
    assert statuses == [201] + [409] * 9
    listing = container("read", 0).lambda_handler(
        api_event("GET", "/refund-requests", "/refund-requests", claims=ALICE), LambdaContext()
    )
    assert len(json.loads(listing["body"])["items"]) == 1


def test_decision_and_cancellation_racing_exactly_one_wins(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=40)
    created = container("submit", 0).lambda_handler(submit_event("ord-1"), LambdaContext())
    request_id = json.loads(created["body"])["requestId"]
    on_request = {"path_parameters": {"requestId": request_id}}
    approve = api_event(
        "POST",
        "/refund-requests/{requestId}/evaluate",
        f"/refund-requests/{request_id}/evaluate",
        body={"action": "approve"},
        claims=RITA,
        **on_request,  # type: ignore[arg-type]
    )
    cancel = api_event(
        "POST",
        "/refund-requests/{requestId}/cancel",
        f"/refund-requests/{request_id}/cancel",
        claims=ALICE,
        **on_request,  # type: ignore[arg-type]
    )
    results = run_together([(container("evaluate", 1), approve), (container("cancel", 1), cancel)])
    statuses = [result["statusCode"] for result in results]
    assert sorted(statuses) == [200, 409]
    read = api_event(
        "GET",
        "/refund-requests/{requestId}",
        f"/refund-requests/{request_id}",
        claims=ALICE,
        **on_request,  # type: ignore[arg-type]
    )
    final = json.loads(container("read", 1).lambda_handler(read, LambdaContext())["body"])
    winner = "APPROVED" if statuses[0] == 200 else "CANCELLED"
    assert final["status"] == winner
    events = [entry["event"] for entry in final["history"]]
    assert events.count("decided") + events.count("cancelled") == 1
