"""Reviewers ask, customers answer (issue 26): a reviewer's question opens on a pending request and is emailed
(with the deadline that still holds); the customer answers on the page, or by replying to any of the request's
emails (threaded by In-Reply-To or References, from their own address), never filing a new request; the
answer lands in the history and marks the request in the queue. Through the handlers on moto built from
template.yaml."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from api_support import REGION, Response, call, customer_upserted, deliver_all, file_request, read_request, seed_order
from test_casework import RITA, ROB, evaluate
from test_letters_function import deliver, requests_of

from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws


def pending(username: str) -> str:
    seed_order(f"ord-{username}", username, days_ago=40)  # a partial refund: for a reviewer
    filed = file_request(username, f"ord-{username}")
    assert filed["status"] == "PENDING", filed
    return str(filed["requestId"])


def answer(request_id: str, username: str, body: Any) -> Response:
    path = f"/refund-requests/{request_id}/answer"
    return call(api_event("POST", "/refund-requests/{requestId}/answer", path, path_parameters={"requestId": request_id},
                          claims=claims_for(username), body=body))  # fmt: skip


def sent_raw() -> list[Any]:
    """What SES sent: (SES's message id, the message parsed)."""
    from email import policy as email_policy  # noqa: PLC0415
    from email.parser import BytesParser  # noqa: PLC0415

    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - moto's record of what SES sent
    from moto.ses.models import ses_backends  # noqa: PLC0415

    return [
        (message.id, BytesParser(policy=email_policy.default).parsebytes(message.raw_data.encode()))
        for message in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    ]


def questions_sent(to: str) -> list[tuple[str, Any]]:
    return [(ses_id, parsed) for ses_id, parsed in sent_raw() if "question" in str(parsed["Subject"]) or "查詢" in
            str(parsed["Subject"]) if to in str(parsed["To"])]  # fmt: skip


def reply(text: str, *, sender: str, in_reply_to: str | None = None, references: str | None = None,
          message_id: str = "<reply-1@mail.example.com>") -> bytes:  # fmt: skip
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "refunds@example.com"
    message["Subject"] = "Re: A question about your refund request"
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    message.set_content(f"{text}\n\nOn Monday, Smart Security wrote:\n> Our reviewer asks: ...\n")
    return bytes(message)


def test_a_reviewer_asks_the_customer_answers_on_the_page_and_the_queue_shows_it(stack: LocalAws) -> None:
    request_id = pending("ivy")
    before = read_request(request_id, RITA)
    asked = evaluate(request_id, RITA, {"action": "askCustomer", "question": "Which city were you connecting from?"})
    assert asked.status == 200, asked.json
    assert asked.json["question"]["question"] == "Which city were you connecting from?"
    assert asked.json["question"]["askedBy"] == "rita"
    assert asked.json["deadline"] == before["deadline"], "the review deadline keeps running"

    seen = read_request(request_id, claims_for("ivy"))
    assert seen["question"]["askedBy"] == "reviewer" and seen["question"]["question"].startswith("Which city")
    assert ("question asked", "reviewer") in [(entry["event"], entry["by"]) for entry in seen["history"]]

    deliver_all()
    ((_, email),) = questions_sent("ivy@example.com")
    text = email.get_body(preferencelist=("plain",)).get_content()
    assert "Which city were you connecting from?" in text
    assert f"#/requests/{request_id}" in text and "reply to this email" in text

    assert answer(request_id, "ivy", {"answer": "  "}).json["errors"][0]["field"] == "answer"
    assert answer(request_id, "jon", {"answer": "Mine?"}).status == 404  # another customer's request
    answered = answer(request_id, "ivy", {"answer": "Kowloon, every evening."})
    assert answered.status == 200, answered.json
    assert answered.json["question"]["answeredAt"] == answered.json["customerAnsweredAt"]
    assert ("customer answered", "you", "Kowloon, every evening.") in [
        (entry["event"], entry["by"], entry.get("detail")) for entry in answered.json["history"]
    ]
    again = answer(request_id, "ivy", {"answer": "And Mong Kok."})
    assert (again.status, again.json["code"]) == (409, "no_question")

    staff = read_request(request_id, ROB)
    assert staff["customerAnsweredAt"] and staff["question"]["answeredAt"]
    counts = call(api_event("GET", "/queue/counts", "/queue/counts", claims=ROB)).json
    assert counts["customerAnswered"] == 1
    listed = call(api_event("GET", "/refund-requests", "/refund-requests", claims=ROB)).json["items"]
    assert [item["customerAnsweredAt"] is not None for item in listed if item["requestId"] == request_id] == [True]

    # A new question clears the marker; a decision closes a question still open.
    evaluate(request_id, RITA, {"action": "askCustomer", "question": "Since when?"})
    assert "customerAnsweredAt" not in read_request(request_id, RITA)
    decided = evaluate(request_id, RITA, {"action": "refuse", "note": "No outage in our records."})
    assert decided.status == 200 and decided.json["question"]["answeredAt"] is None
    assert answer(request_id, "ivy", {"answer": "Since May."}).json["code"] == "no_question"


def test_each_question_is_emailed_in_the_customers_language_and_only_reviewers_ask(stack: LocalAws) -> None:
    request_id = pending("kit")
    customer_upserted("kit", "kit@example.com", language="zh-HK")
    assert evaluate(request_id, claims_for("kit"), {"action": "askCustomer", "question": "?"}).status == 403
    assert (
        evaluate(request_id, RITA, {"action": "askCustomer", "question": ""}).json["errors"][0]["field"] == "question"
    )
    evaluate(request_id, RITA, {"action": "askCustomer", "question": "您在哪個城市連線？"})
    deliver_all()
    assert answer(request_id, "kit", {"answer": "九龍。"}).status == 200
    evaluate(request_id, ROB, {"action": "askCustomer", "question": "幾時開始？"})
    deliver_all()
    sent = questions_sent("kit@example.com")
    assert len(sent) == 2, "each question is emailed once"
    texts = [parsed.get_body(preferencelist=("plain",)).get_content() for _, parsed in sent]
    assert "您在哪個城市連線？" in texts[0] and "幾時開始？" in texts[1] and "工作天" in texts[1]
    history = [entry["event"] for entry in read_request(request_id, RITA)["history"]]
    assert history.count("email sent") == 2 + 1, "the acknowledgement and both questions, each in the history"


def test_a_reply_to_the_requests_email_is_the_customers_answer_never_a_new_request(stack: LocalAws) -> None:
    request_id = pending("bob")
    evaluate(request_id, RITA, {"action": "askCustomer", "question": "Which app version?"})
    deliver_all()
    ((ses_id, _),) = questions_sent("bob@example.com")
    ses_message_id = f"<{ses_id}@{REGION}.amazonses.com>"

    # From someone else's address, threaded to it: not an answer, and no request of anyone's.
    forged = reply("Version 1.0", sender="mallory@example.com", in_reply_to=ses_message_id,
                   message_id="<forged@mail.example.com>")  # fmt: skip
    deliver(forged, key="letters/forged", dmarc="PASS")
    assert "customerAnsweredAt" not in read_request(request_id, RITA)

    threaded = reply("Version 4.2 on Windows.", sender="bob@example.com", references=f"<x@y.example> {ses_message_id}")
    deliver(threaded, key="letters/answer", dmarc="PASS")
    deliver(threaded, key="letters/answer-again", dmarc="PASS")  # the same letter delivered twice
    [request] = requests_of("bob")
    assert request["requestId"] == request_id and request["question"]["answeredAt"] and request["customerAnsweredAt"]
    answers = [entry for entry in request["history"] if entry["event"] == "customer answered"]
    assert [(entry["by"], entry["detail"]) for entry in answers] == [("bob", "Version 4.2 on Windows.")]

    # After the decision, a reply to its email is still kept with the request.
    evaluate(request_id, RITA, {"action": "refuse", "note": "No outage in our records."})
    deliver_all()
    decision_id = next(ses_id for ses_id, parsed in sent_raw() if "bob@example.com" in str(parsed["To"])
                       and "decision" in parsed.get_body(preferencelist=("plain",)).get_content().lower())  # fmt: skip
    late = reply("But it still drops!", sender="bob@example.com", in_reply_to=f"<{decision_id}@{REGION}.amazonses.com>",
                 message_id="<late@mail.example.com>")  # fmt: skip
    deliver(late, key="letters/late", dmarc="PASS")
    [decided] = requests_of("bob")
    assert decided["status"] == "REFUSED"
    assert "But it still drops!" in [entry.get("detail") for entry in decided["history"]]


@pytest.mark.parametrize("body", [{}, {"answer": 5}, {"answer": "x" * 2001}, {"answer": "a\x00b"}])
def test_a_bad_answer_is_a_400_naming_the_field_and_changes_nothing(stack: LocalAws, body: dict[str, Any]) -> None:
    request_id = pending("lou")
    evaluate(request_id, RITA, {"action": "askCustomer", "question": "Which plan?"})
    refused = answer(request_id, "lou", body)
    assert (refused.status, [error["field"] for error in refused.json["errors"]]) == (400, ["answer"])
    assert read_request(request_id, RITA)["question"]["question"] == "Which plan?"


def test_a_letters_files_of_an_evidence_type_become_the_requests_evidence_once(stack: LocalAws) -> None:
    """A reply with a PDF (named as a path), an HTML page declared a PNG, a program and a text without extension:
    the PDF and the text are kept (under their names alone, the text's with its type's extension), each once
    however often the letter comes, each in the history."""
    request_id = pending("bob")
    evaluate(request_id, RITA, {"action": "askCustomer", "question": "Your invoice, please?"})
    deliver_all()
    ((ses_id, _),) = questions_sent("bob@example.com")
    message = EmailMessage()
    message["From"] = "bob@example.com"
    message["To"] = "refunds@example.com"
    message["Subject"] = "Re: your question"
    message["Message-ID"] = "<with-files@mail.example.com>"
    message["In-Reply-To"] = f"<{ses_id}@{REGION}.amazonses.com>"
    message.set_content("Here it is.")
    message.add_attachment(b"%PDF-1.4\n%%EOF\n", maintype="application", subtype="pdf", filename="../invoice.pdf")
    message.add_attachment(b"<html><script>x</script></html>", maintype="image", subtype="png", filename="a.png")
    message.add_attachment(b"MZ\x90\x00", maintype="application", subtype="octet-stream", filename="setup.exe")
    message.add_attachment(b"Router log: drops at 21:00.", maintype="text", subtype="plain", filename="log")
    deliver(bytes(message), key="letters/files", dmarc="PASS")
    deliver(bytes(message), key="letters/files-again", dmarc="PASS")
    [request] = requests_of("bob")
    assert sorted((item["fileName"], item["contentType"], item["addedBy"]) for item in request["evidence"]) == [
        ("invoice.pdf", "application/pdf", "bob"), ("log.txt", "text/plain", "bob"),
    ]  # fmt: skip
    assert [entry["event"] for entry in request["history"]].count("evidence added") == 2


def test_a_question_answered_before_its_email_went_is_not_emailed(stack: LocalAws) -> None:
    request_id = pending("liv")
    evaluate(request_id, RITA, {"action": "askCustomer", "question": "Which router?"})
    assert answer(request_id, "liv", {"answer": "A TP-Link."}).status == 200
    deliver_all()
    assert questions_sent("liv@example.com") == []
    history = [(entry["event"], entry.get("detail")) for entry in read_request(request_id, RITA)["history"]]
    assert ("email not needed", "question") in history
