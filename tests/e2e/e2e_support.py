"""Helpers of the end-to-end tests: `python -m refund_local serve` as a subprocess on a free port, a seed
file dated relative to now, and a `requests` client for it.

Each test module has its own server (a module-scoped fixture around `running_server`), and its tests in one
xdist group: under `--dist loadgroup` they run one after another on one worker, so that the server starts once
and stops when they are done (pytest stays below 9.2, whose node ids pytest-xdist 3.8 cannot group by: issue
1386). Every test uses its own customers."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from refund_local.events import claims_for
from refund_local.seed import order_entry
from refund_local.subprocess_server import serve_in_subprocess
from refund_local.tokens import make_token

REPO_ROOT = Path(__file__).resolve().parents[2]
# A wait on a condition, not a sleep: long enough for the email pipeline of a server on a loaded 2-core machine
# (a decision email took 17 s there once, behind cold starts of more workers).
EMAIL_TIMEOUT_SECONDS = 45
GB = 1_000_000_000
DECISION_SUBJECT = re.compile(r"is approved|approved in part|is refused")
REVIEWER = "reviewer"  # the one username whose tokens carry the refund-reviewers group


def iso(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()


def customer(username: str, **extra: Any) -> dict[str, Any]:
    return {"username": username, "email": f"{username}@example.com", "blocks": [], "violations": [], **extra}


def order(order_id: str, username: str, *, days_ago: float = 5, **extra: Any) -> dict[str, Any]:
    """A settled new card order that passes every rule unless `extra` says otherwise (None drops a field)."""
    return order_entry(order_id, username, datetime.now(UTC) - timedelta(days=days_ago), **extra)


def ticket(ticket_id: str, username: str, *, days_ago: float = 2, response: str = "cannot_fix") -> dict[str, Any]:
    return {
        "ticketId": ticket_id,
        "username": username,
        "openedAt": iso(days_ago),
        "category": "technical",
        "officialResponse": response,
    }


def token(username: str) -> str:
    return make_token(claims_for(username, reviewer=username == REVIEWER))


@dataclass
class Server:
    base: str
    log_path: Path
    session: requests.Session = field(default_factory=requests.Session)

    def call(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        if user is not None:
            all_headers["Authorization"] = f"Bearer {token(user)}"
        return self.session.request(method, self.base + path, headers=all_headers, timeout=30, **kwargs)

    def submit(self, user: str, order_id: str, ticket_id: str, **kwargs: Any) -> requests.Response:
        body = {"orderId": order_id, "reason": "The VPN drops every few minutes.", "supportTicketId": ticket_id}
        return self.call("POST", "/refund-requests", user=user, json=body, **kwargs)

    def filed(self, user: str, order_id: str, ticket_id: str) -> dict[str, Any]:
        """`submit`, answered 201: the request as the API answered it."""
        response = self.submit(user, order_id, ticket_id)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def read(self, request_id: str, user: str = REVIEWER) -> requests.Response:
        return self.call("GET", f"/refund-requests/{request_id}", user=user)

    def evaluate(self, request_id: str, body: dict[str, Any], user: str = REVIEWER) -> requests.Response:
        return self.call("POST", f"/refund-requests/{request_id}/evaluate", user=user, json=body)

    def outbox(self) -> list[dict[str, Any]]:
        response = self.session.get(self.base + "/_local/outbox", timeout=30)
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    def emails_once_sent(
        self, request_id: str, sent: int, timeout: float = EMAIL_TIMEOUT_SECONDS
    ) -> list[dict[str, Any]]:
        """The outbox's messages about one request, once its history records `sent` emails sent (the outbox
        records each in the transaction that marks it done), or after `timeout`."""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            history = self.read(request_id).json()["history"]
            if sum(entry["event"] == "email sent" for entry in history) >= sent:
                break
            time.sleep(0.1)
        return [message for message in self.outbox() if request_id in message["text"] + message["subject"]]

    def wait_until(self, condition: Callable[[], bool], timeout: float = EMAIL_TIMEOUT_SECONDS) -> bool:
        """Whether `condition` held within `timeout`, asked every 0.1 s."""
        give_up = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > give_up:
                return False
            time.sleep(0.1)
        return True

    def wait_for_emails(
        self, wanted: Callable[[dict[str, Any]], bool], timeout: float = EMAIL_TIMEOUT_SECONDS
    ) -> list[dict[str, Any]]:
        """The outbox's messages that `wanted` picks, once there is one (or after `timeout`: none)."""
        give_up = time.monotonic() + timeout
        while True:
            found = [message for message in self.outbox() if wanted(message)]
            if found or time.monotonic() > give_up:
                return found
            time.sleep(0.1)


def about(request_id: str, subject: str | re.Pattern[str]) -> Callable[[dict[str, Any]], bool]:
    """Picks the emails about one request whose subject matches."""
    pattern = re.compile(re.escape(subject)) if isinstance(subject, str) else subject
    return lambda message: (
        request_id in message["text"] + message["subject"] and bool(pattern.search(message["subject"]))
    )


@contextlib.contextmanager
def running_server(directory: Path, seed: dict[str, Any] | None, *arguments: str) -> Iterator[Server]:
    """`python -m refund_local serve` on a free port of 127.0.0.1, stopped (and killed if need be) on exit. With
    `--cold-starts`: a function's first worker starts at its first invocation, so that a test pays only for the
    functions it uses."""
    with serve_in_subprocess(directory, seed, "--cold-starts", *arguments) as base:
        server = Server(base=base, log_path=directory / "server.log")
        yield server
        server.session.close()


_INVOCATION = re.compile(
    r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) (START|END) (\w+) worker (\d+) RequestId: ([0-9a-f-]+)", re.MULTILINE
)


@dataclass(frozen=True)
class Invocation:
    function: str
    worker: int
    started: float  # seconds since midnight (the log's clock)
    ended: float


def invocations(log_text: str) -> list[Invocation]:
    """Every completed invocation in a server log, from its START and END lines."""
    starts: dict[str, tuple[str, int, float]] = {}
    done: list[Invocation] = []
    for hours, minutes, seconds, millis, kind, function, worker, request_id in _INVOCATION.findall(log_text):
        at = int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000
        if kind == "START":
            starts[request_id] = (function, int(worker), at)
        elif request_id in starts:
            name, number, started = starts.pop(request_id)
            done.append(Invocation(name, number, started, at))
    return done


def overlapping(found: list[Invocation]) -> list[tuple[Invocation, Invocation]]:
    """The pairs of invocations (in different workers) that ran at the same time."""
    return [
        (first, second)
        for index, first in enumerate(found)
        for second in found[index + 1 :]
        if (first.function, first.worker) != (second.function, second.worker)
        and first.started < second.ended
        and second.started < first.ended
    ]
