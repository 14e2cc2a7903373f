"""The service over HTTP, for `make bench`: `refund-local serve` (the real handlers in worker processes, moto's
server in the serve process)
as a subprocess on a free port of 127.0.0.1, with a generated seed of many customers, each with an order and
a support ticket, so that every submit is a first claim. Then:

1. latency: every route called in turn by one client, WARMUP_ROUNDS rounds unmeasured, then
   SEQUENTIAL_ROUNDS timed (p50, p95 per route);
2. load: CLIENTS threads, each with its own requests.Session, for LOAD_SECONDS or LOAD_MAX_REQUESTS in all,
   whichever comes first, on a mix of mostly reads and lists with some submits by fresh customers and some
   cancels of their claims. Every answer has one expected status; any other, a 5xx or no answer at all is an
   error. The CPU time each side spends meanwhile (Linux's /proc): the serve process (moto's server, the
   routes, the pollers: one core at most, for the GIL), its function workers (a worker the load starts counts
   its cold start too, as a new Lambda environment would), and the clients (this process), which bound what
   this machine can answer.

Loopback only; the server is stopped (killed if it does not stop) at the end, whatever happened."""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import random
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import requests

from refund_local.events import claims_for
from refund_local.seed import order_entry
from refund_local.subprocess_server import ServerDidNotStart, serve_in_subprocess
from refund_local.tokens import make_token

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
WARMUP_ROUNDS = 2  # the first call of a function builds caches (holiday calendar, policy): a cold start
# 20 rounds (a call of each route) give a rough p95 and keep `make bench` within its time.
SEQUENTIAL_ROUNDS = 20
CLIENTS = 20
LOAD_SECONDS = 20.0
LOAD_MAX_REQUESTS = 4_000  # a bound well above what 20 s reach here (moto is slow), not a target
# Each client's cycle of operations: 50 % reads, 35 % lists, 10 % submits, 5 % cancels (of its own customers'
# pending claims: half the submits leave one).
MIX = (
    *("read", "list", "submit", "read", "list", "read", "read", "list", "read", "list"),
    *("read", "list", "cancel", "read", "list", "submit", "read", "list", "read", "read"),
)
EXPECTED = {"submit": 201, "read": 200, "list": 200, "cancel": 200, "assess": 200, "approve": 200}
REVIEWER = "reviewer"
REASON = "The VPN drops every few minutes."
QUEUE_PAGE = 20  # the reviewers' queue, a screenful at a time
Answer = tuple[requests.Response, float]  # the response and the seconds it took


@dataclass(frozen=True)
class Claim:
    """A customer with one order and one support ticket: what a first claim needs."""

    username: str
    order_id: str
    ticket_id: str
    pending: bool  # a 40-day-old order: a partial refund, PENDING for a reviewer; else APPROVED at once


def _claims(prefix: str, count: int, pending: Callable[[int], bool]) -> list[Claim]:
    return [
        Claim(f"{prefix}-{n:05d}", f"ord-{prefix}-{n:05d}", f"T-{prefix}-{n:05d}", pending(n)) for n in range(count)
    ]


def _seed(claims: list[Claim]) -> dict[str, Any]:
    now = datetime.now(UTC)
    customers, orders, tickets = [], [], []
    for claim in claims:
        customers.append({"username": claim.username, "email": f"{claim.username}@example.com"})
        orders.append(order_entry(claim.order_id, claim.username, now - timedelta(days=40 if claim.pending else 5)))
        tickets.append(
            {
                "ticketId": claim.ticket_id,
                "username": claim.username,
                "openedAt": (now - timedelta(days=2)).isoformat(),
                "category": "technical",
                "officialResponse": "cannot_fix",
            }
        )
    return {"customers": customers, "orders": orders, "tickets": tickets}


@contextlib.contextmanager
def running_server(seed: dict[str, Any]) -> Iterator[str]:
    """`python -m refund_local serve` on a free loopback port; yields its base URL."""
    with tempfile.TemporaryDirectory(prefix="bench-load-") as directory:
        try:
            with serve_in_subprocess(Path(directory), seed) as base:
                yield base
        except ServerDidNotStart as error:
            raise SystemExit(f"bench: {error}") from error


class Client:
    """One caller: a requests.Session and a token per user, cached (tokens are not verified locally)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        self._tokens: dict[str, str] = {}

    def _headers(self, user: str) -> dict[str, str]:
        if user not in self._tokens:
            self._tokens[user] = make_token(claims_for(user, reviewer=user == REVIEWER))
        return {"Authorization": f"Bearer {self._tokens[user]}"}

    def call(self, method: str, path: str, user: str, body: Any = None) -> Answer:
        started = time.perf_counter()
        response = self.session.request(method, self.base + path, headers=self._headers(user), json=body, timeout=30)
        return response, time.perf_counter() - started

    def submit(self, claim: Claim) -> Answer:
        body = {"orderId": claim.order_id, "reason": REASON, "supportTicketId": claim.ticket_id}
        return self.call("POST", "/refund-requests", claim.username, body)

    def read(self, request_id: str, user: str) -> Answer:
        return self.call("GET", f"/refund-requests/{request_id}", user)

    def queue(self) -> Answer:
        return self.call("GET", f"/refund-requests?status=PENDING&limit={QUEUE_PAGE}", REVIEWER)

    def own_list(self, user: str) -> Answer:
        return self.call("GET", "/refund-requests", user)

    def evaluate(self, request_id: str, action: str) -> Answer:
        return self.call("POST", f"/refund-requests/{request_id}/evaluate", REVIEWER, {"action": action})

    def cancel(self, request_id: str, user: str) -> Answer:
        return self.call("POST", f"/refund-requests/{request_id}/cancel", user)


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds (statistics' exclusive method), NaN below two samples."""
    if len(seconds) < 2:
        return math.nan, math.nan
    cuts = statistics.quantiles(seconds, n=100)
    return cuts[49] * 1000, cuts[94] * 1000


@dataclass(frozen=True)
class Owned:
    request_id: str
    username: str


def sequential_latencies(base: str, claims: list[Claim]) -> tuple[list[tuple[str, float, float]], list[Owned]]:
    """(route, p50 ms, p95 ms) per route, and the requests made (for the load phase to read). The routes take
    turns, round after round, so that each meets the requests table at the same sizes (moto's writes slow down
    as it grows). A round: two claims submitted; the first read by its customer, the reviewers' queue listed,
    the first assessed and approved; the second cancelled by its customer. The first rounds only warm up."""
    client = Client(base)
    timings: dict[str, list[float]] = {}
    owned: list[Owned] = []

    def timed(route: str, operation: str, call: Callable[[], Answer], measured: bool) -> Any:
        response, seconds = call()
        if response.status_code != EXPECTED[operation]:
            raise SystemExit(f"bench: {route} answered {response.status_code}: {response.text[:500]}")
        if measured:
            timings.setdefault(route, []).append(seconds)
        return response.json()

    for round_ in range(WARMUP_ROUNDS + SEQUENTIAL_ROUNDS):
        measured = round_ >= WARMUP_ROUNDS
        pair = []
        for claim in claims[2 * round_ : 2 * round_ + 2]:
            body = timed("submit, PENDING", "submit", partial(client.submit, claim), measured)
            if body["status"] != "PENDING":
                raise SystemExit(f"bench: {claim.order_id}, 40 days old, was not left PENDING: {body['status']}")
            pair.append(Owned(body["requestId"], body["username"]))
        first, second = pair
        owned += pair
        timed("read one (its customer)", "read", partial(client.read, first.request_id, first.username), measured)
        timed(f"list: reviewers' queue, {QUEUE_PAGE} a page", "list", client.queue, measured)
        timed("evaluate: assess", "assess", partial(client.evaluate, first.request_id, "assess"), measured)
        timed("evaluate: approve", "approve", partial(client.evaluate, first.request_id, "approve"), measured)
        timed("cancel (its customer)", "cancel", partial(client.cancel, second.request_id, second.username), measured)
    client.session.close()
    return [(route, *percentiles(seconds)) for route, seconds in timings.items()], owned


class Budget:
    """The load phase's bound, shared by the clients: LOAD_MAX_REQUESTS in all, until the deadline."""

    def __init__(self, seconds: float, max_requests: int) -> None:
        self.deadline = time.perf_counter() + seconds
        self.left = max_requests
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.left == 0 or time.perf_counter() >= self.deadline:
                return False
            self.left -= 1
            return True


@dataclass
class LoadResult:
    operations: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # "submit 409", "read ConnectionError"...
    server_errors: int = 0
    latencies: list[float] = field(default_factory=list)


class LoadClient(threading.Thread):
    """Runs MIX over and over until the budget says stop. Reads and lists cover the sequential phase's requests
    and this client's own; submits take the next fresh customer; cancels take this client's own pending claims
    (so no two clients race for one request: every status is expected)."""

    def __init__(self, index: int, base: str, budget: Budget, fresh: Callable[[], Claim], known: list[Owned]) -> None:
        super().__init__(name=f"load-{index}", daemon=True)
        self.client = Client(base)
        self.budget, self.fresh, self.known = budget, fresh, known
        self.own: list[Owned] = []
        self.pending: list[Owned] = []
        self.random = random.Random(index)
        # Each client starts at its own place in MIX: all starting with the same call would queue them all on
        # one function's workers (refund-local runs at most --workers invocations of a function at once).
        self.start_at = index * len(MIX) // CLIENTS
        self.result = LoadResult()

    def run(self) -> None:
        try:
            for operation in itertools.islice(itertools.cycle(MIX), self.start_at, None):
                if not self.budget.take():
                    return
                self._one(operation)
        finally:
            self.client.session.close()

    def _one(self, operation: str) -> None:
        if operation == "cancel" and not self.pending:
            operation = "read"  # none of its claims is pending yet
        try:
            response, seconds = self._call(operation)
        except requests.RequestException as error:
            self.result.errors[f"{operation} {type(error).__name__}"] += 1
            return
        self.result.operations[operation] += 1
        self.result.latencies.append(seconds)
        if response.status_code >= 500:
            self.result.server_errors += 1
        if response.status_code != EXPECTED[operation]:
            self.result.errors[f"{operation} {response.status_code}"] += 1
        elif operation == "submit":
            body = response.json()
            owned = Owned(body["requestId"], body["username"])
            self.own.append(owned)
            if body["status"] == "PENDING":
                self.pending.append(owned)

    def _call(self, operation: str) -> Answer:
        n = self.random.randrange(len(self.known) + len(self.own))
        target = self.known[n] if n < len(self.known) else self.own[n - len(self.known)]
        if operation == "read":
            return self.client.read(target.request_id, target.username)
        if operation == "list":
            # Half the lists are the reviewers' queue, half a customer's own requests.
            return self.client.queue() if self.random.random() < 0.5 else self.client.own_list(target.username)
        if operation == "submit":
            return self.client.submit(self.fresh())
        cancelled = self.pending.pop()
        return self.client.cancel(cancelled.request_id, cancelled.username)


def load(base: str, claims: list[Claim], known: list[Owned]) -> tuple[LoadResult, float]:
    """The merged result of CLIENTS concurrent clients, and the seconds they ran."""
    fresh_claims, lock = iter(claims), threading.Lock()

    def fresh() -> Claim:
        with lock:
            return next(fresh_claims)

    budget = Budget(LOAD_SECONDS, LOAD_MAX_REQUESTS)
    clients = [LoadClient(index, base, budget, fresh, known) for index in range(CLIENTS)]
    started = time.perf_counter()
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    seconds = time.perf_counter() - started
    merged = LoadResult()
    for client in clients:
        merged.operations.update(client.result.operations)
        merged.errors.update(client.result.errors)
        merged.server_errors += client.result.server_errors
        merged.latencies.extend(client.result.latencies)
    return merged, seconds


@dataclass(frozen=True)
class Cpu:
    """CPU seconds (user + system) of each side of the load phase."""

    serve: float
    workers: float
    clients: float


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command's name: [11] utime, [12] stime, [13] cutime, [14] cstime."""
    return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()


def _cpu(fields: list[str], at: int) -> float:
    """The seconds of the user and system ticks at `at` of `_stat`'s fields: 11 the process's own, 13 those of
    the children it waited for."""
    return (int(fields[at]) + int(fields[at + 1])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # a process that ended meanwhile
                if int(_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
    return found


def _serve_pid() -> int:
    for pid in _children(os.getpid()):
        with contextlib.suppress(OSError):
            if b"refund_local\x00serve" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
    raise SystemExit("bench: the serve process is not among this process's children")


@dataclass(frozen=True)
class _Snapshot:
    serve: float
    ended_workers: float  # all the CPU of the processes that ended and were waited for (each parent's cutime + cstime)
    workers: dict[int, float]  # each running process's CPU so far, but serve's (the fork server, each worker)
    clients: float


def _descendants(pid: int) -> list[int]:
    """The processes started below `pid`: serve's card processor and fork server, and the workers forked by it."""
    found = _children(pid)
    for child in list(found):
        found += _descendants(child)
    return found


def _snapshot(serve: int) -> _Snapshot:
    stat = _stat(serve)
    workers, ended = {}, _cpu(stat, 13)
    for pid in _descendants(serve):
        with contextlib.suppress(OSError):  # a worker that ended meanwhile: its CPU is in its parent's cutime
            fields = _stat(pid)
            workers[pid] = _cpu(fields, 11)
            ended += _cpu(fields, 13)
    return _Snapshot(_cpu(stat, 11), ended, workers, time.process_time())


def _cpu_during(serve: int, run: Callable[[], tuple[LoadResult, float]]) -> tuple[LoadResult, float, Cpu]:
    before = _snapshot(serve)
    result, seconds = run()
    after = _snapshot(serve)
    # A worker started during the load counts all its CPU (its cold start too); one that ended during it counts
    # what it spent after the first snapshot.
    workers = sum(spent - before.workers.get(pid, 0.0) for pid, spent in after.workers.items())
    ended = [spent for pid, spent in before.workers.items() if pid not in after.workers]
    workers += after.ended_workers - before.ended_workers - sum(ended)
    return result, seconds, Cpu(after.serve - before.serve, workers, after.clients - before.clients)


@dataclass(frozen=True)
class Report:
    latencies: list[tuple[str, float, float]]  # (route, p50 ms, p95 ms), sequential calls
    load: LoadResult
    load_seconds: float  # until the last client's last answer
    load_cpu: Cpu


def run() -> Report:
    sequential = _claims("seq", 2 * (WARMUP_ROUNDS + SEQUENTIAL_ROUNDS), lambda _: True)
    # Enough fresh customers for every submit the load phase can make: MIX's share, plus a partial cycle each;
    # every other claim is approved at once, the others stay pending.
    submits = (LOAD_MAX_REQUESTS // len(MIX) + CLIENTS) * MIX.count("submit")
    for_load = _claims("load", submits, lambda n: n % 2 == 0)
    with running_server(_seed(sequential + for_load)) as base:
        latencies, known = sequential_latencies(base, sequential)
        result, seconds, cpu = _cpu_during(_serve_pid(), lambda: load(base, for_load, known))
    return Report(latencies, result, seconds, cpu)
