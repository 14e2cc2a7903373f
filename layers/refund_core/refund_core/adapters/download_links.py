"""Presigned S3 downloads (the evidence's, the decisions exports'): short-lived, signed for the address the
browser reaches S3 by (S3's own; locally the runner's), and always a download (Content-Disposition: attachment)
of the type named, never a page."""

from __future__ import annotations

from urllib.parse import quote

from refund_core.adapters import clients
from refund_core.settings import settings


def attachment_link(
    bucket: str, key: str, file_name: str, content_type: str, seconds: int, *, version_id: str | None = None
) -> str:
    # The plain name for old browsers (printable ASCII, no quote or backslash), the exact one in UTF-8 (RFC 6266).
    ascii_name = "".join(character if 32 <= ord(character) < 127 and character not in '"\\' else "_"
                         for character in file_name)  # fmt: skip
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"
    params = {
        "Bucket": bucket,
        "Key": key,
        "ResponseContentDisposition": disposition,
        "ResponseContentType": content_type,
        **({"VersionId": version_id} if version_id else {}),
    }
    signer = clients.s3_links(settings().s3_links_endpoint_url)
    return str(signer.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds))
