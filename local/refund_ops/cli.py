"""`refund-ops`: the operators' commands against a deployed stack (or a running `refund-local serve`): the web
app into its bucket, and records events from a file onto the bus.

    refund-ops load-events FILE (--url URL | --event-bus NAME [--region R] | --check-only) [--from-line N]
    refund-ops deploy-web --stack NAME [--region R] [--client-id ID]"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="refund-ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser(
        "load-events", help="a JSON Lines file of records events onto the local stack or a deployed stack's bus"
    )
    load.add_argument("file", type=Path, help='one {"source", "detail-type", "detail"} a line (RECORDS.md)')
    where = load.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running refund-local serve, e.g. http://127.0.0.1:3000")
    where.add_argument("--event-bus", metavar="NAME", help="a deployed stack's bus (its EventBusName output)")
    where.add_argument("--check-only", action="store_true", help="validate every line, send nothing")
    load.add_argument("--region", default="ap-southeast-1", help="the deployed stack's region (with --event-bus)")
    load.add_argument("--from-line", type=int, default=1, metavar="N", help="start at line N (resume a run)")
    web = commands.add_parser("deploy-web", help="the web app into a deployed stack's bucket, then invalidate")
    web.add_argument("--stack", required=True, help="the deployed stack's name")
    web.add_argument("--region", default="ap-southeast-1", help="the stack's region")
    web.add_argument("--client-id", help="the user pool's web client (with ExistingUserPoolArn)")
    return parser


def deploy_web(args: argparse.Namespace) -> int:
    import boto3  # noqa: PLC0415

    from refund_ops import deploy_web as web  # noqa: PLC0415

    session = boto3.Session(region_name=args.region)
    try:
        target = web.web_target(web.stack_outputs(session.client("cloudformation"), args.stack), args.client_id)
    except web.MissingOutput as error:
        print(f"refund-ops: {error}", file=sys.stderr)
        return 2
    written = web.deploy(session.client("s3"), session.client("cloudfront"), target)
    print(f"{len(written)} files in s3://{target.bucket}; the app is at {target.config['redirectUri']}")
    return 0


def load_events(args: argparse.Namespace) -> int:
    """`load-events`: exit 0 when every line was accepted, 1 when any was refused or the run stopped, 2 when
    the file cannot be read."""
    from refund_ops import bulk  # noqa: PLC0415 - imports refund_core, whose Logger reads the environment

    send: bulk.Send | None = None
    if args.url:
        send = bulk.local_sender(args.url)
    elif args.event_bus:
        import boto3  # noqa: PLC0415

        send = bulk.bus_sender(args.event_bus, boto3.client("events", region_name=args.region))
    try:
        with args.file.open(encoding="utf-8") as lines:
            summary = bulk.load(lines, send, first_line=args.from_line)
    except OSError as error:
        print(f"refund-ops: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    print(summary.text())
    return 1 if summary.refused or summary.resume_from is not None else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "load-events":
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        return load_events(args)
    return deploy_web(args)
