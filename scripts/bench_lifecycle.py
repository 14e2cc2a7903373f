"""Whole request lifecycles on the emulated stack, to count what AWS would bill: state transitions (from
the executions' own histories), AWS API calls and the DynamoDB capacity they use, Lambda invocations,
emails and events; priced at AWS list prices (us-east-1, on-demand, 2026) per 1,000 requests."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import boto3
from bench_aws import hooked, seed_claim

from refund_core.adapters import repository
from refund_local.environment import REGION
from refund_local.events import api_event, claims_for
from refund_local.handlers import LambdaContext, load_handler
from refund_local.provision import load_template
from refund_local.stack import LocalAws
from refund_local.stream import StreamPoller, stream_sources

WINDOW_SECONDS = 3  # the review window: reminder at 2.4 s, deadline at 3 s
REVIEWER = claims_for("rita", reviewer=True)

# USD list prices, us-east-1, on demand.
PRICE = {
    "api_request": 3.50 / 1_000_000,  # API Gateway REST API
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second": 0.0000133334,  # arm64
    "write_unit": 0.625 / 1_000_000,  # DynamoDB on-demand write request unit
    "read_unit": 0.125 / 1_000_000,
    "transition": 0.025 / 1_000,  # Step Functions Standard
    "email": 0.10 / 1_000,  # SES
    "event": 1.00 / 1_000_000,  # EventBridge custom event
}
LAMBDA_GB = 0.5  # MemorySize 512 in template.yaml's Globals


@dataclass
class Meter:
    api_requests: int = 0
    invocations: int = 0
    invocation_seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    write_units: float = 0.0
    read_units: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.calls[model.name] += 1
            self.write_units += _write_units(model.name, params)

    def on_response(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.read_units += _read_units(model.name, parsed)


def _size_kb(item: Any) -> float:
    return len(json.dumps(item, default=str)) / 1024


def _write_units(operation: str, params: dict[str, Any]) -> float:
    if operation == "TransactWriteItems":
        # Twice the units of the items written, as DynamoDB bills transactions.
        return sum(2 * math.ceil(max(_size_kb(next(iter(entry.values()))), 0.001)) for entry in params["TransactItems"])
    if operation in {"PutItem", "UpdateItem", "DeleteItem"}:
        return math.ceil(max(_size_kb(params.get("Item", params.get("Key"))), 0.001))
    return 0.0


def _read_units(operation: str, parsed: dict[str, Any]) -> float:
    if operation in {"Query", "GetItem", "BatchGetItem"}:
        items = parsed.get("Items") or ([parsed["Item"]] if "Item" in parsed else [])
        for table_items in (parsed.get("Responses") or {}).values():
            items = [*items, *table_items]
        return max(1.0, math.ceil(sum(_size_kb(item) for item in items) / 4))
    return 0.0


def metered(meter: Meter) -> AbstractContextManager[None]:
    return hooked({"before-parameter-build": meter.on_call, "after-call": meter.on_response})


def _timed(meter: Meter, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any]], Any]:
    def invoke(event: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return handler(event, LambdaContext())
        finally:
            with meter.lock:
                meter.invocations += 1
                meter.invocation_seconds += time.perf_counter() - started

    return invoke


@dataclass(frozen=True)
class Lifecycle:
    name: str
    days_ago: int  # 3: a clear full refund, decided at once; 40: partial, waits for a reviewer
    decide_after: str | None  # None (decided at once), "now", "reminded", "overdue"


LIFECYCLES = (
    Lifecycle("full refund decided at once", 3, None),
    Lifecycle("partial, approved before the reminder", 40, "now"),
    Lifecycle("partial, reminded, then approved", 40, "reminded"),
    Lifecycle("partial, overdue and escalated, then approved", 40, "overdue"),
)


@dataclass(frozen=True)
class LifecycleCost:
    name: str
    transitions: int
    aws_calls: int
    emails: int
    cost_per_1000: float


def _until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the lifecycle did not reach its next step in time")
        time.sleep(0.1)


def run_lifecycle(lifecycle: Lifecycle) -> LifecycleCost:
    stack = LocalAws(execute_state_machine=True, review_window_seconds=WINDOW_SECONDS)
    stack.start()
    meter = Meter()
    source = next(source for source in stream_sources(load_template()) if source.function == "NotifierFunction")
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    stream_arn = boto3.client("dynamodb").describe_table(TableName=stack.table_names[source.table])["Table"][
        "LatestStreamArn"
    ]
    poller = StreamPoller(
        source,
        stream_arn,
        _timed(meter, load_handler(source.code_uri, source.handler)),
        streams=streams,
        region=REGION,
        poll_seconds=0.1,
    )
    try:
        seed_claim("ord-1", lifecycle.days_ago)
        poller.start()
        with metered(meter):

            def api(code_uri: str, event: dict[str, Any]) -> dict[str, Any]:
                meter.api_requests += 1
                result: dict[str, Any] = _timed(meter, load_handler(code_uri))(event)
                return result

            body = {"orderId": "ord-1", "reason": "It drops.", "supportTicketId": "T-ord-1"}
            submit = api_event(
                "POST", "/refund-requests", "/refund-requests", body=body, claims=claims_for("alice"),
                headers={"Idempotency-Key": "lifecycle-1"},
            )  # fmt: skip
            created = api("functions/submit/", submit)
            request_id = json.loads(created["body"])["requestId"]
            on_request = {"requestId": request_id}
            read = api_event(
                "GET", "/refund-requests/{requestId}", f"/refund-requests/{request_id}",
                path_parameters=on_request, claims=claims_for("alice"),
            )  # fmt: skip
            if lifecycle.decide_after is not None:
                if lifecycle.decide_after != "now":
                    flag = lifecycle.decide_after
                    _until(lambda: bool(repository.get_request(request_id).model_dump()[flag]), WINDOW_SECONDS + 5)  # type: ignore[union-attr]
                approve = api_event(
                    "POST", "/refund-requests/{requestId}/evaluate", f"/refund-requests/{request_id}/evaluate",
                    path_parameters=on_request, claims=REVIEWER, body={"action": "approve"},
                )  # fmt: skip
                api("functions/evaluate/", approve)
            api("functions/read/", read)
            sfn = boto3.client("stepfunctions")
            transitions = 0
            executions = sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
            for execution in executions:
                arn = execution["executionArn"]
                _until(
                    lambda arn=arn: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", WINDOW_SECONDS + 5
                )  # type: ignore[misc]
                history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
                transitions += sum(1 for event in history if event["type"].endswith("StateEntered"))
            wanted = 2 + (lifecycle.decide_after in {"reminded", "overdue"}) + (lifecycle.decide_after == "overdue")
            if lifecycle.decide_after is None:
                wanted = 1
            _until(lambda: meter.calls["SendRawEmail"] >= wanted, 10)
            time.sleep(0.5)  # let the notifier finish its last history appends
    finally:
        poller.stop()
        stack.stop()
    emails = meter.calls["SendRawEmail"]
    cost = (
        meter.api_requests * PRICE["api_request"]
        + meter.invocations * PRICE["lambda_request"]
        + meter.invocation_seconds * LAMBDA_GB * PRICE["lambda_gb_second"]
        + meter.write_units * PRICE["write_unit"]
        + meter.read_units * PRICE["read_unit"]
        + transitions * PRICE["transition"]
        + emails * PRICE["email"]
        + meter.calls["PutEvents"] * PRICE["event"]
    )
    return LifecycleCost(lifecycle.name, transitions, sum(meter.calls.values()), emails, cost * 1000)


def lifecycle_costs() -> list[LifecycleCost]:
    return [run_lifecycle(lifecycle) for lifecycle in LIFECYCLES]
