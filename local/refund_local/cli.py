"""refund-local: the refund service on one machine, with no AWS account and no Docker.

    refund-local serve [--host 127.0.0.1] [--port 3000] [--seed FILE] [--review-window-seconds N] [--verbose]
    refund-local token USER [--reviewer] [--email ADDR]

See docs/local-runner.md."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from refund_local.events import claims_for
from refund_local.provision import Template, api_routes, load_template
from refund_local.tokens import make_token

if TYPE_CHECKING:
    from refund_local.seed import Seed

log = logging.getLogger("refund_local")
REVIEWER_FOR_SEEDED_DATA = "reviewer"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="refund-local", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API, with emulated AWS, on this machine")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument(
        "--seed", type=Path, metavar="FILE", help="customers, orders and tickets to load (API.md format)"
    )
    serve.add_argument(
        "--review-window-seconds",
        type=int,
        metavar="N",
        help="replace the 10 working days of review by N seconds (the reminder comes at 0.8 N)",
    )
    serve.add_argument("--verbose", action="store_true", help="show the handlers' own INFO logs (JSON)")
    token = commands.add_parser("token", help="print a bearer token for the local API (unsigned, local only)")
    token.add_argument("user", help="the cognito:username claim")
    token.add_argument("--reviewer", action="store_true", help="in the refund-reviewers group")
    token.add_argument("--email", help="the email claim (default USER@example.com)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "token":
        print(make_token(claims_for(args.user, reviewer=args.reviewer, email=args.email)))
        return 0
    if args.review_window_seconds is not None and args.review_window_seconds <= 0:
        print("refund-local: --review-window-seconds must be a positive number of seconds", file=sys.stderr)
        return 2
    code = serve(args)
    # Everything is stopped; what is left is moto's state in memory, which the interpreter's own teardown
    # would take a second or two to free, one object at a time.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _powertools_environment(template: Template, verbose: bool) -> dict[str, str]:
    """Powertools reads these when refund_core makes its Logger and Metrics, at import: they are set before.
    JSON logs at WARNING unless --verbose keep the console readable; no metrics locally."""
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    names = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE")
    return {
        **{name: str(variables[name]) for name in names if isinstance(variables.get(name), str)},
        "POWERTOOLS_LOG_LEVEL": "INFO" if verbose else os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
    }


def _configure_console() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    # Printed once per process by Powertools for every invocation that adds no metric (reads, say).
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def serve(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    template = load_template()
    environment = _powertools_environment(template, args.verbose)
    os.environ.update(environment)
    _configure_console()
    # Imported only now: importing refund_core makes Powertools' Logger and Metrics from the environment.
    from refund_local.demo import demo_seed  # noqa: PLC0415
    from refund_local.seed import SeedError, load_seed_file  # noqa: PLC0415
    from refund_local.server import LocalHttpServer, LocalRunner  # noqa: PLC0415

    try:
        seed = load_seed_file(args.seed) if args.seed else demo_seed(datetime.now(UTC))
    except SeedError as error:
        print(f"refund-local: the seed file {error.source} cannot be loaded:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    runner = LocalRunner(seed, args.review_window_seconds)
    try:
        httpd = LocalHttpServer((args.host, args.port), runner)
    except OSError as error:
        print(f"refund-local: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        runner.start(environment)
        threading.Thread(target=httpd.serve_forever, name="http", daemon=True).start()
        print(_banner(args, template, seed, time.perf_counter() - started), flush=True)
        while not stopping.wait(0.5):
            pass
        log.info("stopping")
    finally:
        httpd.shutdown()
        httpd.server_close()
        runner.stop()
    return 0


def _variable(username: str) -> str:
    return "TOKEN_" + re.sub(r"[^A-Za-z0-9]", "_", username).upper()


@dataclass(frozen=True)
class _Claim:
    username: str
    order_id: str
    ticket_id: str


def _submit(base: str, claim: _Claim) -> str:
    body = json.dumps(
        {"orderId": claim.order_id, "reason": "The VPN drops every few minutes", "supportTicketId": claim.ticket_id}
    )
    return (
        f'curl -s -X POST {base}/refund-requests -H "Authorization: Bearer ${_variable(claim.username)}"'
        f" -H 'Content-Type: application/json' -d '{body}' | jq -r .requestId"
    )


def _tour(base: str, claim: _Claim, reviewer: str, approval: dict[str, str], cancel: _Claim | None) -> list[str]:
    """The quick tour's curl lines (jq only picks the request id)."""
    user, staff = f"${_variable(claim.username)}", f"${_variable(reviewer)}"
    lines = [
        "Quick tour (docs/local-runner.md walks through it):",
        f"  RID=$({_submit(base, claim)})",
        f'  curl -s {base}/refund-requests/$RID -H "Authorization: Bearer {user}"',
        f"  curl -s '{base}/refund-requests?status=PENDING' -H \"Authorization: Bearer {staff}\"",
        f'  curl -s -X POST {base}/refund-requests/$RID/evaluate -H "Authorization: Bearer {staff}"'
        f" -H 'Content-Type: application/json' -d '{json.dumps(approval)}'",
    ]
    if cancel is not None:
        lines += [
            f"  CANCEL_RID=$({_submit(base, cancel)})",
            f'  curl -s -X POST {base}/refund-requests/$CANCEL_RID/cancel -H "Authorization: Bearer ${_variable(cancel.username)}"',
        ]
    return [*lines, f"  curl -s {base}/_local/outbox"]


def _banner(args: argparse.Namespace, template: Template, seed: Seed, seconds: float) -> str:
    from refund_local.demo import DEMO_CLAIMS, REVIEWER  # noqa: PLC0415 - imports refund_core

    base = f"http://{args.host}:{args.port}"
    window = f"{args.review_window_seconds} s" if args.review_window_seconds else "10 working days (Hong Kong)"
    lines = [
        f"refund-local serving {base} (ready in {seconds:.1f} s; AWS emulated in-process by moto)",
        f"  review window: {window}",
        "  API: " + "  ".join(f"{route.method} {route.path}" for route in api_routes(template)),
        "  local, no token: GET /_local/outbox   GET /openapi.json   GET /docs",
    ]
    tour: list[str] = []
    if args.seed:
        reviewer = REVIEWER_FOR_SEEDED_DATA
        usernames = [customer.username for customer in seed.customers]
        lines.append(f"Data from {args.seed} (username: orders; tickets)")
        for name in usernames:
            orders = ", ".join(order.order_id for order in seed.orders if order.username == name) or "-"
            tickets = ", ".join(ticket.ticket_id for ticket in seed.tickets if ticket.username == name) or "-"
            lines.append(f"  {name}: {orders}; {tickets}")
        if seed.orders:
            first = seed.orders[0]
            ticket = next((item.ticket_id for item in seed.tickets if item.username == first.username), "TICKET_ID")
            claim = _Claim(first.username, first.order_id, ticket)
            tour = _tour(base, claim, reviewer, {"action": "approve", "note": "Checked with support"}, None)
    else:
        reviewer = REVIEWER
        usernames = [claim.username for claim in DEMO_CLAIMS]
        lines.append("Demo data (username, order, ticket to cite: outcome, status after submitting, why)")
        lines.extend(
            f"  {c.username:<6} {c.order_id}  {c.ticket_id}  {c.outcome}, {c.status}: {c.why}" for c in DEMO_CLAIMS
        )
        bob, erin = _Claim("bob", "ord-2001", "T-2001"), _Claim("erin", "ord-5001", "T-5001")
        approval = {"action": "approve", "amount": "80.00", "note": "Less the 40 days used"}
        tour = _tour(base, bob, reviewer, approval, erin)
    lines.append("Tokens (refund-local token USER [--reviewer] makes others):")
    lines.extend(f"  export {_variable(name)}='{make_token(claims_for(name))}'" for name in usernames)
    lines.append(f"  export {_variable(reviewer)}='{make_token(claims_for(reviewer, reviewer=True))}'  # reviewer")
    return "\n".join([*lines, *tour, "Ctrl-C stops it."])
