"""Whole request lifecycles on the emulated stack, to count what AWS would bill: state transitions (from
the executions' own histories), AWS API calls and the DynamoDB capacity they use (the state machine's own
transactions included), Lambda invocations, SQS requests, emails and events, X-Ray traces, the bytes of log
each invocation writes (the functions' own lines and metrics, counted at INFO as deployed, plus Lambda's
START/END/REPORT and API Gateway's access log line), and the billed INIT phase or SnapStart restore of the
invocations that start an environment; priced at AWS list prices for ap-southeast-1, where the stack runs
(on demand, 2026), per 1,000 requests, and the durable outbox's share of it (its owed items, its queue, its
function) apart. Emails are their own line (the policy mandates each one). What costs the same whatever the
volume is `fixed_monthly_costs()`."""

from __future__ import annotations

import io
import json
import logging
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, redirect_stdout
from dataclasses import dataclass, field
from typing import Any

import boto3
from bench_aws import hooked, seed_claim

from refund_core.adapters import repository
from refund_core.observability import logger
from refund_local.environment import REGION
from refund_local.events import api_event, claims_for
from refund_local.handlers import LambdaContext, load_handler
from refund_local.provision import load_template
from refund_local.queues import QueuePoller, queue_sources
from refund_local.stack import LocalAws
from refund_local.stream import StreamPoller, stream_sources

WINDOW_SECONDS = 3  # the review window: reminder at 2.4 s, deadline at 3 s
REVIEWER = claims_for("rita", reviewer=True)

# USD list prices, ap-southeast-1 (Singapore), on demand, as of 2026; no free tier counted.
PRICE = {
    "api_request": 3.50 / 1_000_000,  # API Gateway REST API
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second": 0.0000133334,  # arm64; the INIT phase is billed at the same rate
    "write_unit": 0.7135 / 1_000_000,  # DynamoDB on-demand write request unit
    "read_unit": 0.1425 / 1_000_000,
    "transition": 0.025 / 1_000,  # Step Functions Standard
    "email": 0.10 / 1_000,  # SES
    "event": 1.00 / 1_000_000,  # EventBridge custom event
    "sqs_request": 0.40 / 1_000_000,  # SQS standard queue
    "trace": 5.00 / 1_000_000,  # X-Ray, traces recorded
    "log_gb": 0.70,  # CloudWatch Logs, standard ingestion
    "snapstart_restore_gb": 0.0001397998,  # Python SnapStart, per GB restored
    "snapstart_cache_gb_second": 0.0000015046,  # Python SnapStart, per GB-second a version's snapshot is kept
    "alarm": 0.10,  # per standard alarm-month
    "dashboard": 3.00,  # per dashboard-month
    "backup_gb_month": 0.114,  # AWS Backup, DynamoDB backup storage (warm)
    "backup_copy_gb": 0.09,  # data transfer to the second region, per GB copied
}
LAMBDA_GB = 0.5  # MemorySize 512 in template.yaml's Globals
# Lambda's own lines per invocation (START, END, REPORT with its X-Ray segment) and API Gateway's access log line
# (template.yaml's format, filled in), in bytes.
PLATFORM_LOG_BYTES = 420
ACCESS_LOG_BYTES = 330
# Init, as make bench's cold-start section measures it as deployed (0.42 to 0.69 s of CPU): seconds billed per
# environment started.
INIT_SECONDS = 0.6
# The share of invocations that start an environment. At a few hundred thousand requests a month each function is
# called every few seconds and its environments live for minutes to hours: 5% is a generous bound. The worst case
# (every invocation starts one: a handful of requests a day) is printed beside it.
COLD_SHARE = 0.05
SNAPSTART_FUNCTIONS = 8  # the API functions (template.yaml: SnapStart)


@dataclass
class Meter:
    api_requests: int = 0
    invocations: int = 0
    invocation_seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    write_units: float = 0.0
    read_units: float = 0.0
    sqs_requests: int = 0
    # The durable outbox's share: the units of its owed items, its queue's requests, its function's time.
    outbox_write_units: float = 0.0
    outbox_invocations: int = 0
    outbox_invocation_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.calls[model.name] += 1
            self.write_units += _write_units(model.name, params)
            self.outbox_write_units += _write_units(model.name, params, owed_only=True)
            if model.service_model.service_name == "sqs":
                self.sqs_requests += 1

    def on_queue_response(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        """The event source mapping's own SQS requests: a receive that found messages, and their delete."""
        if model.name == "DeleteMessageBatch" or parsed.get("Messages"):
            with self.lock:
                self.sqs_requests += 1

    def on_response(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.read_units += _read_units(model.name, parsed)


def _size_kb(item: Any) -> float:
    return len(json.dumps(item, default=str)) / 1024


def _owed(written: dict[str, Any]) -> bool:
    key = written.get("Item", written.get("Key", {}))
    return str(key.get("sk", "")).startswith("OWED#")


def _write_units(operation: str, params: dict[str, Any], owed_only: bool = False) -> float:
    if operation == "TransactWriteItems":
        # Twice the units of the items written, as DynamoDB bills transactions.
        entries = [next(iter(entry.values())) for entry in params["TransactItems"]]
        return sum(2 * math.ceil(max(_size_kb(entry), 0.001)) for entry in entries if _owed(entry) or not owed_only)
    if operation in {"PutItem", "UpdateItem", "DeleteItem"} and (_owed(params) or not owed_only):
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


def _timed(
    meter: Meter, handler: Callable[[dict[str, Any], Any], Any], outbox: bool = False
) -> Callable[[dict[str, Any]], Any]:
    def invoke(event: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return handler(event, LambdaContext())
        finally:
            seconds = time.perf_counter() - started
            with meter.lock:
                meter.invocations += 1
                meter.invocation_seconds += seconds
                if outbox:
                    meter.outbox_invocations += 1
                    meter.outbox_invocation_seconds += seconds

    return invoke


def _state_machine_write_units(definition: dict[str, Any], history: list[dict[str, Any]]) -> float:
    """The units of the state machine's own transactions that committed (each item under 1 KB, twice)."""
    entered: list[str] = []
    units = 0.0
    for event in history:
        if "stateEnteredEventDetails" in event:
            entered.append(event["stateEnteredEventDetails"]["name"])
        elif event["type"] == "TaskSucceeded" and entered:
            state = definition["States"][entered[-1]]
            if state.get("Resource", "").endswith("dynamodb:transactWriteItems"):
                units += 2 * len(state["Parameters"]["TransactItems"])
    return units


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
    cost_per_1000: float  # without the emails
    by_service: dict[str, float]  # USD per 1,000 requests
    outbox_per_1000: float
    emails_per_1000: float
    log_kb_per_request: float
    # Every invocation starting an environment (INIT billed, or a SnapStart restore), in place of COLD_SHARE.
    all_cold_per_1000: float


class _CountingStream(io.TextIOBase):
    """Where the functions' log lines and metrics go while a lifecycle runs: only their size is kept."""

    def __init__(self) -> None:
        self.bytes = 0
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self.bytes += len(text.encode("utf-8"))
        return len(text)


@contextmanager
def _logs_counted(stream: _CountingStream) -> Iterator[None]:
    """The functions' logs as deployed, at INFO with metrics on (make bench runs them at ERROR, metrics off),
    written to `stream`."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    level, metrics_disabled = logger.log_level, os.environ.get("POWERTOOLS_METRICS_DISABLED")
    previous = handler.setStream(stream)
    logger.setLevel("INFO")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
    try:
        with redirect_stdout(stream):  # the metrics' EMF lines are printed
            yield
    finally:
        handler.setStream(previous)
        logger.setLevel(level)
        if metrics_disabled is None:
            os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
        else:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = metrics_disabled


# The emails out before a reviewer decides (the decision's is one more): the acknowledgement; the reviewers'
# reminder; the supervisors' escalation and the customer's apology for the delay. Decided at once: none before.
_EMAILS_BEFORE_DECIDING = {"now": 1, "reminded": 2, "overdue": 4}


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
    (delivery,) = [source for source in queue_sources(load_template()) if source.queue == "DeliveryQueue"]
    queue_client = boto3.client("sqs", region_name=REGION)
    queue_client.meta.events.register("after-call", meter.on_queue_response)
    deliveries = QueuePoller(
        delivery,
        stack.environment["DELIVERY_QUEUE_URL"],
        _timed(meter, load_handler(f"functions/{delivery.function.removesuffix('Function').lower()}/"), outbox=True),
        queue_client,
    )
    sfn = boto3.client("stepfunctions")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=stack.state_machine_arn)["definition"])
    state_machine_write_units = 0.0
    logs = _CountingStream()
    try:
        seed_claim("ord-1", lifecycle.days_ago)
        poller.start()
        deliveries.start()
        with metered(meter), _logs_counted(logs):

            def api(code_uri: str, event: dict[str, Any]) -> dict[str, Any]:
                meter.api_requests += 1
                result: dict[str, Any] = _timed(meter, load_handler(code_uri))(event)
                return result

            body = {"orderId": "ord-1", "reason": "It drops.", "supportTicketId": "T-ord-1"}
            submit = api_event(
                "POST", "/refund-requests", "/refund-requests", body=body, claims=claims_for("alice"),
                headers={"Idempotency-Key": "lifecycle-1"},
            )  # fmt: skip
            # The workflow waits until whole seconds, rounded up: received just after a second begins, the
            # reminder (at 2.4 s) and the deadline (at 3 s) fall in different seconds, with a second between.
            time.sleep(1.05 - time.time() % 1)
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
                    # Days pass between a reminder and the decision: its emails are out before the approval (one
                    # that beat them would find them no longer needed, and the path cheaper than it is).
                    _until(lambda: meter.calls["SendRawEmail"] >= _EMAILS_BEFORE_DECIDING[flag], 10)
                approve = api_event(
                    "POST", "/refund-requests/{requestId}/evaluate", f"/refund-requests/{request_id}/evaluate",
                    path_parameters=on_request, claims=REVIEWER, body={"action": "approve"},
                )  # fmt: skip
                api("functions/evaluate/", approve)
            api("functions/read/", read)
            transitions = 0
            executions = sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
            for execution in executions:
                arn = execution["executionArn"]
                _until(
                    lambda arn=arn: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", WINDOW_SECONDS + 5
                )  # type: ignore[misc]
                history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
                transitions += sum(1 for event in history if event["type"].endswith("StateEntered"))
                state_machine_write_units += _state_machine_write_units(definition, history)
            wanted = 1 + _EMAILS_BEFORE_DECIDING.get(lifecycle.decide_after or "", 0)
            _until(lambda: meter.calls["SendRawEmail"] >= wanted, 10)
            time.sleep(1.5)  # let the outbox record its last effects done
    finally:
        deliveries.stop()
        poller.stop()
        stack.stop()
    emails = meter.calls["SendRawEmail"]
    log_bytes = logs.bytes + meter.invocations * PLATFORM_LOG_BYTES + meter.api_requests * ACCESS_LOG_BYTES
    # Started environments: the API functions restore a SnapStart snapshot, the others run their INIT.
    all_cold = (
        meter.api_requests * LAMBDA_GB * PRICE["snapstart_restore_gb"]
        + (meter.invocations - meter.api_requests) * INIT_SECONDS * LAMBDA_GB * PRICE["lambda_gb_second"]
    )
    by_service = {
        "API Gateway": meter.api_requests * PRICE["api_request"],
        "Lambda": meter.invocations * PRICE["lambda_request"]
        + meter.invocation_seconds * LAMBDA_GB * PRICE["lambda_gb_second"],
        "INIT and restores": all_cold * COLD_SHARE,
        "DynamoDB": (meter.write_units + state_machine_write_units) * PRICE["write_unit"]
        + meter.read_units * PRICE["read_unit"],
        "Step Functions": transitions * PRICE["transition"],
        "SQS": meter.sqs_requests * PRICE["sqs_request"],
        "EventBridge": meter.calls["PutEvents"] * PRICE["event"],
        # At a few calls a second every call is traced (API Gateway's rule and Lambda's: 1 a second, then 5%). A
        # trace starts at each API call and each stream record (a stream carries no trace header); the outbox's
        # deliveries continue the trace of whoever queued them (SQS carries it), so they record none of their own.
        "X-Ray": (meter.invocations - meter.outbox_invocations) * PRICE["trace"],
        "CloudWatch Logs": log_bytes / 1e9 * PRICE["log_gb"],
    }
    outbox = (
        meter.outbox_write_units * PRICE["write_unit"]
        + meter.sqs_requests * PRICE["sqs_request"]
        + meter.outbox_invocations * PRICE["lambda_request"]
        + meter.outbox_invocation_seconds * LAMBDA_GB * PRICE["lambda_gb_second"]
    )
    return LifecycleCost(
        lifecycle.name,
        transitions,
        sum(meter.calls.values()),
        emails,
        sum(by_service.values()) * 1000,
        {service: cost * 1000 for service, cost in by_service.items()},
        outbox * 1000,
        emails * PRICE["email"] * 1000,
        log_bytes / 1024,
        (sum(by_service.values()) - by_service["INIT and restores"] + all_cold) * 1000,
    )


def fixed_monthly_costs(table_gb: float = 1.0) -> dict[str, float]:
    """What the stack costs a month whatever the number of requests (USD), the backups for `table_gb` GB of
    tables once the plan has filled (docs/operations.md)."""
    resources = load_template()["Resources"].values()
    alarms = sum(1 for resource in resources if resource["Type"] == "AWS::CloudWatch::Alarm")
    month_seconds = 730 * 3600
    plan = next(r for r in resources if r["Type"] == "AWS::Backup::BackupPlan")["Properties"]["BackupPlan"]
    kept = {rule["RuleName"]: rule["Lifecycle"]["DeleteAfterDays"] for rule in plan["BackupPlanRule"]}
    # Daily backups kept `daily` days, monthly ones `monthly` days: at most this many copies, in each region.
    copies = kept["daily"] + kept["monthly"] / 30.4
    return {
        f"SnapStart snapshots ({SNAPSTART_FUNCTIONS} functions x {LAMBDA_GB:g} GB)": SNAPSTART_FUNCTIONS
        * LAMBDA_GB
        * month_seconds
        * PRICE["snapstart_cache_gb_second"],
        f"alarms ({alarms})": alarms * PRICE["alarm"],
        "dashboard": PRICE["dashboard"],
        # 8,640 runs a month of about 0.3 s, and its traces.
        "the reconciler's schedule": 8640
        * (PRICE["lambda_request"] + 0.3 * LAMBDA_GB * PRICE["lambda_gb_second"] + PRICE["trace"]),
        f"backups of {table_gb:g} GB of tables, both regions, the plan filled ({copies:,.0f} copies each)": (
            2 * copies * table_gb * PRICE["backup_gb_month"] + 30.4 * table_gb * PRICE["backup_copy_gb"]
        ),
    }


def lifecycle_costs() -> list[LifecycleCost]:
    return [run_lifecycle(lifecycle) for lifecycle in LIFECYCLES]
