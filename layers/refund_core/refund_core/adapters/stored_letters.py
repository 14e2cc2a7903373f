"""The letters SES's receiving stored in its S3 bucket (in the receiving stack's region, LETTERS.md)."""

from __future__ import annotations

from refund_core.adapters.clients import s3
from refund_core.settings import settings


def read(bucket: str, key: str, *, most_bytes: int) -> bytes | None:
    """The stored message, or None when it is larger than `most_bytes` (then not read at all)."""
    letters = s3(settings().letters_region)
    head = letters.head_object(Bucket=bucket, Key=key)
    if int(head["ContentLength"]) > most_bytes:
        return None
    body = letters.get_object(Bucket=bucket, Key=key)["Body"]
    return bytes(body.read())
