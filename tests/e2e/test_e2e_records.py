"""Customer records over HTTP (RECORDS.md "Locally"): events put on the emulated bus with POST /_local/events
reach the records function through the template's rule and queue, and the next claim is judged on them; a
refused event is listed by GET /_local/dead-letters with its reason; a fact that arrives after a pending
claim changes nothing until a reviewer assesses it again."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import REVIEWER, Server, customer, iso, order, running_server, ticket

from mail_support import letter

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-records")]

APPLIED_TIMEOUT_SECONDS = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    seed = {
        "customers": [customer("someone"), customer("lena"), customer("quinn")],
        # lena writes a letter: her facts are in the seed, so that the letter's test waits on letters alone.
        # quinn's claim is partial (40 days): a reviewer asks her a question, which she answers by email.
        "orders": [order("LE-1", "lena", days_ago=5), order("QU-40", "quinn", days_ago=40)],
        "tickets": [ticket("T-LE-1", "lena"), ticket("T-QU", "quinn")],
    }
    with running_server(tmp_path_factory.mktemp("records"), seed) as running:
        yield running


def put_events(server: Server, *events: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    entries = [{"Source": source, "DetailType": kind, "Detail": json.dumps(detail)} for source, kind, detail in events]
    response = server.session.post(server.base + "/_local/events", json={"Entries": entries}, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["FailedEntryCount"] == 0, answer
    return answer


def applied(server: Server) -> dict[str, Any]:
    """The dead letters, once the records queue holds nothing more to apply."""
    give_up = time.monotonic() + APPLIED_TIMEOUT_SECONDS
    while True:
        state: dict[str, Any] = server.session.get(server.base + "/_local/dead-letters", timeout=30).json()
        if state["waiting"] == 0 or time.monotonic() > give_up:
            return state
        time.sleep(0.1)


def the_facts_of(username: str, order_id: str, traffic: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("smart-security.accounts", "CustomerUpserted",
         {"username": username, "email": f"{username}@example.com", "name": "Kim Lee", "asOf": iso(30)}),
        ("smart-security.billing", "OrderPlaced",
         {"orderId": order_id, "username": username, "orderedAt": iso(5), "amount": "59.99", "currency": "USD",
          "paymentChannel": "card", "kind": "new", "servicePeriodDays": 365}),
        ("smart-security.billing", "PaymentStateChanged", {"orderId": order_id, "paymentState": "settled",
                                                           "asOf": iso(5)}),
        ("smart-security.usage", "UsageReported", {"orderId": order_id, "trafficBytes": traffic, "connections": 3,
                                                   "asOf": iso(1)}),
        ("smart-security.support", "SupportTicketUpdated",
         {"ticketId": f"T-{order_id}", "username": username, "openedAt": iso(2), "category": "technical",
          "officialResponse": "cannot_fix", "asOf": iso(1)}),
    ]  # fmt: skip


def test_facts_sent_as_events_decide_the_next_claim(server: Server) -> None:
    put_events(server, *the_facts_of("kim", "ord-kim", 10**9))
    assert applied(server)["deadLetters"] == []
    created = server.submit("kim", "ord-kim", "T-ord-kim")
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "APPROVED"
    greeting = server.wait_for_emails(lambda message: created.json()["requestId"] in message["text"])
    assert greeting and "Kim Lee" in greeting[0]["text"]


def test_usage_that_arrives_after_a_pending_claim_changes_it_only_when_assessed(server: Server) -> None:
    put_events(server, *the_facts_of("lin", "ord-lin", 12 * 10**9))
    applied(server)
    pending = server.submit("lin", "ord-lin", "T-ord-lin").json()
    assert pending["status"] == "PENDING"
    corrected = ("smart-security.usage", "UsageReported",
                 {"orderId": "ord-lin", "trafficBytes": 12 * 10**9, "connections": 3, "asOf": iso(0)})  # fmt: skip
    ticket = ("smart-security.support", "SupportTicketUpdated",
              {"ticketId": "T-ord-lin", "username": "lin", "openedAt": iso(2), "category": "billing",
               "officialResponse": "cannot_fix", "asOf": iso(0)})  # fmt: skip
    put_events(server, corrected, ticket)
    applied(server)
    assert server.read(pending["requestId"]).json()["assessment"] == pending["assessment"]
    assessed = server.evaluate(pending["requestId"], {"action": "assess"}, user=REVIEWER).json()
    (support,) = [rule for rule in assessed["assessment"]["rules"] if rule["id"] == "SUPPORT_CONFIRMED_UNFIXABLE"]
    assert support["result"] == "fail"
    assert assessed["assessment"]["outcome"] == "REFUSED"


def test_a_refused_event_is_listed_with_its_reason_and_stores_nothing(server: Server) -> None:
    unknown_field = ("smart-security.billing", "OrderPlaced",
                     {"orderId": "ord-max", "username": "max", "orderedAt": iso(5), "amount": "59.99",
                      "currency": "USD", "paymentChannel": "card", "kind": "new", "servicePeriodDays": 365,
                      "coupon": "X"})  # fmt: skip
    put_events(server, unknown_field)
    (letter,) = applied(server)["deadLetters"]
    assert letter["field"] == "detail.coupon"
    assert letter["event"]["detail"]["coupon"] == "X"
    assert server.submit("max", "ord-max", "T-ord-max").status_code == 404  # no such order on record


def test_put_events_answers_a_malformed_body_as_eventbridge_does(server: Server) -> None:
    response = server.session.post(server.base + "/_local/events", json={"Entries": []}, timeout=30)
    assert response.status_code == 400
    assert response.json()["__type"] == "ValidationException"


def test_put_events_fails_a_detail_nested_too_deep_alone_and_in_json(server: Server) -> None:
    deep = "[" * 10_000 + "]" * 10_000  # far past the depth JSON readers recurse to
    good = {"Source": "smart-security.accounts", "DetailType": "CustomerUpserted",
            "Detail": json.dumps({"username": "deep", "email": "deep@example.com", "asOf": iso(1)})}  # fmt: skip
    entries = [{"Source": "smart-security.billing", "DetailType": "OrderPlaced", "Detail": deep}, good]
    response = server.session.post(server.base + "/_local/events", json={"Entries": entries}, timeout=30)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["FailedEntryCount"] == 1 and answer["Entries"][0]["ErrorCode"] == "MalformedDetail"
    assert "EventId" in answer["Entries"][1]
    nested_body = server.session.post(server.base + "/_local/events", data=deep, timeout=30)
    assert nested_body.status_code == 400 and nested_body.json()["__type"] == "ValidationException"


def test_an_emails_page_is_sandboxed_on_the_apps_origin(server: Server) -> None:
    """Whatever an email quotes (a customer's reason, a reviewer's note) runs nothing on the web app's origin."""
    raw = b"From: someone@example.com\r\nMessage-ID: <csp@mail.example.com>\r\nSubject: <script>\r\n\r\nNo order.\r\n"
    headers = {"Content-Type": "message/rfc822"}
    assert server.session.post(server.base + "/_local/inbox", data=raw, headers=headers, timeout=30).status_code == 202
    (message,) = server.wait_for_emails(lambda message: "someone@example.com" in message["to"])
    page = server.session.get(server.base + message["htmlUrl"], timeout=30)
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "script-src" not in policy and "default-src 'none'" in policy


def test_a_file_of_events_loaded_in_one_command_is_applied(server: Server, tmp_path: Path) -> None:
    """`refund-ops load-events FILE --url`: one line refused (reported, not sent), the rest applied."""
    lines = [json.dumps({"source": source, "detail-type": kind, "detail": detail})
             for source, kind, detail in the_facts_of("noa", "ord-noa", 10**9)]  # fmt: skip
    lines.insert(2, json.dumps({"source": "smart-security.billing", "detail-type": "OrderPlaced", "detail": {}}))
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "refund_ops", "load-events", str(events), "--url", server.base]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stdout + done.stderr  # a line was refused
    assert "line 3 refused: detail.orderId: Field required" in done.stdout
    assert "6 lines read from line 1: 5 accepted, 1 refused" in done.stdout
    applied(server)
    assert server.submit("noa", "ord-noa", "T-ord-noa").json()["status"] == "APPROVED"


# ---- letters (LETTERS.md "Locally"): POST /_local/inbox -----------------------------------------------------


def post_letter(server: Server, raw: bytes, **verdicts: str) -> Any:
    return server.session.post(
        server.base + "/_local/inbox",
        data=raw,
        params=verdicts,
        headers={"Content-Type": "message/rfc822"},
        timeout=30,
    )


def test_a_letter_in_the_inbox_becomes_a_request_answered_in_its_thread(server: Server) -> None:
    lena = {"sender": "lena@example.com", "subject": "Refund, please"}
    sent = letter("Ticket: T-LE-1\n\nIt drops every hour.\n", **lena, message_id="<lena-1@mail.example.com>")
    forged = letter("Ticket: T-LE-1\n\nForged.\n", **lena, message_id="<lena-forged@mail.example.com>")
    assert post_letter(server, forged, spf="FAIL", dkim="FAIL").status_code == 202
    accepted = post_letter(server, sent)
    assert accepted.status_code == 202, accepted.text
    give_up = time.monotonic() + APPLIED_TIMEOUT_SECONDS
    while not (items := server.call("GET", "/refund-requests?status=APPROVED", user="lena").json()["items"]):
        assert time.monotonic() < give_up, "the letter never became a request"
        time.sleep(0.2)
    (listed,) = items
    request = server.read(listed["requestId"], user="lena").json()
    assert (request["orderId"], request["reason"]) == ("LE-1", "It drops every hour.")
    assert request["history"][0]["by"] == "you"
    staff = server.read(request["requestId"], user=REVIEWER).json()
    assert staff["history"][0] | {"at": None} == {
        "at": None, "event": "received", "by": "letter", "detail": "<lena-1@mail.example.com>"
    }  # fmt: skip
    decided = server.wait_for_emails(lambda message: request["requestId"] in message["text"])
    assert decided and all(message["inReplyTo"] == "<lena-1@mail.example.com>" for message in decided)
    assert decided[0]["subject"] == "Re: Refund, please"
    assert not [message for message in server.outbox() if "Forged" in message["text"]]


@pytest.mark.parametrize(
    ("headers", "params", "status", "field"),
    [
        ({"Content-Type": "text/plain"}, {}, 415, "Content-Type"),
        ({"Content-Type": "message/rfc822"}, {"spf": "MAYBE"}, 400, "spf"),
        ({"Content-Type": "message/rfc822"}, {"spam": "PASS"}, 400, "spam"),
    ],
)
def test_the_inbox_refuses_what_ses_would_never_hand_over(
    server: Server, headers: dict[str, str], params: dict[str, str], status: int, field: str
) -> None:
    answer = server.session.post(
        server.base + "/_local/inbox", data=b"From: a@b.c\r\n\r\nx", headers=headers, params=params, timeout=30
    )
    assert answer.status_code == status and answer.json()["errors"][0]["field"] == field


def test_a_reviewer_asks_the_customer_answers_by_email_and_on_the_page_with_a_file(server: Server) -> None:
    """The question's email, as SES sent it, replied to by a real message/rfc822 through /_local/inbox: the
    reply answers the request (never a second request); a second question is answered on the page, with a file
    attached (S3's policy refusing 10 MiB + 1 byte and another type); the reviewer sees both answers and the file,
    and decides."""
    filed = server.submit("quinn", "QU-40", "T-QU").json()
    request_id = filed["requestId"]
    asked = server.evaluate(request_id, {"action": "askCustomer", "question": "Which app version do you use?"})
    assert asked.status_code == 200, asked.text
    (question,) = server.wait_for_emails(
        lambda message: "Which app version do you use?" in message["text"] and "quinn@example.com" in message["to"]
    )
    assert question["messageId"].endswith(".amazonses.com>")

    reply = letter(
        "Version 4.2, on Windows 11.\n\n> Which app version do you use?\n",
        sender="Quinn <quinn@example.com>",
        subject=f"Re: {question['subject']}",
        message_id="<quinn-reply@mail.example.com>",
        headers={"In-Reply-To": question["messageId"], "References": question["messageId"]},
    )
    assert post_letter(server, reply, dmarc="PASS").status_code == 202

    give_up = time.monotonic() + APPLIED_TIMEOUT_SECONDS
    while not (seen := server.read(request_id).json()).get("customerAnsweredAt"):
        assert time.monotonic() < give_up, "the reply never answered the request"
        time.sleep(0.2)
    assert seen["question"]["answeredAt"]
    assert len(server.call("GET", "/refund-requests?status=PENDING", user="quinn").json()["items"]) == 1

    again = server.evaluate(request_id, {"action": "askCustomer", "question": "Since when does it drop?"})
    assert again.status_code == 200 and "customerAnsweredAt" not in again.json()
    answered = server.call("POST", f"/refund-requests/{request_id}/answer", user="quinn",
                           json={"answer": "Since the update in May."})  # fmt: skip
    assert answered.status_code == 200, answered.text

    # With her answer, a screenshot of the error: uploaded straight to the evidence bucket, checked, downloaded.
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    slot = server.call("POST", f"/refund-requests/{request_id}/evidence", user="quinn",
                       json={"fileName": "error.png", "contentType": "image/png", "size": len(png)}).json()  # fmt: skip
    assert slot["url"].startswith(server.base + "/_local/s3/")
    too_large = server.session.post(slot["url"], data=slot["fields"], files={"file": b"x" * (10 * 1024 * 1024 + 1)},
                                    timeout=60)  # fmt: skip
    assert (too_large.status_code, "EntityTooLarge" in too_large.text) == (400, True), "S3's policy check refuses it"
    other_type = server.session.post(slot["url"], data={**slot["fields"], "Content-Type": "text/html"},
                                     files={"file": png}, timeout=30)  # fmt: skip
    assert other_type.status_code == 403
    assert server.session.post(slot["url"], data=slot["fields"], files={"file": png}, timeout=30).status_code == 204
    checked = server.call("POST", f"/refund-requests/{request_id}/evidence/{slot['evidenceId']}/check", user="quinn")
    assert checked.status_code == 200 and checked.json()["state"] == "ACCEPTED"
    link = server.call("GET", f"/refund-requests/{request_id}/evidence/{slot['evidenceId']}", user=REVIEWER).json()
    got = server.session.get(link["url"], timeout=30)
    assert got.content == png and got.headers["Content-Disposition"].startswith('attachment; filename="error.png"')
    stranger = server.call("GET", f"/refund-requests/{request_id}/evidence/{slot['evidenceId']}", user="lena")
    assert stranger.status_code == 404

    seen = server.read(request_id).json()
    answers = [(entry["by"], entry["detail"]) for entry in seen["history"] if entry["event"] == "customer answered"]
    assert answers == [("quinn", "Version 4.2, on Windows 11."), ("quinn", "Since the update in May.")]
    assert [(item["fileName"], item["addedBy"]) for item in seen["evidence"]] == [("error.png", "quinn")]
    decided = server.evaluate(request_id, {"action": "approve", "amount": "20.00", "note": "For the drops."})
    assert decided.status_code == 200 and decided.json()["status"] == "APPROVED"
