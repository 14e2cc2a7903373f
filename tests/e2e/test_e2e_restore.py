"""The restore runbook (docs/operations.md "Restoring a table") rehearsed against the local runner's data dir:
`make restore-rehearsal`, in `make verify` (three server starts: not in `make test`).

The data dir of a stopped runner is the backup (every table at that moment, the recovery point). Work goes on
after it; then the tables are lost, and a runner is started on the backup's tables: the restore. What the
runbook says of a restored table is checked: what was recorded before the recovery point is all there, as it
was, and sends no email again (its items come back without a stream record, as a restored table has no
stream); what came after it is not, and is entered again as the runbook says, each act once; the service
levels agree with the restored requests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from e2e_support import Server, about, customer, order, running_server, ticket

from refund_local.events import claims_for
from refund_local.tokens import make_token

pytestmark = [pytest.mark.e2e, pytest.mark.rehearsal, pytest.mark.xdist_group("e2e-restore")]

SEED: dict[str, Any] = {
    "customers": [customer("ann"), customer("bob"), customer("cat")],
    # Ann's is refunded at once; Bob's and Cat's wait for a reviewer (40 days old).
    "orders": [
        order("A-1", "ann", days_ago=2, paymentChannel="paypal"),
        order("B-1", "bob", days_ago=40, paymentChannel="paypal"),
        order("C-1", "cat", days_ago=40, paymentChannel="paypal"),
    ],
    "tickets": [ticket("TK-ann", "ann"), ticket("TK-bob", "bob"), ticket("TK-cat", "cat")],
}
OUTBOX = Path("state") / "outbox.jsonl"


def sla(server: Server) -> dict[str, Any]:
    supervisor = make_token(claims_for("sue", supervisor=True))
    answer = server.call("GET", "/reports/sla", headers={"Authorization": f"Bearer {supervisor}"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_table_restored_to_its_recovery_point_keeps_what_was_before_and_what_came_after_is_entered_again(
    tmp_path: Path,
) -> None:
    data, backup = tmp_path / "data", tmp_path / "backup"
    with running_server(tmp_path, SEED, "--data-dir", str(data)) as before:
        approved = before.filed("ann", "A-1", "TK-ann")
        pending = before.filed("bob", "B-1", "TK-bob")
        assert (approved["status"], pending["status"]) == ("APPROVED", "PENDING")
        assert before.wait_for_emails(about(approved["requestId"], "approved"))
        assert before.wait_for_emails(about(pending["requestId"], "We have received"))
        at_recovery_point = {item["requestId"]: before.read(item["requestId"]).json() for item in (approved, pending)}
        levels = sla(before)
    # 1-2. The recovery point: the tables as the stopped runner kept them.
    shutil.copytree(data, backup)

    with running_server(tmp_path, SEED, "--data-dir", str(data)) as after:
        decided = after.evaluate(pending["requestId"], {"action": "approve", "note": "Fine."})
        assert decided.status_code == 200, decided.text
        later = after.filed("cat", "C-1", "TK-cat")
        assert after.wait_for_emails(about(pending["requestId"], "approved"))
    sent = (data / OUTBOX).read_text(encoding="utf-8")

    # The tables are lost. 3-4. The restored tables (the backup's), and the emails as SES sent them.
    restored = tmp_path / "restored"
    shutil.copytree(backup, restored)
    (restored / OUTBOX).write_text(sent, encoding="utf-8")
    with running_server(tmp_path, SEED, "--data-dir", str(restored)) as server:
        outbox_at_start = server.outbox()
        # What was recorded before the recovery point, as it was; what came after, not there.
        for request_id, kept in at_recovery_point.items():
            assert server.read(request_id).json() == kept
        assert server.read(later["requestId"]).status_code == 404
        assert sla(server) == levels  # the days and the requests counted in them come back together

        # 5. Entered again: Bob's decision, Cat's request. Each is done once, with its emails; Bob's approval email
        # goes a second time (the runbook says to tell him).
        again = server.evaluate(pending["requestId"], {"action": "approve", "note": "Fine."})
        assert again.status_code == 200, again.text
        refiled = server.filed("cat", "C-1", "TK-cat")
        assert refiled["status"] == "PENDING" and refiled["requestId"] != later["requestId"]
        assert server.wait_for_emails(about(refiled["requestId"], "We have received"))
        approval = about(pending["requestId"], "approved")
        assert len(server.wait_for_emails(lambda message: approval(message) and message not in outbox_at_start)) == 1
        # Nothing restored was sent again: the only new emails are about what was entered again.
        new = [message for message in server.outbox() if message not in outbox_at_start]
        assert all(
            pending["requestId"] in message["text"] + message["subject"]
            or refiled["requestId"] in message["text"] + message["subject"]
            for message in new
        ), [message["subject"] for message in new]
        assert approved["requestId"] not in " ".join(message["text"] + message["subject"] for message in new)
        levels_now = sla(server)
        assert (levels_now["received"], levels_now["decided"]["APPROVED"]) == (3, 2)
