"""The local stack as its tables grow, for `make bench`: `refund-local serve --data-dir` restored with 100, then
with 10,000 stored requests, and the same sequential calls timed on each (a fresh customer's submit, left
PENDING, then the reviewers' queue, 20 a page), p50 and p95.

The stored requests are real ones: TEMPLATES customers' claims submitted through the service on moto in this
process (a twentieth left pending, a tenth cancelled, the others approved at once, every email delivered) and
saved as a data dir; then each customer's items (their records, claims, requests, history, delivered effects)
are copied as many times as it takes, under new usernames, order and ticket ids and request ids."""

from __future__ import annotations

import re
import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bench_load

from refund_core.adapters import owed_effects
from refund_core.app import outbox, service
from refund_core.app.inputs import SubmitRefundRequest
from refund_core.http.identity import Caller
from refund_local.provision import load_template
from refund_local.seed import parse_seed, write_seed
from refund_local.stack import LocalAws
from refund_local.state import OUTBOX_FILE, DataDir
from refund_local.subprocess_server import ServerDidNotStart, serve_in_subprocess

TEMPLATES = 20  # customers whose items are copied
SIZES = (100, 10_000)
WARMUP_ROUNDS = 3
ROUNDS = 25
USERNAME = re.compile(r"stored-(\d{5})(?!\d)")
REQUEST_ID = re.compile(r"rr_([0-9A-HJKMNP-TV-Z]{10})[0-9A-HJKMNP-TV-Z]{5}([0-9A-HJKMNP-TV-Z]{11})")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
COPIED_TABLES = ("RequestsTable", "CustomerRecordsTable")  # the others hold nothing per customer


def _crockford(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 32)
        digits.append(CROCKFORD[digit])
    return "".join(reversed(digits))


def _template_claims() -> list[bench_load.Claim]:
    return bench_load._claims("stored", TEMPLATES, lambda n: n % 20 == 0 or n % 10 == 1)


def _template_state(directory: Path) -> None:
    """TEMPLATES customers' claims, decided or cancelled and their emails sent, saved as a data dir."""
    claims = _template_claims()
    stack = LocalAws(execute_state_machine=False).start()
    try:
        write_seed(parse_seed(bench_load._seed(claims)))
        now = datetime.now(UTC) - timedelta(days=1)
        for n, claim in enumerate(claims):
            caller = Caller(username=claim.username, email=f"{claim.username}@example.com", groups=frozenset())
            command = SubmitRefundRequest(
                order_id=claim.order_id, reason=bench_load.REASON, support_ticket_id=claim.ticket_id
            )
            request = claims.submit_refund_request(caller, command, now=now)
            if n % 10 == 1:
                service.cancel_refund_request(caller, request.request_id, now=now + timedelta(minutes=5))
        while owed := owed_effects.owed_effects(before=datetime.now(UTC) + timedelta(days=1), limit=100).items:
            for effect in owed:
                if outbox.deliver(effect.request_id, effect.effect).outcome != "done":
                    raise SystemExit(f"bench: {effect.effect} of {effect.request_id} was not delivered")
        DataDir(directory, load_template()).open(reset=False)
        DataDir(directory, load_template()).save([])
    finally:
        stack.stop()


def _copies(line: str, copies: int) -> Iterator[str]:
    for copy in range(copies):
        renamed = USERNAME.sub(lambda match, copy=copy: f"stored-{copy:05d}-{match[1]}", line)
        yield REQUEST_ID.sub(lambda match, copy=copy: f"rr_{match[1]}{_crockford(copy, 5)}{match[2]}", renamed)


def _grown(template: Path, directory: Path, stored: int) -> None:
    """The template's data dir with each customer's items copied until `stored` requests are stored."""
    copies = stored // TEMPLATES
    directory.mkdir()
    for source in template.rglob("*"):
        target = directory / source.relative_to(template)
        if source.is_dir():
            target.mkdir(exist_ok=True)
        elif source.parent.name == "state" and source.stem in COPIED_TABLES:
            with source.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
                for line in lines:
                    per_customer = USERNAME.search(line) or REQUEST_ID.search(line)
                    out.writelines(_copies(line, copies) if per_customer else [line])
        elif source.name != OUTBOX_FILE:
            target.write_bytes(source.read_bytes())
        else:
            target.write_text("", encoding="utf-8")


@dataclass(frozen=True)
class Latencies:
    stored: int
    submit: tuple[float, float]  # p50, p95 ms
    queue: tuple[float, float]


def _timed_rounds(base: str, fresh: list[bench_load.Claim]) -> tuple[list[float], list[float]]:
    client = bench_load.Client(base)
    submits: list[float] = []
    queues: list[float] = []
    try:
        for round_, claim in enumerate(fresh):
            response, submit_seconds = client.submit(claim)
            if response.status_code != 201 or response.json()["status"] != "PENDING":
                raise SystemExit(f"bench: a submit answered {response.status_code}: {response.text[:300]}")
            response, queue_seconds = client.queue()
            if response.status_code != 200:
                raise SystemExit(f"bench: the reviewers' queue answered {response.status_code}")
            if round_ >= WARMUP_ROUNDS:
                submits.append(submit_seconds)
                queues.append(queue_seconds)
    finally:
        client.session.close()
    return submits, queues


def _p50_p95(seconds: list[float]) -> tuple[float, float]:
    return statistics.median(seconds) * 1000, bench_load.percentiles(seconds)[1]


def run() -> list[Latencies]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-stored-") as root:
        template = Path(root) / "template"
        _template_state(template)
        for stored in SIZES:
            directory = Path(root) / f"stored-{stored}"
            _grown(template, directory, stored)
            fresh = bench_load._claims(f"fresh{stored}", WARMUP_ROUNDS + ROUNDS, lambda _: True)
            try:
                with serve_in_subprocess(Path(root), bench_load._seed(fresh), "--data-dir", str(directory)) as base:
                    submits, queues = _timed_rounds(base, fresh)
            except ServerDidNotStart as error:
                raise SystemExit(f"bench: {error}") from error
            results.append(Latencies(stored, _p50_p95(submits), _p50_p95(queues)))
    return results
