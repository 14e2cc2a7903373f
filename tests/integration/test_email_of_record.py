"""Where the customer's emails go (API.md "The customer's email address"): the email of record in the
customer records; only where the records hold none, the token's address, and only when the token says it
is verified; with neither, the request is recorded and decided, and its emails go once an address of
record arrives. A token's address that no mail can be sent to (a line break, a lone surrogate) is no
address, and never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from api_support import call, customer_upserted, deliver_all, owed_items, seed_order, sent_emails

from refund_core.app import outbox
from refund_core.settings import settings
from refund_local.environment import REGION
from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

SUBMIT = "/refund-requests"


def submit(order_id: str, claims: dict[str, str]) -> tuple[int, dict[str, object]]:
    body = {"orderId": order_id, "reason": "Nothing connects.", "supportTicketId": f"T-{order_id}"}
    response = call(api_event("POST", SUBMIT, SUBMIT, body=body, claims=claims))
    return response.status, response.json


def without_profile(username: str) -> None:
    """The customer's account record holds no address (as the first release's records could)."""
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=settings().customer_records_table_name,
        Key={"pk": {"S": f"CUSTOMER#{username}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="REMOVE email",
    )


def test_the_email_of_record_wins_over_the_tokens(stack: LocalAws) -> None:
    seed_order("ord-1", "alice", days_ago=5)  # alice@example.com of record
    claims = claims_for("alice", email="attacker@example.net")
    status, _ = submit("ord-1", claims)
    assert status == 201
    deliver_all()
    assert [email.to for email in sent_emails()] == [("alice@example.com",)]


def test_an_unverified_token_address_is_never_written_to(stack: LocalAws) -> None:
    seed_order("ord-1", "mallory", days_ago=5)
    without_profile("mallory")
    claims = claims_for("mallory", email="victim@example.org") | {"email_verified": "false"}
    status, created = submit("ord-1", claims)
    assert (status, created["status"]) == (201, "APPROVED")  # recorded and decided all the same
    deliver_all()
    assert sent_emails() == []
    assert owed_items(str(created["requestId"]))["email#decision"]["outcome"] == "no address of record"


def test_a_verified_token_address_is_used_when_the_records_hold_none(stack: LocalAws) -> None:
    seed_order("ord-1", "nina", days_ago=5)
    without_profile("nina")
    status, _ = submit("ord-1", claims_for("nina", email="nina@example.org"))
    assert status == 201
    deliver_all()
    assert [email.to for email in sent_emails()] == [("nina@example.org",)]


def test_a_token_without_an_email_gets_its_decision_email_from_the_records(stack: LocalAws) -> None:
    seed_order("ord-1", "otto", days_ago=5)
    claims = {name: value for name, value in claims_for("otto").items() if not name.startswith("email")}
    status, _ = submit("ord-1", claims)
    assert status == 201
    deliver_all()
    assert [email.to for email in sent_emails()] == [("otto@example.com",)]


@pytest.mark.parametrize(
    "address",
    ["victim@example.org\r\nBcc: everyone@example.org", "a\ud800@example.org", "no-at-sign", "a@b", "<a@b.example>"],
    ids=["line-break", "lone-surrogate", "no-at-sign", "no-dot-in-the-domain", "angle-brackets"],
)
def test_a_token_address_no_mail_can_go_to_is_no_address_and_never_a_500(stack: LocalAws, address: str) -> None:
    seed_order("ord-1", "pat", days_ago=5)
    without_profile("pat")
    status, created = submit("ord-1", claims_for("pat", email=address))
    assert status == 201, created
    deliver_all()  # the stream record does not fail, over and over, on a header no message can carry
    assert sent_emails() == []


def test_the_email_waiting_for_an_address_goes_when_one_of_record_arrives(stack: LocalAws) -> None:
    seed_order("ord-1", "quinn", days_ago=5)
    without_profile("quinn")
    status, created = submit("ord-1", claims_for("quinn") | {"email_verified": "false"})
    assert status == 201
    deliver_all()
    assert sent_emails() == []
    customer_upserted("quinn", "quinn@example.com")
    later = datetime.now(UTC) + timedelta(hours=2)
    assert outbox.reconcile(now=later).queued == 1
    deliver_all()
    assert [email.to for email in sent_emails()] == [("quinn@example.com",)]
    assert owed_items(str(created["requestId"]))["email#decision"]["state"] == "DONE"
