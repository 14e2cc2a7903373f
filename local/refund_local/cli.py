"""refund-local: the refund service on one machine, with no AWS account and no Docker.

    refund-local serve [--host 127.0.0.1] [--port 3000] [--seed FILE] [--review-window-seconds N]
                       [--data-dir DIR [--reset]] [--workers N] [--schedules-every-seconds N] [--cold-starts]
                       [--verbose]
    refund-local token USER [--reviewer] [--supervisor] [--policy-owner] [--finance] [--email ADDR]

See docs/local-runner.md; the operators' commands (deploy-web, load-events) are refund-ops'."""

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
# Locally the reconciler runs every 10 s, not every 5 minutes: a payout sent is asked about after 5 s
# (refund_local.processor), so that one sees it turn PAID while watching.
LOCAL_SCHEDULE_SECONDS = 10.0


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
    serve.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="keep the state (requests, emails, records...) in DIR across restarts; without it, all is in memory",
    )
    serve.add_argument("--reset", action="store_true", help="with --data-dir: empty DIR first")
    serve.add_argument(
        "--schedules-every-seconds",
        type=float,
        default=LOCAL_SCHEDULE_SECONDS,
        metavar="N",
        help="run the scheduled functions (the outbox's reconciler, which also asks the card processor about "
        f"payouts sent without news) every N seconds instead of their rate (default {LOCAL_SCHEDULE_SECONDS:g})",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=4,
        metavar="N",
        help="at most N execution environments (worker processes) per function (default 4)",
    )
    serve.add_argument(
        "--cold-starts",
        action="store_true",
        help="start no worker before its function's first invocation, as Lambda without provisioned concurrency "
        "(default: one worker per function warmed up before serving)",
    )
    serve.add_argument("--verbose", action="store_true", help="show the handlers' own INFO logs (JSON)")
    token = commands.add_parser("token", help="print a bearer token for the local API (unsigned, local only)")
    token.add_argument("user", help="the cognito:username claim")
    token.add_argument("--reviewer", action="store_true", help="in the refund-reviewers group")
    token.add_argument("--supervisor", action="store_true", help="in the refund-supervisors group")
    token.add_argument("--policy-owner", action="store_true", help="in the refund-policy-owners group")
    token.add_argument("--finance", action="store_true", help="in the refund-finance group (payouts)")
    token.add_argument("--email", help="the email claim (default USER@example.com)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "token":
        claims = claims_for(
            args.user,
            reviewer=args.reviewer,
            supervisor=args.supervisor,
            policy_owner=args.policy_owner,
            finance=args.finance,
            email=args.email,
        )
        print(make_token(claims))
        return 0
    if args.review_window_seconds is not None and args.review_window_seconds <= 0:
        print("refund-local: --review-window-seconds must be a positive number of seconds", file=sys.stderr)
        return 2
    if args.reset and args.data_dir is None:
        print("refund-local: --reset empties the --data-dir; name one", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("refund-local: --workers must be at least 1", file=sys.stderr)
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
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(message)s", datefmt="%H:%M:%S"))
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
    from refund_local.seed import SeedError, load_seed_file, write_seed  # noqa: PLC0415
    from refund_local.server import LocalRunner, RunnerOptions, http_server  # noqa: PLC0415
    from refund_local.state import IncompatibleState  # noqa: PLC0415

    try:
        seed = load_seed_file(args.seed) if args.seed else demo_seed(datetime.now(UTC))
    except SeedError as error:
        print(f"refund-local: the seed file {error.source} cannot be loaded:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    options = RunnerOptions(
        review_window_seconds=args.review_window_seconds,
        data_dir=args.data_dir,
        reset=args.reset,
        max_workers=args.workers,
        warm_up=not args.cold_starts,
        verbose=args.verbose,
        schedules_every_seconds=args.schedules_every_seconds,
        powertools_environment=environment,
        # What the emails' Control Panel link opens: this machine's own address when serving on all of them.
        base_url=f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}",  # noqa: S104
    )
    runner = LocalRunner(template, options)
    try:
        runner.open_state()
    except IncompatibleState as error:
        print(f"refund-local: {error}", file=sys.stderr)
        return 2
    try:
        httpd = http_server(args.host, args.port, runner)
    except OSError as error:
        print(f"refund-local: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1

    def write(restored: bool) -> None:
        # Into a kept state, only a named seed file (upserted); the demo data only into an empty one.
        if args.seed or not restored:
            write_seed(seed)

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    serving = threading.Thread(target=httpd.serve_forever, name="http", daemon=True)
    try:
        runner.start(write)
        serving.start()
        print(_banner(args, template, seed, runner.restored, time.perf_counter() - started), flush=True)
        while not stopping.wait(0.5):
            pass
        log.info("stopping")
    finally:
        if serving.is_alive():
            httpd.shutdown()
        httpd.server_close()
        runner.stop()
    return 0


def _variable(username: str) -> str:
    return "TOKEN_" + re.sub(r"[^A-Za-z0-9]", "_", username).upper()


def _seeded_tour(base: str, seed: Seed) -> list[str]:
    """For a seed file: its first order's claim, read, and approved by a reviewer."""
    if not seed.orders:
        return []
    first = seed.orders[0]
    ticket = next((item.ticket_id for item in seed.tickets if item.username == first.username), "TICKET_ID")
    user = _variable(first.username)
    body = json.dumps(
        {"orderId": first.order_id, "reason": "The VPN drops every few minutes", "supportTicketId": ticket}
    )
    return [
        f"B={base}",
        f"export {user}=$(.venv/bin/refund-local token {first.username})",
        f'RID=$(curl -s -X POST $B/refund-requests -H "Authorization: Bearer ${user}" '
        f"-H \"Content-Type: application/json\" -d '{body}' | jq -r .requestId)",
        f'curl -s $B/refund-requests/$RID -H "Authorization: Bearer ${user}" | jq .',
        f"export TOKEN_REVIEWER=$(.venv/bin/refund-local token {REVIEWER_FOR_SEEDED_DATA} --reviewer)",
        'curl -s -X POST $B/refund-requests/$RID/evaluate -H "Authorization: Bearer $TOKEN_REVIEWER" '
        '-H "Content-Type: application/json" -d \'{"action": "assess"}\' | jq .assessment',
        "curl -s $B/_local/outbox | jq '.messages[] | {to, subject, htmlUrl}'",
    ]


def _banner(args: argparse.Namespace, template: Template, seed: Seed, restored: bool, seconds: float) -> str:
    from refund_local.demo import DEMO_CLAIMS, REVIEWER, quick_tour  # noqa: PLC0415 - imports refund_core

    base = f"http://{args.host}:{args.port}"
    window = f"{args.review_window_seconds} s" if args.review_window_seconds else "10 working days (Hong Kong)"
    state = (
        f"kept in {args.data_dir} ({'restored' if restored else 'new'}; --reset empties it)"
        if args.data_dir
        else "in memory (gone when it stops; --data-dir DIR keeps it)"
    )
    lines = [
        f"refund-local serving {base} (ready in {seconds:.1f} s; AWS emulated by moto's server in this process)",
        f"  web app: {base}/ (Control Panel, review queue, service levels; local sign-in, no password)",
        f"  review window: {window}",
        f"  state: {state}",
        f"  functions: each in up to {args.workers} worker processes of its own, as Lambda runs them",
        "  API: " + "  ".join(f"{route.method} {route.path}" for route in api_routes(template)),
        "  local, no token: GET /_local/outbox   GET /openapi.json   GET /docs   POST /_local/sign-in   POST /_local/inbox (a letter)",
    ]
    if args.seed:
        lines.append(f"Data from {args.seed} (username: orders; tickets)")
        for customer in seed.customers:
            name = customer.username
            orders = ", ".join(order.order_id for order in seed.orders if order.username == name) or "-"
            tickets = ", ".join(ticket.ticket_id for ticket in seed.tickets if ticket.username == name) or "-"
            lines.append(f"  {name}: {orders}; {tickets}")
        lines.append(f"Reviewer: {REVIEWER_FOR_SEEDED_DATA} (refund-local token USER [--reviewer] makes tokens)")
        tour = _seeded_tour(base, seed)
    else:
        lines.append("Demo data (username, order, ticket to cite: outcome, status after submitting, why)")
        lines.extend(
            f"  {c.username:<6} {c.order_id}  {c.ticket_id}  {c.outcome}, {c.status}: {c.why}" for c in DEMO_CLAIMS
        )
        lines.append(f"Reviewer: {REVIEWER} (refund-local token USER [--reviewer] makes tokens)")
        if restored:
            lines.append("(The state is restored: run the tour afresh with --reset.)")
        tour = quick_tour(base)
    if tour:
        lines.append("Quick tour (in another shell, from the repo; needs curl and jq; docs/local-runner.md):")
        lines.extend(f"  {line}" for line in tour)
    return "\n".join([*lines, "Ctrl-C stops it."])
