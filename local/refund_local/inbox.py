"""`POST /_local/inbox`: a raw message (`Content-Type: message/rfc822`) received as SES would receive it for
the refunds address (LETTERS.md "Locally"): stored in the emulated letters bucket, then SES's notification put
on the letters queue (as SNS delivers it there), whose poller hands it to the letters function. The verdicts
are the query's `spf`, `dkim`, `dmarc`, `virus` (PASS unless said); the DMARC verdict is for the From
address's domain, as SES evaluates it."""

from __future__ import annotations

import contextlib
import json
import re
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
    """Locally the envelope's sender is the From address (SES reports the MAIL FROM it was given), the one in
    angle brackets when there are some; empty (a bounce's envelope, never answered) when there is none to read."""
    try:
        headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
        raw_from = [str(value) for name, value in headers.raw_items() if name.lower() == "from"]
        bracketed: list[str] = re.findall(r"<([^<>]*)>", raw_from[0]) if len(raw_from) == 1 else []
        addresses = [address for _, address in getaddresses([str(headers.get("From", ""))]) if "@" in address]
    except Exception:  # a header the parser cannot take: nobody SES could name
        return ""
    if len(bracketed) == 1 and "@" in bracketed[0]:
        return bracketed[0].strip()
    return addresses[0] if len(addresses) == 1 and not bracketed else ""


def _authentication_results(verdicts: dict[str, str], sender: str) -> dict[str, str]:
    """The header SES's receiving adds above the message's own: its DMARC verdict names the From domain."""
    domain = sender.rpartition("@")[2] or "invalid"
    value = (
        f"amazonses.com; spf={verdicts['spf'].lower()} smtp.mailfrom={sender or '<>'}; "
        f"dkim={verdicts['dkim'].lower()} header.i=@{domain}; dmarc={verdicts['dmarc'].lower()} header.from={domain};"
    )
    return {"name": "Authentication-Results", "value": value}


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
    for name in ("spf", "dkim", "dmarc", "virus"):
        value = query.pop(name, "PASS").upper()
        if value not in VERDICTS:
            return _refused(name, f"{name} is one of {', '.join(VERDICTS)}")
        verdicts[name] = value
    if query:
        unknown = sorted(query)[0]
        return _refused(unknown, f"{unknown} is not a parameter of /_local/inbox (it takes spf, dkim, dmarc, virus)")
    ses_id = uuid.uuid4().hex
    key = f"letters/{ses_id}"
    region = to.s3.meta.region_name
    placed = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    with contextlib.suppress(to.s3.exceptions.BucketAlreadyOwnedByYou):
        to.s3.create_bucket(Bucket=LETTERS_BUCKET, **placed)
    to.s3.put_object(Bucket=LETTERS_BUCKET, Key=key, Body=raw)
    sender = _envelope_sender(raw)
    notification = {
        "notificationType": "Received",
        "mail": {
            "messageId": ses_id,
            "source": sender,
            "destination": ["refunds@example.com"],
            "headers": [_authentication_results(verdicts, sender)],
        },
        "receipt": {
            "spfVerdict": {"status": verdicts["spf"]},
            "dkimVerdict": {"status": verdicts["dkim"]},
            "dmarcVerdict": {"status": verdicts["dmarc"]},
            "virusVerdict": {"status": verdicts["virus"]},
            "spamVerdict": {"status": "PASS"},
            "action": {"type": "S3", "bucketName": LETTERS_BUCKET, "objectKey": key},
        },
    }
    to.sqs.send_message(QueueUrl=to.queue_url, MessageBody=json.dumps(notification))
    return Answer(202, {"messageId": ses_id})
