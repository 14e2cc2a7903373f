"""Cold starts as Lambda has them, for `make bench`: every function's handler in a fresh process, with the
environment template.yaml gives it and tracing on as in Lambda (AWS_LAMBDA_FUNCTION_NAME, LAMBDA_TASK_ROOT and a
sampled _X_AMZN_TRACE_ID: Powertools' Tracer and the X-Ray SDK do all their work; the segments go by UDP to a
daemon address nothing listens on), against moto's server in this process, seeded with customers, orders and
pending requests. Two halves, each the child's own CPU time (the emulator's work is this process's, as
DynamoDB's is not the function's): init, importing the handler's module; and its first invocation, with a real
event (a new claim, a pending request read, assessed or cancelled, a stream record, a delivery, ...).

The baseline is the least a function can do: `import boto3; boto3.client("dynamodb")`, then one GetItem. Runs
alternate function and baseline, so that drift in the machine's speed hits both alike; each half is the median
of RUNS. Last, the floor (scripts/cold_start_floor.py): the stack the API functions are built on, Powertools'
REST resolver with validation, Logger and Tracer, around that one GetItem and none of the service's code."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bench_load

from refund_local.emulator import Emulator
from refund_local.events import api_event, claims_for
from refund_local.provision import function_environment, functions, load_template, provision
from refund_local.seed import parse_seed, write_seed
from refund_local.server import LOCAL_PARAMETERS

REPO = Path(__file__).resolve().parents[1]
EVENTS = REPO / "events"
FLOOR = REPO / "scripts" / "cold_start_floor.py"
FLOOR_NAME = "floor (Powertools' resolver, Logger, Tracer, one GetItem)"
RUNS = 5
PLACEHOLDER = "rr_01JD0000000000000000000000"  # the request id of events/queue_*.json
STREAM_REQUEST = "rr_01KB4Q7M2X9T3V8E6R5W1Z0H4N"  # the request of events/stream_insert_pending.json
RECORDS_ORDER, RECORDS_EVENT = "ord-2002", "7c1b4f2e-0a9d-4e6b-8f3a-2d5c6b7a8e9f"  # queue_records_order_placed
# What the python3.12 runtime has on its own path (/var/runtime), found here in the venv.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3",
                    "snapshot_restore_py.py")  # fmt: skip
BUILD_PARAMETERS = {
    "WebAppDomainName": "refunds.example.com",
    "WebAppCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/bench-only",
}
TRACE_ID = "Root=1-6751a3c0-5f3c2a1b9d8e7f6a5b4c3d2e;Parent=53995c3f42cd8ad8;Sampled=1"

# Each child runs as Lambda lays it out: `python -I -S`, then sys.path as the python3.12 runtime sets it (the
# function's own folder, the layer's python/, the runtime's own packages), from what `sam build` produced.
_PRELUDE = """
import sys
sys.path[:0] = {paths!r}
"""
_CHILD = (
    _PRELUDE
    + """
import importlib.util, json, time
from types import SimpleNamespace
started = time.process_time()
spec = importlib.util.spec_from_file_location("app", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
loaded = time.process_time()
if {restore!r}:
    # SnapStart, as Lambda runs it: the hooks before the snapshot, then (in a copy, later) those after a restore;
    # only the first call after that is timed.
    import snapshot_restore_py
    for hook, args, kwargs in snapshot_restore_py.get_before_snapshot():
        hook(*args, **kwargs)
    for hook, args, kwargs in snapshot_restore_py.get_after_restore():
        hook(*args, **kwargs)
    # A copy is restored long after its snapshot: the policy read while priming has expired by then, and the first
    # call reads it again. (Waiting for it to expire would time a CPU left idle meanwhile: slower clocks and cold
    # caches took three times the CPU time here.)
    from refund_core.adapters import policy_store
    policy_store._provider().clear_cache()
    loaded = time.process_time()
context = SimpleNamespace(function_name={name!r}, memory_limit_in_mb=512, aws_request_id="cold-start",
    invoked_function_arn="arn:aws:lambda:ap-southeast-1:123456789012:function:{name}",
    get_remaining_time_in_millis=lambda: 30000)
answer = getattr(module, {handler!r})(json.loads(sys.stdin.read()), context)
invoked = time.process_time()
print(json.dumps({{"init": loaded - started, "first_call": invoked - loaded, "answer": answer}}, default=str))
"""
)
_BASELINE = (
    _PRELUDE
    + """
import json, time
started = time.process_time()
import boto3
client = boto3.client("dynamodb")
loaded = time.process_time()
client.get_item(TableName={table!r}, Key={{"pk": {{"S": "REQUEST#none"}}, "sk": {{"S": "REQUEST"}}}})
invoked = time.process_time()
print(json.dumps({{"init": loaded - started, "first_call": invoked - loaded, "answer": None}}))
"""
)


@dataclass(frozen=True)
class ColdStart:
    function: str
    init_ms: float
    first_call_ms: float
    baseline_init_ms: float
    baseline_first_call_ms: float
    # SnapStart's functions: the first call in a copy restored from a primed snapshot.
    restored_first_call_ms: float | None = None

    @property
    def ratio(self) -> float:
        return (self.init_ms + self.first_call_ms) / (self.baseline_init_ms + self.baseline_first_call_ms)


def _child(script: str, environment: dict[str, str], event: dict[str, Any] | None) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        cwd=REPO,
    )
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


@dataclass(frozen=True)
class _Deployed:
    """What `sam build` produced for this machine's instruction set, and a stand-in for the runtime's own
    packages (Lambda's python3.12 ships boto3, botocore and their dependencies, and snapshot_restore_py)."""

    build: Path
    runtime: Path

    def function_paths(self, function: str) -> list[str]:
        return [str(self.build / function), str(self.build / "RefundCoreLayer" / "python"), str(self.runtime)]


def _deployed() -> _Deployed:
    build, runtime = REPO / ".aws-sam" / "bench-build", REPO / ".aws-sam" / "bench-runtime"
    architecture = {"x86_64": "x86_64", "aarch64": "arm64"}[platform.machine()]
    subprocess.run(
        [str(REPO / ".venv-tools" / "bin" / "sam"), "build", "--template", str(REPO / "template.yaml"),
         "--build-dir", str(build), "--parameter-overrides", f"Architecture={architecture}",
         *(f"{name}={value}" for name, value in BUILD_PARAMETERS.items())],
        check=True, capture_output=True, cwd=REPO,
        env={**os.environ, "LAYER_ARCHITECTURE": architecture,
             "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    shutil.rmtree(runtime, ignore_errors=True)
    runtime.mkdir(parents=True)
    installed = Path(sysconfig.get_paths()["purelib"])
    for package in RUNTIME_PACKAGES:
        (runtime / package).symlink_to(installed / package)
    return _Deployed(build, runtime)


def _event_file(name: str, replacements: dict[str, str]) -> dict[str, Any]:
    """An events/ file with its ids replaced by fresh ones: each run does the work of a new event, not a repeat's."""
    text = (EVENTS / name).read_text(encoding="utf-8")
    for old, new in replacements.items():
        text = text.replace(old, new)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _failed(answer: Any) -> bool:
    """An API answer of 4xx or 5xx, or a batch with a failed item: a run that did not do the work it times."""
    if not isinstance(answer, dict):
        return False
    return int(answer.get("statusCode", 200)) >= 400 or bool(answer.get("batchItemFailures"))


class _World:
    """The seeded emulator: a fresh customer (with an order and a ticket) per submit, a pending request per
    call that changes one."""

    def __init__(self) -> None:
        self.claims = iter(bench_load._claims("cold", 1000, lambda _: True))

    @staticmethod
    def new_request_id() -> str:
        from refund_core.app.claims import new_request_id  # noqa: PLC0415 - the environment points at the emulator

        return new_request_id(datetime.now(UTC))

    def fresh_claim(self) -> bench_load.Claim:
        return next(self.claims)

    def pending_request(self) -> tuple[str, str]:
        from refund_core.app import claims  # noqa: PLC0415 - the environment points at the emulator by now
        from refund_core.app.inputs import SubmitRefundRequest  # noqa: PLC0415
        from refund_core.http.identity import Caller  # noqa: PLC0415

        claim = self.fresh_claim()
        caller = Caller(username=claim.username, email=f"{claim.username}@example.com", groups=frozenset())
        command = SubmitRefundRequest(
            order_id=claim.order_id, reason=bench_load.REASON, support_ticket_id=claim.ticket_id
        )
        request = claims.submit_refund_request(caller, command)
        return request.request_id, claim.username


def _events(world: _World) -> dict[str, Callable[[], dict[str, Any]]]:
    """Per function, a maker of the event of one real first invocation."""
    reviewer = claims_for("rita", reviewer=True)

    def submit() -> dict[str, Any]:
        claim = world.fresh_claim()
        body = {"orderId": claim.order_id, "reason": bench_load.REASON, "supportTicketId": claim.ticket_id}
        return api_event("POST", "/refund-requests", "/refund-requests", body=body, claims=claims_for(claim.username))

    def on_request(method: str, suffix: str, by_reviewer: bool, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id, username = world.pending_request()
        return api_event(
            method, f"/refund-requests/{{requestId}}{suffix}", f"/refund-requests/{request_id}{suffix}",
            path_parameters={"requestId": request_id}, body=body,
            claims=reviewer if by_reviewer else claims_for(username),
        )  # fmt: skip

    today = datetime.now(UTC).date()
    month = {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}
    supervisor, owner = claims_for("sam", supervisor=True), claims_for("olive", policy_owner=True)
    return {
        "SubmitFunction": submit,
        "ReadFunction": lambda: on_request("GET", "", False),
        "EvaluateFunction": lambda: on_request("POST", "/evaluate", True, {"action": "assess"}),
        "CancelFunction": lambda: on_request("POST", "/cancel", False),
        "NotifierFunction": lambda: _event_file("stream_insert_pending.json", {STREAM_REQUEST: world.new_request_id()}),
        "OutboxFunction": lambda: _event_file(
            "queue_delivery_acknowledgement.json", {PLACEHOLDER: world.pending_request()[0]}
        ),
        "ReconcilerFunction": lambda: _event_file("schedule_reconcile.json", {}),
        "RecordsFunction": lambda: _event_file(
            "queue_records_order_placed.json",
            {RECORDS_ORDER: f"ord-{uuid.uuid4().hex[:12]}", RECORDS_EVENT: str(uuid.uuid4())},
        ),
        "ReportsFunction": lambda: api_event("GET", "/reports/sla", "/reports/sla", claims=supervisor, query=month),
        "PolicyFunction": lambda: api_event("GET", "/policy", "/policy", claims=owner),
    }


@contextmanager
def _emulated() -> Iterator[tuple[Emulator, Any]]:
    emulator = Emulator()
    emulator.start()
    saved = dict(os.environ)
    try:
        stack = provision(load_template(), emulator.client)
        os.environ.update(emulator.environment() | stack.environment)
        yield emulator, stack
    finally:
        os.environ.clear()
        os.environ.update(saved)
        emulator.stop()


def run(runs: int = RUNS) -> list[ColdStart]:
    template = load_template()
    deployed = _deployed()
    results = []
    with _emulated() as (emulator, stack):
        world = _World()
        write_seed(parse_seed(bench_load._seed(bench_load._claims("cold", 1000, lambda _: True))))
        makers = _events(world)
        lambda_environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            **emulator.environment(),
            "_X_AMZN_TRACE_ID": TRACE_ID,
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
        baseline_script = _BASELINE.format(paths=[str(deployed.runtime)], table=stack.table_names["RequestsTable"])

        def first_calls(
            name: str, script: str, environment: dict[str, str], event: Callable[[], Any], count: int = runs
        ) -> list[Any]:
            runs_of_script = []
            for _ in range(count):
                run = _child(script, environment, event())
                if _failed(run["answer"]):
                    raise SystemExit(f"bench: {name}'s first invocation failed: {str(run['answer'])[:300]}")
                runs_of_script.append(run)
            return runs_of_script

        def measure(
            name: str, script: str, environment: dict[str, str], event: Callable[[], dict[str, Any]]
        ) -> ColdStart:
            """`runs` fresh processes of `script`, each followed by one of the baseline; the medians of each half."""
            measured, baseline = [], []
            for _ in range(runs):
                measured += first_calls(name, script, environment, event, count=1)
                baseline.append(_child(baseline_script, lambda_environment, None))
            return ColdStart(
                name,
                statistics.median(run["init"] for run in measured) * 1000,
                statistics.median(run["first_call"] for run in measured) * 1000,
                statistics.median(run["init"] for run in baseline) * 1000,
                statistics.median(run["first_call"] for run in baseline) * 1000,
            )

        for function in functions(template):
            if function.name not in makers:
                continue
            module, _, handler = function.handler.rpartition(".")
            environment = (
                lambda_environment
                | function_environment(template, stack.refs, function=function.name, parameters=LOCAL_PARAMETERS)
                | {
                    "AWS_LAMBDA_FUNCTION_NAME": function.name,
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
                    "LAMBDA_TASK_ROOT": str(deployed.build / function.name),
                }
            )
            name, paths = function.name.removesuffix("Function").lower(), deployed.function_paths(function.name)
            path = deployed.build / function.name / f"{module}.py"
            script = _CHILD.format(paths=paths, path=str(path), name=function.name, handler=handler, restore=False)
            cold = measure(name, script, environment, makers[function.name])
            if "SnapStart" in template["Resources"][function.name]["Properties"]:
                restored = _CHILD.format(paths=paths, path=str(path), name=function.name, handler=handler, restore=True)
                after = first_calls(name, restored, environment, makers[function.name])
                cold = replace(
                    cold, restored_first_call_ms=statistics.median(run["first_call"] for run in after) * 1000
                )
            results.append(cold)
        floor_environment = lambda_environment | {
            "AWS_LAMBDA_FUNCTION_NAME": "ColdStartFloor",
            "POWERTOOLS_SERVICE_NAME": "cold-start-floor",
            "TABLE": stack.table_names["RequestsTable"],
        }
        floor_paths = [str(FLOOR.parent), str(deployed.build / "RefundCoreLayer" / "python"), str(deployed.runtime)]
        floor_script = _CHILD.format(
            paths=floor_paths, path=str(FLOOR), name="ColdStartFloor", handler="lambda_handler", restore=False
        )

        def floor_event() -> dict[str, Any]:
            body = {"orderId": world.fresh_claim().order_id, "reason": "r"}
            return api_event("POST", "/refund-requests", "/refund-requests", body=body)

        results.append(measure(FLOOR_NAME, floor_script, floor_environment, floor_event))
    return results
