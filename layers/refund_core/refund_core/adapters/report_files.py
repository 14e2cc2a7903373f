"""The reports bucket (S3): an export's file uploaded in parts (a multipart upload: every part but the last at
least 5 MiB; the parts completed are those listed, in order of their numbers, gaps allowed), and its download
link."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from refund_core.adapters import clients, download_links
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

DOWNLOAD_LINK_SECONDS = 300
CSV = "text/csv; charset=utf-8"


def _bucket() -> str:
    bucket = settings().reports_bucket_name
    if not bucket:
        raise RuntimeError("REPORTS_BUCKET_NAME is not set")
    return bucket


def started(key: str) -> str:
    """A new upload of the file at `key`; its id."""
    return str(clients.s3().create_multipart_upload(Bucket=_bucket(), Key=key, ContentType=CSV)["UploadId"])


def uploaded_part(key: str, upload_id: str, number: int, data: bytes) -> str | None:
    """Part `number` (from 1) of the upload; its ETag, or None when the upload is no longer open."""
    try:
        response = clients.s3().upload_part(Bucket=_bucket(), Key=key, UploadId=upload_id, PartNumber=number, Body=data)
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchUpload":
            return None
        raise
    return str(response["ETag"])


def completed(key: str, upload_id: str, parts: tuple[tuple[int, str], ...]) -> bool:
    """The file made of the parts (their numbers and ETags, in order); False when this upload is no longer open
    (completed or aborted before)."""
    listed: list[CompletedPartTypeDef] = [{"PartNumber": number, "ETag": etag} for number, etag in parts]
    try:
        clients.s3().complete_multipart_upload(
            Bucket=_bucket(), Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchUpload":
            return False
        raise
    return True


def abandoned(key: str, upload_id: str) -> None:
    """The upload's parts deleted (and an upload no longer open left as it is)."""
    try:
        clients.s3().abort_multipart_upload(Bucket=_bucket(), Key=key, UploadId=upload_id)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchUpload":
            raise


def size(key: str) -> int | None:
    """The file's size in bytes; None when there is no file."""
    try:
        return int(clients.s3().head_object(Bucket=_bucket(), Key=key)["ContentLength"])
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def download_link(key: str, file_name: str) -> str:
    return download_links.attachment_link(_bucket(), key, file_name, CSV, DOWNLOAD_LINK_SECONDS)
