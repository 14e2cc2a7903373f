"""The evidence bucket (S3): links that let a browser upload a file straight to it (a presigned POST whose
conditions S3 enforces: the key, the content type, at most the size allowed) and download one (a presigned GET,
short-lived, as an attachment); and what the type check reads and deletes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from refund_core.adapters import clients, download_links
from refund_core.settings import settings

UPLOAD_LINK_SECONDS = 300
DOWNLOAD_LINK_SECONDS = 60


@dataclass(frozen=True)
class UploadLink:
    url: str
    fields: dict[str, str]
    expires_at: datetime


def _bucket() -> str:
    bucket = settings().evidence_bucket_name
    if not bucket:
        raise RuntimeError("EVIDENCE_BUCKET_NAME is not set")
    return bucket


def evidence_key(request_id: str, evidence_id: str) -> str:
    return f"evidence/{request_id}/{evidence_id}"


def upload_link(key: str, content_type: str, max_bytes: int, now: datetime) -> UploadLink:
    signer = clients.s3_links(settings().s3_links_endpoint_url)
    post: dict[str, Any] = signer.generate_presigned_post(
        Bucket=_bucket(),
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=UPLOAD_LINK_SECONDS,
    )
    return UploadLink(
        url=str(post["url"]),
        fields={name: str(value) for name, value in post["fields"].items()},
        expires_at=now + timedelta(seconds=UPLOAD_LINK_SECONDS),
    )


def download_link(key: str, file_name: str, content_type: str, version_id: str | None) -> str:
    """Valid DOWNLOAD_LINK_SECONDS, of the version that was checked."""
    return download_links.attachment_link(
        _bucket(), key, file_name, content_type, DOWNLOAD_LINK_SECONDS, version_id=version_id
    )


@dataclass(frozen=True)
class Uploaded:
    size: int
    first_bytes: bytes
    version_id: str | None


def uploaded(key: str, first: int) -> Uploaded | None:
    """The uploaded file as it is now: its size, its first `first` bytes and its version (what a download will
    give, whatever is uploaded later); None when nothing was uploaded."""
    s3 = clients.s3()
    try:
        head = s3.head_object(Bucket=_bucket(), Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    version = head.get("VersionId")
    read: dict[str, Any] = {"Bucket": _bucket(), "Key": key, "Range": f"bytes=0-{first - 1}"}
    if version and version != "null":
        read["VersionId"] = version
    body = s3.get_object(**read)["Body"]
    return Uploaded(int(head["ContentLength"]), bytes(body.read()), version if version != "null" else None)


def put(key: str, data: bytes, content_type: str) -> str | None:
    """A file that came with a letter, checked already, stored as an upload would be; its version."""
    version = clients.s3().put_object(Bucket=_bucket(), Key=key, Body=data, ContentType=content_type).get("VersionId")
    return str(version) if version and version != "null" else None


def delete(key: str) -> None:
    clients.s3().delete_object(Bucket=_bucket(), Key=key)
