"""`--data-dir`: the local runner's state survives a restart. Requests, their history, decisions, customer
records, idempotency records and the outbox are all there after a stop and a start; a deadline that passed
while the runner was down fires once when it starts again. A folder of another kind is refused with a
clear message, and `--reset` empties it."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from e2e_support import REVIEWER, Server, about, customer, order, running_server, ticket

from refund_local.paths import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-restart")]

# The pending request's reminder is due 0.8 of the window after it is filed (8 s), its deadline at the end: the
# first server files it last and stops well before the reminder (about a second of work after the filing here).
WINDOW_SECONDS = 10
DEADLINE_STEPS = ("reminded", "overdue")
SEED: dict[str, Any] = {
    "customers": [customer("kim"), customer("lee")],
    "orders": [order("K-1", "kim", days_ago=40), order("L-1", "lee", days_ago=40)],
    "tickets": [ticket("TK-kim", "kim"), ticket("TK-lee", "lee")],
}


def payout_state(server: Server, request_id: str) -> str | None:
    payout = server.read(request_id).json().get("payout") or {}
    state: str | None = payout.get("state")
    return state


def subjects_about(messages: list[dict[str, Any]], request_id: str) -> list[str]:
    return sorted(message["subject"] for message in messages if request_id in message["text"] + message["subject"])


def assert_same_payout_or_paid_since(kept: dict[str, Any], now: dict[str, Any]) -> None:
    """The payout as kept, or the same payout (amount, reference, when sent) paid since."""
    if now != kept:
        assert (kept["state"], now["state"]) == ("SENT", "PAID"), (kept, now)
        assert now["paidAt"] and now | {"state": None, "paidAt": None} == kept | {"state": None, "paidAt": None}


def test_state_survives_a_restart_and_a_deadline_passed_meanwhile_fires_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    arguments = ("--data-dir", str(data), "--review-window-seconds", str(WINDOW_SECONDS))
    with running_server(tmp_path, SEED, *arguments) as first:
        decided_id = first.submit("lee", "L-1", "TK-lee").json()["requestId"]
        approved = first.evaluate(decided_id, {"action": "approve", "amount": "10.00", "note": "Part of it"})
        assert approved.status_code == 200, approved.text
        assert first.wait_for_emails(about(decided_id, "approved in part"))
        # The approval's payout is sent before the snapshot: else it may be, after it (its email may go later).
        assert first.wait_until(lambda: payout_state(first, decided_id) in {"SENT", "PAID"})
        pending = first.submit("kim", "K-1", "TK-kim", headers={"Idempotency-Key": "kim-1"})
        assert pending.status_code == 201, pending.text
        pending_id = pending.json()["requestId"]
        filed_at = time.monotonic()
        assert first.wait_for_emails(about(pending_id, "We have received"))
        before = {request_id: first.read(request_id).json() for request_id in (pending_id, decided_id)}
        outbox_before = first.outbox()
    stopped_at = datetime.now(UTC)
    # The runner is down past the reminder and the deadline.
    time.sleep(max(0.0, WINDOW_SECONDS + 1 - (time.monotonic() - filed_at)))

    with running_server(tmp_path, SEED, *arguments) as second:
        # All kept. Only what moves on by itself may have moved since the snapshot, by the first server after it
        # or by this one: what the outbox still owed (the decision's event, on a busy machine), and the payout,
        # paid once the reconciler asked the card processor about it; each appended to the history.
        after = second.read(decided_id).json()
        kept_history = before[decided_id]["history"]
        moving = {"history": None, "payout": None}
        assert after | moving == before[decided_id] | moving
        assert_same_payout_or_paid_since(before[decided_id]["payout"], after["payout"])
        assert after["history"][: len(kept_history)] == kept_history
        assert all(entry["by"] in ("outbox", "processor") for entry in after["history"][len(kept_history) :])
        escalation = second.wait_for_emails(about(pending_id, "Overdue"), timeout=20)
        assert len(escalation) == 1
        resource = second.read(pending_id).json()
        assert resource["status"] == "PENDING"
        assert (resource["reminded"], resource["overdue"]) == (True, True)
        kept = before[pending_id]["history"]
        assert resource["history"][: len(kept)] == kept
        # Both came once the runner was back, not before it stopped (the history says when each step ran).
        marked = {entry["event"]: entry["at"] for entry in resource["history"] if entry["event"] in DEADLINE_STEPS}
        assert sorted(marked) == sorted(DEADLINE_STEPS)
        assert all(datetime.fromisoformat(at) > stopped_at for at in marked.values()), (marked, stopped_at)
        # What the runner said before is still there, and the new emails come after it.
        outbox = second.outbox()
        assert outbox[: len(outbox_before)] == outbox_before
        # The idempotency record survived too: the same key answers the first request.
        again = second.submit("kim", "K-1", "TK-kim", headers={"Idempotency-Key": "kim-1"})
        assert (again.status_code, again.json()["requestId"]) == (201, pending_id)
        queue = second.call("GET", "/refund-requests?status=PENDING", user=REVIEWER).json()["items"]
        assert [item["requestId"] for item in queue] == [pending_id]

    # A third start: the deadline fired once, not again.
    with running_server(tmp_path, SEED, *arguments) as third:
        time.sleep(2)
        subjects = subjects_about(third.outbox(), pending_id)
        assert sum("Overdue" in subject for subject in subjects) == 1
        assert sum("Reminder" in subject for subject in subjects) == 1


def serve_once(*arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "refund_local", "serve", "--port", "0", *arguments]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_a_folder_that_is_not_refund_locals_state_is_refused_untouched(tmp_path: Path) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"\xff\xd8")
    answer = serve_once("--data-dir", str(foreign))
    assert answer.returncode == 2
    assert "is not refund-local's state" in answer.stderr
    assert [path.name for path in foreign.iterdir()] == ["holiday.jpg"]


def test_state_of_another_format_is_refused_and_reset_empties_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "state").mkdir(parents=True)
    (data / "refund-local.json").write_text('{"format": 0, "tables": {}}', encoding="utf-8")
    (data / "state" / "RequestsTable.jsonl").write_text("{}\n", encoding="utf-8")
    answer = serve_once("--data-dir", str(data))
    assert answer.returncode == 2
    assert "holds state of format 0" in answer.stderr
    assert "--reset" in answer.stderr
    assert (data / "state" / "RequestsTable.jsonl").read_text(encoding="utf-8") == "{}\n"

    with running_server(tmp_path, SEED, "--data-dir", str(data), "--reset") as server:
        assert server.call("GET", "/refund-requests", user="kim").json()["items"] == []
    assert "RequestsTable.jsonl" in {path.name for path in (data / "state").iterdir()}
