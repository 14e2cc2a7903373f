"""The runner's evidence bucket plays S3 for the browser (moto keeps the objects, and checks no POST policy): a
form is stored only under its signed, unexpired policy, within its content-length range and with its key and
type; a presigned download is refused once its minute is over, and is always an attachment."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.config import Config

from refund_local import evidence_bucket
from refund_local.environment import CREDENTIALS, REGION

BUCKET = "evidence-bucket"


class FakeS3:
    """What the runner's moto keeps, as far as this endpoint uses it."""

    class exceptions:
        class NoSuchKey(Exception):
            pass

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
        self.objects[Key] = (Body, ContentType)

    def get_object(self, *, Bucket: str, Key: str, VersionId: str | None = None) -> dict[str, Any]:
        if Key not in self.objects:
            raise self.exceptions.NoSuchKey
        body, content_type = self.objects[Key]
        return {"Body": io.BytesIO(body), "ContentType": content_type}


def signer() -> Any:
    return boto3.client(
        "s3", region_name=REGION, endpoint_url="http://127.0.0.1:1/_local/s3",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )  # fmt: skip


def form(fields: dict[str, str], data: bytes) -> tuple[str, bytes]:
    prepared = requests.Request("POST", "http://x/", data=fields, files={"file": ("f", data)}).prepare()
    return prepared.headers["Content-Type"], bytes(prepared.body or b"")


def upload_form(max_bytes: int = 10) -> dict[str, str]:
    post = signer().generate_presigned_post(
        Bucket=BUCKET, Key="evidence/r/e", Fields={"Content-Type": "image/png"},
        Conditions=[{"Content-Type": "image/png"}, ["content-length-range", 1, max_bytes]], ExpiresIn=300,
    )  # fmt: skip
    return dict(post["fields"])


def test_a_form_within_its_policy_is_stored() -> None:
    s3 = FakeS3()
    answer = evidence_bucket.post_object(s3, BUCKET, *form(upload_form(), b"\x89PNG"))
    assert answer.status == 204 and s3.objects["evidence/r/e"] == (b"\x89PNG", "image/png")


@pytest.mark.parametrize(
    ("change", "data", "status", "code"),
    [
        ({}, b"x" * 11, 400, "EntityTooLarge"),
        ({}, b"", 400, "EntityTooSmall"),
        ({"Content-Type": "text/html"}, b"x", 403, "AccessDenied"),
        ({"key": "evidence/other/file"}, b"x", 403, "AccessDenied"),
        ({"x-amz-signature": "0" * 64}, b"x", 403, "SignatureDoesNotMatch"),
    ],
)
def test_a_form_outside_its_policy_is_refused_as_s3_refuses_it(
    change: dict[str, str], data: bytes, status: int, code: str
) -> None:
    s3 = FakeS3()
    answer = evidence_bucket.post_object(s3, BUCKET, *form(upload_form() | change, data))
    assert (answer.status, f"<Code>{code}</Code>" in answer.body.decode()) == (status, True)
    assert s3.objects == {}


def test_an_expired_policy_stores_nothing() -> None:
    s3 = FakeS3()
    later = datetime.now(UTC) + timedelta(minutes=6)
    assert evidence_bucket.post_object(s3, BUCKET, *form(upload_form(), b"x"), now=later).status == 403


def test_a_download_is_an_attachment_until_its_link_expires_and_only_as_signed() -> None:
    s3 = FakeS3()
    s3.objects["evidence/r/e"] = (b"%PDF-1.7", "application/pdf")
    url = signer().generate_presigned_url(
        "get_object", ExpiresIn=60,
        Params={"Bucket": BUCKET, "Key": "evidence/r/e", "ResponseContentDisposition": 'attachment; filename="a.pdf"'},
    )  # fmt: skip
    target = urlsplit(url)
    served = evidence_bucket.get_object(s3, target.path, target.query, target.netloc)
    assert served.status == 200 and served.body == b"%PDF-1.7"
    assert ("Content-Disposition", 'attachment; filename="a.pdf"') in served.headers
    assert ("X-Content-Type-Options", "nosniff") in served.headers
    later = datetime.now(UTC) + timedelta(seconds=61)
    expired = evidence_bucket.get_object(s3, target.path, target.query, target.netloc, now=later)
    assert (expired.status, b"Request has expired" in expired.body) == (403, True)
    # Another file, or an inline page, under the same signature: refused.
    other = evidence_bucket.get_object(s3, target.path.replace("/e", "/f"), target.query, target.netloc)
    inline = evidence_bucket.get_object(s3, target.path, target.query.replace("attachment", "inline"), target.netloc)
    assert [other.status, inline.status] == [403, 403]
