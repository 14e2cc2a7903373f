"""Requests by letter (LETTERS.md) through the letters function on moto built from template.yaml: SES's
notification of a stored letter (events/letters/received.json) for each letter of events/letters/ and its
variations; what becomes a request, what gets the one reply, what gets nothing."""

from __future__ import annotations

import copy
import json
import re
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import boto3
import pytest
from api_support import REGION, aws_error, customer_upserted, on_call, requests_table_items, seed_order

from mail_support import letter
from refund_core.adapters import clients
from refund_core.observability import FunctionFailed
from refund_core.settings import settings
from refund_local.events import claims_for
from refund_local.handlers import invoke
from refund_local.stack import LocalAws

LETTERS = Path(__file__).resolve().parents[2] / "events" / "letters"
BUCKET = "refund-letters"
RECEIVED = json.loads((LETTERS / "received.json").read_text(encoding="utf-8"))


def deliver(
    raw: bytes,
    *,
    spf: str = "PASS",
    dkim: str = "PASS",
    dmarc: str = "GRAY",
    virus: str = "PASS",
    key: str = "letters/1",
    source: str | None = None,
    dmarc_domain: str | None = None,
    more_headers: list[dict[str, str]] | None = None,
) -> Any:
    """The letter stored as SES stores it, then the letters function handed SES's notification of it. SES's
    DMARC verdict is for `dmarc_domain`, by default the domain of the From header's bracketed address (the one
    SES evaluates)."""
    s3 = boto3.client("s3", region_name="us-east-1")
    if BUCKET not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=key, Body=raw)
    event = copy.deepcopy(RECEIVED)
    notification = json.loads(event["Records"][0]["body"])
    sender = BytesParser(policy=email_policy.default).parsebytes(raw, headersonly=True)["From"]
    bracketed = re.findall(r"<([^<>]*)>", str(sender or ""))
    from_address = (
        bracketed[-1] if bracketed else sender.addresses[0].addr_spec if sender and sender.addresses else "x@invalid"
    )
    notification["mail"]["source"] = from_address if source is None else source
    evaluated = dmarc_domain or from_address.rpartition("@")[2]
    notification["mail"]["headers"] = [
        {
            "name": "Authentication-Results",
            "value": f"amazonses.com; spf={spf.lower()}; dmarc={dmarc.lower()} header.from={evaluated};",
        },
        *(more_headers or []),
    ]
    notification["receipt"] |= {
        "spfVerdict": {"status": spf},
        "dkimVerdict": {"status": dkim},
        "dmarcVerdict": {"status": dmarc},
        "virusVerdict": {"status": virus},
        "action": {"type": "S3", "bucketName": BUCKET, "objectKey": key},
    }
    event["Records"][0]["body"] = json.dumps(notification)
    return invoke("functions/letters/", event, "LettersFunction")


def requests_of(username: str) -> list[dict[str, Any]]:
    """Every request of the customer, whatever its status, as staff read it."""
    from refund_core.app.service import read_refund_request  # noqa: PLC0415
    from refund_core.http.identity import caller_from_claims  # noqa: PLC0415

    staff = caller_from_claims(claims_for("staff", reviewer=True))
    ids = [
        item["requestId"] for item in requests_table_items() if item["sk"] == "REQUEST" and item["username"] == username
    ]
    return [read_refund_request(staff, request_id).model_dump(mode="json", by_alias=True) for request_id in ids]


def raw_sent() -> list[Any]:
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415
    from moto.ses.models import ses_backends  # noqa: PLC0415

    return [
        BytesParser(policy=email_policy.default).parsebytes(message.raw_data.encode())
        for message in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    ]


@pytest.fixture
def bob(stack: LocalAws) -> LocalAws:
    seed_order("ord-2001", "bob", days_ago=40, ticket_id="T-2001")
    return stack


def test_a_letter_becomes_the_request_the_api_would_file(bob: LocalAws) -> None:
    assert deliver((LETTERS / "plain_en.eml").read_bytes()) == {"batchItemFailures": []}
    (request,) = requests_of("bob")
    assert (request["orderId"], request["supportTicketId"], request["status"]) == ("ord-2001", "T-2001", "PENDING")
    assert "I would like my money back." in request["reason"] and "Bob Chan" not in request["reason"]
    assert request["history"][0] == {
        "at": request["receivedAt"],
        "event": "received",
        "by": "letter",
        "detail": "<letter-plain-1@mail.example.com>",
    }
    assert request["letter"] == {
        "messageId": "<letter-plain-1@mail.example.com>",
        "subject": "Refund for my order",
        "deliveryId": "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1",
    }


def test_a_letters_screenshot_is_the_new_requests_evidence(bob: LocalAws) -> None:
    message = EmailMessage()
    message["From"] = "bob@example.com"
    message["To"] = "refunds@example.com"
    message["Subject"] = "My refund"
    message["Message-ID"] = "<with-screenshot@mail.example.com>"
    message.set_content("Order: ord-2001\nTicket: T-2001\nIt drops; the error is attached.")
    message.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, maintype="image", subtype="png", filename="error.png")
    assert deliver(bytes(message)) == {"batchItemFailures": []}
    (request,) = requests_of("bob")
    assert [(item["fileName"], item["size"], item["addedBy"]) for item in request["evidence"]] == [
        ("error.png", 40, "bob")
    ]


def test_its_emails_answer_the_letter(bob: LocalAws) -> None:
    from api_support import deliver_all  # noqa: PLC0415

    deliver((LETTERS / "plain_en.eml").read_bytes())
    deliver_all()
    (acknowledgement,) = raw_sent()
    assert acknowledgement["Subject"] == "Re: Refund for my order"
    assert acknowledgement["In-Reply-To"] == "<letter-plain-1@mail.example.com>"
    assert acknowledgement["References"] == "<letter-plain-1@mail.example.com>"
    assert acknowledgement["To"] == "bob@example.com"


def test_the_same_letter_twice_files_one_request(bob: LocalAws) -> None:
    raw = (LETTERS / "plain_en.eml").read_bytes()
    deliver(raw, key="letters/first")
    deliver(raw, key="letters/again")  # delivered twice by the sender's server: two SES receipts
    assert len(requests_of("bob")) == 1
    assert raw_sent() == [], "no reply: the second delivery is the same letter"


def test_a_letter_without_a_message_id_is_filed_once_however_often_ses_hands_it_over(bob: LocalAws) -> None:
    """LETTERS.md asks for no Message-ID: SES's id of the delivery tells its retries apart from a new letter."""
    raw = letter("Order: ord-2001\nTicket: T-2001\nIt drops.").replace(b"Message-ID: <l-1@mail.example.com>\n", b"")
    assert b"Message-ID" not in raw
    deliver(raw, key="letters/once")
    deliver(raw, key="letters/once")  # the queue's second delivery of SES's one notification
    (request,) = requests_of("bob")
    assert request["letter"]["messageId"] is None and request["history"][0]["detail"].startswith("SES ")


def test_a_message_id_of_400000_characters_is_answered_not_lost(bob: LocalAws) -> None:
    raw = letter("Order: ord-2001\nTicket: T-2001\nIt drops.", message_id="<" + "x" * 404_000 + "@mail.example.com>")
    assert deliver(raw) == {"batchItemFailures": []}
    (reply,) = raw_sent()
    assert reply["To"] == "bob@example.com" and len(str(reply.get("In-Reply-To", ""))) < 300


def test_a_long_message_id_is_not_kept_and_a_long_note_still_decides_the_request(bob: LocalAws) -> None:
    from api_support import call  # noqa: PLC0415

    from refund_local.events import api_event  # noqa: PLC0415

    raw = letter("Order: ord-2001\nTicket: T-2001\nIt drops.", message_id="<" + "x" * 50_000 + "@mail.example.com>")
    deliver(raw)
    (request,) = requests_of("bob")
    assert request["letter"]["messageId"] is None
    path = f"/refund-requests/{request['requestId']}/evaluate"
    approval = {"action": "approve", "amount": "10.00", "note": "n" * 2000, "internalNote": "i" * 2000}
    event = api_event("POST", "/refund-requests/{requestId}/evaluate", path,
                      path_parameters={"requestId": request["requestId"]}, body=approval,
                      claims=claims_for("rita", reviewer=True))  # fmt: skip
    answer = call(event)
    assert answer.status == 200, answer.json


def test_a_chinese_letter_in_big5_is_filed_with_its_reasons(stack: LocalAws) -> None:
    seed_order("ord-4001", "dave", days_ago=40, ticket_id="T-4040")
    deliver((LETTERS / "big5_zh.eml").read_bytes())
    (request,) = requests_of("dave")
    assert request["reason"] == "連線經常中斷，客服亦無法解決，請退款。"


def test_the_one_order_without_a_request_is_the_letters(stack: LocalAws) -> None:
    seed_order("ord-5001", "erin", days_ago=5, ticket_id="T-5001")
    deliver((LETTERS / "html_only.eml").read_bytes())
    (request,) = requests_of("erin")
    assert (request["orderId"], request["reason"]) == ("ord-5001", "The app crashes on start on my laptop & phone.")


@pytest.mark.parametrize(
    "verdicts", [{"spf": "FAIL", "dkim": "FAIL"}, {"spf": "GRAY", "dkim": "PROCESSING_FAILED"}, {"virus": "FAIL"}]
)
def test_a_forged_or_infected_letter_gets_nothing(bob: LocalAws, verdicts: dict[str, str]) -> None:
    assert deliver((LETTERS / "plain_en.eml").read_bytes(), **verdicts) == {"batchItemFailures": []}
    assert requests_of("bob") == [] and raw_sent() == []


def reply_to(raw: bytes) -> Any:
    """The one reply a letter got, having filed nothing."""
    deliver(raw)
    (reply,) = raw_sent()
    return reply


@pytest.mark.parametrize(
    ("body", "sender", "words"),
    [
        ("Username: bob\nOrder: ord-2001\nTicket: T-2001\nIt drops.", "mallory@example.com", "no account"),
        ("Username: nobody\nOrder: ord-2001\nTicket: T-2001\nIt drops.", "bob@example.com", "no account"),
        ("Order: ord-2001\nIt drops.", "bob@example.com", "names no support ticket"),
        ("Order: ord-2001\nTicket: T-2001\n", "bob@example.com", "gives no reason"),
        ("Order: ord-2001\nTicket: T-2001\n" + "x" * 2001, "bob@example.com", "longer than the 2000 characters"),
        ("Order: ord-9999\nTicket: T-2001\nIt drops.", "bob@example.com", "which order"),
    ],
)
def test_a_letter_that_cannot_become_a_request_gets_one_plain_reply(
    bob: LocalAws, body: str, sender: str, words: str
) -> None:
    reply = reply_to(letter(body, sender=sender))
    assert requests_of("bob") == []
    assert reply["To"] == sender and reply["In-Reply-To"] == "<l-1@mail.example.com>"
    assert reply["Subject"] == "Re: My refund"
    text = reply.get_body(preferencelist=("plain",)).get_content()
    assert words in text and "Control Panel" in text and "support@example.com" in text
    assert "ord-2001" not in text or sender == "bob@example.com", "nothing of another customer's account"
    assert "Traceback" not in text


def test_two_orders_and_none_named_is_asked_which(stack: LocalAws) -> None:
    seed_order("ord-1", "bob", days_ago=40, ticket_id="T-1")
    seed_order("ord-2", "bob", days_ago=30, ticket_id="T-2")
    reply = reply_to(letter("Ticket: T-1\nIt drops."))
    assert "which order" in reply.get_body(preferencelist=("plain",)).get_content()
    assert requests_of("bob") == []


def test_a_second_open_request_is_refused_in_the_services_words(bob: LocalAws) -> None:
    deliver(letter("Order: ord-2001\nTicket: T-2001\nIt drops.", message_id="<first@x>"), key="letters/a")
    deliver(letter("Order: ord-2001\nTicket: T-2001\nIt still drops.", message_id="<second@x>"), key="letters/b")
    assert len(requests_of("bob")) == 1
    (reply,) = raw_sent()
    assert reply["In-Reply-To"] == "<second@x>"
    assert "already" in reply.get_body(preferencelist=("plain",)).get_content()


def test_a_reply_is_in_the_customers_language(stack: LocalAws) -> None:
    seed_order("ord-7", "mei", days_ago=40, ticket_id="T-7")
    customer_upserted("mei", "mei@example.com", language="zh-HK")
    reply = reply_to(letter("Order: ord-7\nIt drops.", sender="mei@example.com"))
    text = reply.get_body(preferencelist=("plain",)).get_content()
    assert "信中沒有註明支援個案" in text and "「支援個案編號：...」" in text and "Dear" not in text
    assert "工單" not in text, "the reply asks in the app's own words (UI.md: 支援個案編號)"


def test_a_chinese_letter_in_the_apps_own_words_is_filed(stack: LocalAws) -> None:
    seed_order("ord-7", "mei", days_ago=40, ticket_id="T-7")
    customer_upserted("mei", "mei@example.com", language="zh-HK")
    deliver(letter("訂單：ord-7\n支援個案編號：T-7\n連線經常中斷。", sender="mei@example.com"))
    assert [request["orderId"] for request in requests_of("mei")] == ["ord-7"]


def test_a_reply_asks_again_in_the_label_the_customer_used(stack: LocalAws) -> None:
    seed_order("ord-7", "mei", days_ago=40, ticket_id="T-7")
    customer_upserted("mei", "mei@example.com", language="zh-HK")
    reply = reply_to(letter("訂單編號：ord-999\n支援個案編號：T-7\n連線經常中斷。", sender="mei@example.com"))
    text = reply.get_body(preferencelist=("plain",)).get_content()
    assert "「訂單編號：...」" in text and requests_of("mei") == []


@pytest.mark.parametrize(
    "raw",
    [
        letter("x" * 1_100_000),
        letter("x" * 10_000_000),  # 10 MB: refused on its size alone, never read whole
        b'From: bob@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\xff\xfe broken',
    ],
)
def test_a_huge_or_malformed_message_gets_a_reply_and_no_crash(bob: LocalAws, raw: bytes) -> None:
    assert deliver(raw) == {"batchItemFailures": []}
    assert requests_of("bob") == []
    (reply,) = raw_sent()
    assert reply["To"] == "bob@example.com"


def heavy_letter(parts: int = 955) -> bytes:
    """Under 1 MB, but each of its parts with long structured headers: parsing them all outlasted the function."""
    header = b"Content-Type: text/plain; " + b"; ".join(b"p%d=v" % i for i in range(60))
    body = b"".join(b"--B\r\n" + header + b"\r\n\r\nUsername: bob\r\nOrder: ord-2001\r\nTicket: T-2001\r\nIt drops.\r\n"
                    for _ in range(parts))  # fmt: skip
    head = b"From: bob@example.com\r\nMessage-ID: <heavy@mail.example.com>\r\nSubject: Refund\r\n"
    return head + b"Content-Type: multipart/mixed; boundary=B\r\n\r\n" + body + b"--B--\r\n"


def test_a_letter_too_costly_to_read_gets_the_unreadable_reply_and_the_next_letter_is_filed(bob: LocalAws) -> None:
    raw = heavy_letter()
    assert len(raw) < 1_000_000
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="letters/heavy", Body=raw)
    s3.put_object(Bucket=BUCKET, Key="letters/plain", Body=(LETTERS / "plain_en.eml").read_bytes())
    event = copy.deepcopy(RECEIVED)
    records = []
    for number, key in enumerate(("letters/heavy", "letters/plain")):
        notification = json.loads(event["Records"][0]["body"])
        notification["mail"]["messageId"] = key
        notification["receipt"]["action"] |= {"bucketName": BUCKET, "objectKey": key}
        records.append({**event["Records"][0], "messageId": f"m-{number}", "body": json.dumps(notification)})
    event["Records"] = records
    assert invoke("functions/letters/", event, "LettersFunction") == {"batchItemFailures": []}
    (request,) = requests_of("bob")
    assert request["letter"]["messageId"] == "<letter-plain-1@mail.example.com>"
    (reply,) = raw_sent()
    assert reply["To"] == "bob@example.com" and "could not read" in reply.get_body(("plain",)).get_content()


def test_a_notification_that_is_not_one_is_dropped_and_the_batch_goes_on(bob: LocalAws) -> None:
    event = copy.deepcopy(RECEIVED)
    event["Records"].insert(0, {**event["Records"][0], "messageId": "junk", "body": "{not json"})
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    key = json.loads(event["Records"][1]["body"])["receipt"]["action"]["objectKey"]
    s3.put_object(Bucket=BUCKET, Key=key, Body=(LETTERS / "plain_en.eml").read_bytes())
    assert invoke("functions/letters/", event, "LettersFunction") == {"batchItemFailures": []}
    assert len(requests_of("bob")) == 1


def test_when_s3_fails_the_letter_is_delivered_again(bob: LocalAws) -> None:
    def failing(**_: Any) -> None:
        raise aws_error("InternalError", "GetObject")

    # Every record of the batch failed: Powertools fails the invocation, and the queue delivers it again.
    with (
        on_call(clients.s3(settings().letters_region), "before-call.s3.GetObject", failing),
        pytest.raises(FunctionFailed, match="All records failed"),
    ):
        deliver((LETTERS / "plain_en.eml").read_bytes())
    assert requests_of("bob") == []
    assert deliver((LETTERS / "plain_en.eml").read_bytes()) == {"batchItemFailures": []}
    assert len(requests_of("bob")) == 1


def test_a_dkim_pass_of_another_domain_does_not_make_a_sender(bob: LocalAws) -> None:
    """Signed by evil.example, From bob: SES's DKIM passes, DMARC fails, SPF is the attacker's: nothing."""
    raw = letter("Order: ord-2001\nTicket: T-2001\nIt drops.")
    assert deliver(raw, spf="FAIL", dkim="PASS", dmarc="FAIL", source="mallory@evil.example") == {
        "batchItemFailures": []
    }
    assert requests_of("bob") == [] and raw_sent() == []


def test_dmarc_vouches_for_a_from_address_unlike_its_envelope(bob: LocalAws) -> None:
    """A mail provider's bounce address as envelope, the customer's own domain aligned by DMARC: filed."""
    raw = letter("Order: ord-2001\nTicket: T-2001\nIt drops.")
    deliver(raw, spf="PASS", dkim="PASS", dmarc="PASS", source="bounces+123@mailer.example")
    assert len(requests_of("bob")) == 1


@pytest.mark.parametrize(
    "sender",
    [
        "bob@example.com <mallory@evil.test>",  # an address as the display name: the bracketed one sends
        '"bob@example.com" <mallory@evil.test>',
        "Bob <bob@example.com> <mallory@evil.test>",
    ],
)
def test_a_letter_from_another_address_in_bobs_name_files_nothing_for_bob(bob: LocalAws, sender: str) -> None:
    """DMARC passed for evil.test, the attacker's own domain: it vouches for mallory@evil.test, never for bob."""
    raw = letter("Username: bob\nOrder: ord-2001\nTicket: T-2001\nIt drops.", sender=sender)
    deliver(raw, spf="PASS", dkim="PASS", dmarc="PASS", source="mallory@evil.test", dmarc_domain="evil.test")
    assert requests_of("bob") == []
    assert all(reply["To"] != "bob@example.com" for reply in raw_sent())


def test_dmarc_passed_for_another_domain_vouches_for_nobody_at_bobs(bob: LocalAws) -> None:
    """From bob@example.com, but SES's DMARC verdict names evil.test (and the envelope is the attacker's)."""
    raw = letter("Order: ord-2001\nTicket: T-2001\nIt drops.")
    deliver(raw, spf="PASS", dkim="PASS", dmarc="PASS", source="mallory@evil.test", dmarc_domain="evil.test")
    assert requests_of("bob") == []


def test_dmarc_named_by_the_letter_itself_is_not_sess(bob: LocalAws) -> None:
    """An Authentication-Results the sender wrote into the message, below SES's own, vouches for nothing."""
    raw = letter("Order: ord-2001\nTicket: T-2001\nIt drops.")
    written_by_the_sender = {
        "name": "Authentication-Results",
        "value": "amazonses.com; dmarc=pass header.from=example.com;",
    }
    deliver(
        raw, dmarc="PASS", source="mallory@evil.test", dmarc_domain="evil.test", more_headers=[written_by_the_sender]
    )
    assert requests_of("bob") == []


def test_a_letter_with_two_from_headers_files_nothing(bob: LocalAws) -> None:
    raw = letter("Order: ord-2001\nTicket: T-2001\nIt drops.", sender="mallory@evil.test").replace(
        b"From: mallory@evil.test", b"From: bob@example.com\nFrom: mallory@evil.test"
    )
    deliver(raw, spf="PASS", dkim="PASS", dmarc="PASS", source="mallory@evil.test", dmarc_domain="example.com")
    assert requests_of("bob") == []


def test_the_from_address_unvouched_gets_the_reply_at_the_envelope_and_files_nothing(bob: LocalAws) -> None:
    raw = letter("Order: ord-2001\nTicket: T-2001\nIt drops.")
    deliver(raw, spf="PASS", dkim="FAIL", dmarc="FAIL", source="relay@lists.example")
    assert requests_of("bob") == []
    (reply,) = raw_sent()
    assert reply["To"] == "relay@lists.example", "never to the unvouched From address"


@pytest.mark.parametrize(
    ("headers", "source"),
    [({"Auto-Submitted": "auto-replied"}, None), ({"Precedence": "bulk"}, None), ({}, "MAILER-DAEMON@mx.example")],
)
def test_an_automatic_message_is_never_answered(bob: LocalAws, headers: dict[str, str], source: str | None) -> None:
    message = EmailMessage()
    message["From"] = "bob@example.com"
    message["Message-ID"] = "<ooo@mail.example.com>"
    message["Subject"] = "Out of office"
    for name, value in headers.items():
        message[name] = value
    message.set_content("I am away until Monday.")
    deliver(bytes(message), source=source)
    assert requests_of("bob") == [] and raw_sent() == []


def test_a_writer_gets_at_most_three_replies_a_day(bob: LocalAws) -> None:
    """An auto-responder that ignores Auto-Submitted, answering each of our replies with a new message."""
    for number in range(5):
        raw = letter("Nothing a request needs.", sender="robot@example.net", message_id=f"<loop-{number}@example.net>")
        assert deliver(raw, key=f"letters/{number}") == {"batchItemFailures": []}
    assert len(raw_sent()) == 3


@pytest.mark.parametrize(
    "sender",
    ["refund-reviewers@example.com", "refund-supervisors@example.com", "noreply@example.net", "no-reply@shop.example"],
)
def test_our_own_addresses_and_no_reply_mailboxes_get_no_reply(bob: LocalAws, sender: str) -> None:
    deliver(letter("Nothing a request needs.", sender=sender))
    assert raw_sent() == []


def test_a_reply_is_marked_as_automatic(bob: LocalAws) -> None:
    reply = reply_to(letter("Order: ord-2001\nIt drops."))
    assert reply["Auto-Submitted"] == "auto-replied"


def test_a_retry_after_the_request_was_filed_answers_nothing_more(bob: LocalAws) -> None:
    """The first try filed the request and then crashed before it could remember so: the retry sees the
    request the letter made (even with the order inferred, now that it has a request) and stops there."""
    from refund_core.app import letters  # noqa: PLC0415

    raw = letter("Ticket: T-2001\nIt drops.", message_id="<once@mail.example.com>")
    deliver(raw)
    # The idempotency record forgotten, as after a day, or as if the first try never wrote it.
    table = bob.table_names["IdempotencyTable"]
    for item in clients.dynamodb().scan(TableName=table)["Items"]:
        clients.dynamodb().delete_item(TableName=table, Key={"id": item["id"]})
    letters.reset()
    deliver(raw, key="letters/redriven")
    assert len(requests_of("bob")) == 1
    assert raw_sent() == [], "no 'which order?' reply for the letter's own request"
