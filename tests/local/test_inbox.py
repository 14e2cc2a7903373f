"""`POST /_local/inbox` (refund_local.inbox): SES's notification as the local runner makes it for a raw letter."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from refund_local.environment import REGION
from refund_local.inbox import Inbox, receive
from refund_local.stack import LocalAws


def notification_of(stack: LocalAws, raw: bytes, **query: str) -> dict[str, Any]:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.get_queue_url(QueueName="LettersQueue")["QueueUrl"]
    answer = receive(Inbox(boto3.client("s3", region_name=REGION), sqs, queue_url), raw, "message/rfc822", query)
    assert answer.status == 202, answer.body
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    return dict(json.loads(message["Body"]))


@pytest.mark.parametrize(
    ("sender", "envelope"),
    [
        (b"Bob Chan <bob@example.com>", "bob@example.com"),
        (b"bob@example.com", "bob@example.com"),
        (b"bob@example.com <mallory@evil.test>", "mallory@evil.test"),
        (b"<<>>", ""),
        (b"a@example.com, b@example.com", ""),
    ],
)
def test_the_envelope_and_dmarc_are_the_bracketed_from_address(stack: LocalAws, sender: bytes, envelope: str) -> None:
    """An unreadable From gives an empty envelope, a bounce's, which nothing answers (never unknown@invalid)."""
    notification = notification_of(stack, b"From: " + sender + b"\r\nMessage-ID: <a@b.c>\r\n\r\nHello", dmarc="PASS")
    assert notification["mail"]["source"] == envelope
    (results,) = notification["mail"]["headers"]
    domain = envelope.rpartition("@")[2] or "invalid"
    assert results["name"] == "Authentication-Results" and f"dmarc=pass header.from={domain};" in results["value"]
    assert notification["receipt"]["dmarcVerdict"] == {"status": "PASS"}
