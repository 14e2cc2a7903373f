"""`POST /_local/inbox`: a raw message (`Content-Type: message/rfc822`) received as SES would receive it for
the refunds address (LETTERS.md "Locally"): stored in the emulated letters bucket, then SES's notification put
on the letters queue (as SNS delivers it there), whose poller hands it to the letters function. The verdicts
are the query's `spf`, `dkim`, `virus` (PASS unless said)."""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

LETTERS_BUCKET = "refund-letters"
LETTERS_QUEUE = "LettersQueue"
# SES's verdict statuses.
VERDICTS = ("PASS", "FAIL", "GRAY", "PROCESSING_FAILED", "DISABLED")
# SES receives messages up to 40 MB; the letters function refuses (with its reply) what a letter never is.
MAX_MESSAGE_BYTES = 12 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _refused(field: str, message: str, status: int = 400) -> Answer:
    return Answer(status, {"message": message, "errors": [{"field": field, "message": message}]})


def _envelope_sender(raw: bytes) -> str:
    """Locally the envelope's sender is the From address (SES reports the MAIL FROM it was given)."""
    try:
        headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
        addresses = [address for _, address in getaddresses([str(headers.get("From", ""))]) if "@" in address]
    except Exception:  # a header the parser cannot take: an unknown sender, as SES would report it
        return "unknown@invalid"
    return addresses[0] if addresses else "unknown@invalid"


@dataclass(frozen=True)
class Inbox:
    """The emulated letters bucket and letters queue."""

    s3: Any
    sqs: Any
    queue_url: str


def receive(to: Inbox, raw: bytes, content_type: str | None, query: dict[str, str]) -> Answer:
    if (content_type or "").split(";")[0].strip().lower() != "message/rfc822":
        return _refused("Content-Type", "send the raw message as message/rfc822", 415)
    if not raw:
        return _refused("body", "the body is the raw message, and it is empty")
    verdicts = {}
    for name in ("spf", "dkim", "virus"):
        value = query.pop(name, "PASS").upper()
        if value not in VERDICTS:
            return _refused(name, f"{name} is one of {', '.join(VERDICTS)}")
        verdicts[name] = value
    if query:
        unknown = sorted(query)[0]
        return _refused(unknown, f"{unknown} is not a parameter of /_local/inbox (it takes spf, dkim, virus)")
    ses_id = uuid.uuid4().hex
    key = f"letters/{ses_id}"
    region = to.s3.meta.region_name
    placed = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    with contextlib.suppress(to.s3.exceptions.BucketAlreadyOwnedByYou):
        to.s3.create_bucket(Bucket=LETTERS_BUCKET, **placed)
    to.s3.put_object(Bucket=LETTERS_BUCKET, Key=key, Body=raw)
    notification = {
        "notificationType": "Received",
        "mail": {"messageId": ses_id, "source": _envelope_sender(raw), "destination": ["refunds@example.com"]},
        "receipt": {
            "spfVerdict": {"status": verdicts["spf"]},
            "dkimVerdict": {"status": verdicts["dkim"]},
            "virusVerdict": {"status": verdicts["virus"]},
            "spamVerdict": {"status": "PASS"},
            "action": {"type": "S3", "bucketName": LETTERS_BUCKET, "objectKey": key},
        },
    }
    to.sqs.send_message(QueueUrl=to.queue_url, MessageBody=json.dumps(notification))
    return Answer(202, {"messageId": ses_id})
