"""Fuzz the served API with schemathesis (`make fuzz`): `refund-local serve` on a free port of 127.0.0.1,
seeded with orders and tickets for a fuzz customer and a fuzz reviewer, then a schemathesis run over every
route of the OpenAPI document it serves (examples, coverage, fuzzing and stateful phases) as each kind of
caller:

- the customer, except the reviewers' route (evaluate), called as the reviewer: requests the customer
  files (their `Location`) are then read, evaluated and cancelled;
- the roles swapped: the reviewer on the customers' routes, the customer on the reviewers' route;
- a supervisor, a policy owner, and nobody signed in (no token), on every route.

Prints the number of calls (every HTTP exchange, from schemathesis's HAR report), the count of 5xx answers, of
schema failures (an undocumented status, or a body, content type or header the document does not declare) and
of the other checks' failures (unique failures, from its JSON report), and exits 1 on any, or when fewer than
MIN_CALLS calls were made. Bounded in time (about 4 minutes on 2 cores) and loopback only.

    .venv/bin/python scripts/fuzz.py [--seed N] [--max-examples N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from refund_local.events import claims_for
from refund_local.subprocess_server import ServerDidNotStart, serve_in_subprocess
from refund_local.tokens import make_token

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# No 5xx, and every answer as the document declares it.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
# Also: input the document forbids is refused, no call passes without a token, a method a path does not take
# is a 405 with Allow, and a request just created can be read. Left out: positive_data_acceptance (an opaque
# nextToken, a blank reason or a zero amount is schema-valid and rightly refused), and checks with nothing to
# act on here (no DELETE route, no required header, a single identity per run).
EXTRA_CHECKS = (
    "negative_data_rejection",
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
    "ensure_resource_availability",
)
SERVER_ERRORS = {"ServerError", "ContentTypeServerError"}
# The failures of the conformance checks: an answer the document does not describe.
SCHEMA_FAILURES = {
    "UndefinedStatusCode",
    "MissingContentType",
    "UndefinedContentType",
    "MalformedMediaType",
    "MissingHeaders",
    "JsonSchemaError",
    "MalformedJson",
    "ContentDeserializationError",
    "DiscriminatorMismatch",
}
MIN_CALLS = 2000
MAX_SECONDS_PER_RUN = 40
ORDER_SETS = 6
CUSTOMER = "fuzz-customer"
REVIEWER = "fuzz-reviewer"
EVALUATE = "/refund-requests/{requestId}/evaluate"


def _days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def _orders(username: str, first: int) -> list[dict[str, Any]]:
    """ORDER_SETS times four orders that the rules answer differently: a partial refund and a claim needing
    review (both left PENDING for a reviewer), a full refund and a refusal (decided at once). Each request
    uses one up (a second request for an order is a 409), hence several of each."""
    base = {"username": username, "amount": "59.99", "currency": "USD", "kind": "new", "servicePeriodDays": 365}
    base |= {"paymentState": "settled", "paymentChannel": "card"}
    usage = {"trafficBytes": 1_000_000_000, "connections": 12}
    kinds = [
        usage | {"orderedAt": _days_ago(40)},
        {"orderedAt": _days_ago(5)},
        usage | {"orderedAt": _days_ago(5)},
        usage | {"orderedAt": _days_ago(5), "paymentChannel": "apple_itunes"},
    ]
    return [
        base | kind | {"orderId": f"ord-{first + index}"}
        for index, kind in enumerate(kind for _ in range(ORDER_SETS) for kind in kinds)
    ]


def seed() -> dict[str, Any]:
    """The customer's first order is ord-1001 with ticket T-1001: the examples of the OpenAPI document."""
    orders = _orders(CUSTOMER, 1001) + _orders(REVIEWER, 2001)
    return {
        "customers": [
            {"username": name, "email": f"{name}@example.com", "blocks": [], "violations": []}
            for name in (CUSTOMER, REVIEWER)
        ],
        "orders": orders,
        "tickets": [
            {
                "ticketId": "T-" + order["orderId"].removeprefix("ord-"),
                "username": order["username"],
                "openedAt": _days_ago(2),
                "category": "technical",
                "officialResponse": "cannot_fix",
            }
            for order in orders
        ],
    }


def _toml(value: Any) -> str:
    """A TOML value for the strings, numbers, booleans, lists and tables this config uses (a JSON string is a
    valid TOML basic string)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(key)} = {_toml(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def config(base: str, everywhere: str | None, on_evaluate: str | None, data: dict[str, Any]) -> str:
    """A schemathesis config: `everywhere` is the bearer token of every call but evaluate's, `on_evaluate`
    evaluate's (None: no token). Seeded order and ticket ids replace half the generated ones, so that calls get
    past 404."""
    orders = [order["orderId"] for order in data["orders"]]
    tickets = [ticket["ticketId"] for ticket in data["tickets"]]
    lines = [
        f"base-url = {_toml(base)}",
        f"headers = {_toml(_bearer(everywhere))}",
        "[generation]",
        # The token is set above: a generated Authorization value would only test the runner's 401.
        "with-security-parameters = false",
        "[dictionaries.orders]",
        f"values = {_toml(orders)}",
        "[dictionaries.tickets]",
        f"values = {_toml(tickets)}",
        "[parameters]",
        f"{_toml('body.orderId')} = {_toml({'dictionary': 'orders', 'probability': 0.5})}",
        f"{_toml('body.supportTicketId')} = {_toml({'dictionary': 'tickets', 'probability': 0.5})}",
        "[[operations]]",
        f"include-path = {_toml(EVALUATE)}",
        f"headers = {_toml(_bearer(on_evaluate))}",
    ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def running_server(directory: Path, data: dict[str, Any]) -> Iterator[str]:
    """`refund-local serve` on a free port of 127.0.0.1 with `data` as its seed; yields its base URL."""
    try:
        with serve_in_subprocess(directory, data) as base:
            yield base
    except ServerDidNotStart as error:
        raise SystemExit(str(error)) from error


@dataclass
class RunResult:
    name: str
    exit_code: int
    statuses: Counter[int]
    server_errors: int
    schema_failures: dict[str, int]
    other_failures: dict[str, int]
    errors: list[str]
    seconds: float

    @property
    def calls(self) -> int:
        return sum(self.statuses.values())


def fuzz(name: str, base: str, config_text: str, directory: Path, seed_value: int, max_examples: int) -> RunResult:
    """One schemathesis run; its figures read from its HAR (every call it made) and JSON reports."""
    run_dir = directory / name
    run_dir.mkdir()
    (run_dir / "schemathesis.toml").write_text(config_text, encoding="utf-8")
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(run_dir / "schemathesis.toml"),
        "--no-color",
        "run",
        base + "/openapi.json",
        "--checks",
        ",".join(CHECKS + EXTRA_CHECKS),
        "--max-examples",
        str(max_examples),
        "--max-time",
        str(MAX_SECONDS_PER_RUN),
        "--seed",
        str(seed_value),
        "--report",
        "json,har",
        "--report-json-path",
        str(run_dir / "report.json"),
        "--report-har-path",
        str(run_dir / "calls.har"),
    ]
    started = time.monotonic()
    with (run_dir / "schemathesis.txt").open("wb") as output:
        exit_code = subprocess.call(command, cwd=run_dir, stdout=output, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    entries = json.loads((run_dir / "calls.har").read_text(encoding="utf-8"))["log"]["entries"]
    statuses = Counter(int(entry["response"]["status"]) for entry in entries)
    failures = [group for group in report["failures"] if group["type"] not in SERVER_ERRORS]
    return RunResult(
        name=name,
        exit_code=exit_code,
        statuses=statuses,
        server_errors=sum(count for status, count in statuses.items() if status >= 500),
        schema_failures={group["title"]: group["count"] for group in failures if group["type"] in SCHEMA_FAILURES},
        other_failures={group["title"]: group["count"] for group in failures if group["type"] not in SCHEMA_FAILURES},
        errors=[f"{error['title']} ({error['count']})" for error in report["errors"]],
        seconds=seconds,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=random.randrange(2**32), help="replay a run with its seed")
    parser.add_argument("--max-examples", type=int, default=100, help="test cases per operation and phase")
    parser.add_argument("--keep", type=Path, help="keep the reports and the server log in this directory")
    args = parser.parse_args()
    customer = make_token(claims_for(CUSTOMER))
    reviewer = make_token(claims_for(REVIEWER, reviewer=True))
    supervisor = make_token(claims_for("fuzz-supervisor", supervisor=True))
    policy_owner = make_token(claims_for("fuzz-policy-owner", policy_owner=True))
    callers = {
        "customer": (customer, reviewer),
        "reviewer": (reviewer, customer),
        "supervisor": (supervisor, supervisor),
        "policy-owner": (policy_owner, policy_owner),
        "nobody": (None, None),
    }
    directory = Path(tempfile.mkdtemp(prefix="refund-fuzz-"))
    data = seed()
    started = time.monotonic()
    try:
        with running_server(directory, data) as base:
            results = [
                fuzz(name, base, config(base, *tokens, data), directory, args.seed, args.max_examples)
                for name, tokens in callers.items()
            ]
        seconds = time.monotonic() - started
        calls = sum(result.calls for result in results)
        server_errors = sum(result.server_errors for result in results)
        schema_failures = sum(sum(result.schema_failures.values()) for result in results)
        other_failures = sum(sum(result.other_failures.values()) for result in results)
        for result in results:
            statuses = ", ".join(f"{status}: {count}" for status, count in sorted(result.statuses.items()))
            print(f"{result.name} run: {result.calls} calls in {result.seconds:.0f} s ({statuses})")
            for kind, failures in (("schema", result.schema_failures), ("other", result.other_failures)):
                for title, count in failures.items():
                    print(f"  {kind} failure: {title} ({count})")
            for error in result.errors:
                print(f"  schemathesis error: {error}")
        print(
            f"fuzz: {calls} calls, {server_errors} 5xx, {schema_failures} schema failures, "
            f"{other_failures} other check failures in {seconds:.0f} s (seed {args.seed})"
        )
        failed = [result for result in results if result.exit_code or result.errors]
        ok = not failed and server_errors == schema_failures == other_failures == 0 and calls >= MIN_CALLS
        if not ok:
            for result in failed:
                print((directory / result.name / "schemathesis.txt").read_text(encoding="utf-8")[-20_000:])
            if calls < MIN_CALLS:
                print(f"fewer than {MIN_CALLS} calls: raise --max-examples")
            print(f"replay with: .venv/bin/python scripts/fuzz.py --seed {args.seed} --keep DIR")
        return 0 if ok else 1
    finally:
        if args.keep:
            shutil.copytree(directory, args.keep, dirs_exist_ok=True)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
