"""`/_local/s3/<bucket>`: the evidence and reports buckets as a browser reaches S3 by the links the API signs
(the functions sign them for S3_LINKS_ENDPOINT_URL, this runner: an evidence file's upload and download, a
decisions export's download). moto keeps the objects but does not check a browser's POST, so
this does what S3 does with one: the form's policy signed with the credentials' key (SigV4), not expired, and
every condition met (the key, the content type, the content-length range); else S3's own refusals
(AccessDenied 403, EntityTooLarge or EntityTooSmall 400). A presigned GET is refused once expired, and the
file is always served as the download the link names (Content-Disposition), sandboxed, never as a page; a GET
is served only under its query signature (SigV4, this runner's key) and within its time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from refund_local.environment import CREDENTIALS

PREFIX = "/_local/s3/"
# A form carries the file and its fields: S3's own limit is the policy's, so the body may be larger than it.
MAX_FORM_BYTES = 11 * 1024 * 1024
SANDBOX = "sandbox; default-src 'none'"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def _error(status: int, code: str, message: str) -> Answer:
    xml = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Answer(status, xml.encode(), [("Content-Type", "application/xml")])


def _form(content_type: str, body: bytes) -> tuple[dict[str, str], bytes | None]:
    """The multipart form's fields, and the file's bytes (None: no file)."""
    message = BytesParser(policy=email_policy.default).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    file: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if name == "file":
            file = data
        else:
            fields[name.lower()] = data.decode("utf-8", errors="replace")
    return fields, file


def _signature(secret: str, date: str, region: str, signed: str) -> str:
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, signed.encode(), hashlib.sha256).hexdigest()


def _query_signed(path: str, pairs: list[tuple[str, str]], host: str) -> bool:
    """Does the presigned GET's signature (SigV4 in the query, host signed, payload unsigned) match this
    runner's key?"""
    parameters = dict(pairs)
    credential = parameters.get("X-Amz-Credential", "").split("/")
    if len(credential) != 5 or credential[0] != CREDENTIALS["AWS_ACCESS_KEY_ID"]:
        return False
    canonical_query = "&".join(
        f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
        for name, value in sorted(pairs)
        if name != "X-Amz-Signature"
    )
    canonical = "\n".join(["GET", path, canonical_query, f"host:{host}", "", "host", "UNSIGNED-PAYLOAD"])
    scope = "/".join(credential[1:])
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", parameters.get("X-Amz-Date", ""), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    expected = _signature(CREDENTIALS["AWS_SECRET_ACCESS_KEY"], credential[1], credential[2], to_sign)
    return hmac.compare_digest(expected, parameters.get("X-Amz-Signature", ""))


def _unmet(condition: Any, fields: dict[str, str], size: int) -> Answer | None:
    if isinstance(condition, dict):
        ((name, value),) = condition.items()
        return None if fields.get(name.lower()) == str(value) else _error(403, "AccessDenied", f"{name} is not {value}")
    operator, *rest = condition
    if operator == "content-length-range":
        low, high = int(rest[0]), int(rest[1])
        if size > high:
            return _error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        if size < low:
            return _error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
        return None
    name, value = str(rest[0]).removeprefix("$").lower(), str(rest[1])
    actual = fields.get(name, "")
    met = actual == value if operator == "eq" else actual.startswith(value)
    return None if met else _error(403, "AccessDenied", f"{name} does not meet the policy's {operator}")


def post_object(s3: Any, bucket: str, content_type: str, body: bytes, now: datetime | None = None) -> Answer:
    """A browser's upload: stored only when its signed policy allows it, as S3 would."""
    fields, file = _form(content_type, body)
    if file is None or "policy" not in fields or "key" not in fields:
        return _error(400, "InvalidArgument", "a POST upload needs its key, its policy and a file")
    fields["bucket"] = bucket
    credential = fields.get("x-amz-credential", "").split("/")
    if len(credential) != 5 or credential[0] != CREDENTIALS["AWS_ACCESS_KEY_ID"]:
        return _error(403, "InvalidAccessKeyId", "the access key is not this runner's")
    expected = _signature(CREDENTIALS["AWS_SECRET_ACCESS_KEY"], credential[1], credential[2], fields["policy"])
    if not hmac.compare_digest(expected, fields.get("x-amz-signature", "")):
        return _error(403, "SignatureDoesNotMatch", "the policy's signature does not match")
    policy = json.loads(base64.b64decode(fields["policy"]))
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    if (now or datetime.now(UTC)) > expiration:
        return _error(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    for condition in policy["conditions"]:
        if (unmet := _unmet(condition, fields, len(file))) is not None:
            return unmet
    s3.put_object(Bucket=bucket, Key=fields["key"], Body=file, ContentType=fields.get("content-type", ""))
    return Answer(204)


def get_object(s3: Any, path: str, query: str, host: str, now: datetime | None = None) -> Answer:
    """A presigned download (`path`, as requested): refused unless signed with this runner's key and within its
    time; served, in the version it names, as the attachment the link names."""
    pairs = parse_qsl(query, keep_blank_values=True)
    parameters = dict(pairs)
    try:
        signed = datetime.strptime(parameters["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        expires = timedelta(seconds=int(parameters["X-Amz-Expires"]))
    except (KeyError, ValueError):
        return _error(403, "AccessDenied", "Query-string authentication requires X-Amz-Date and X-Amz-Expires")
    if not _query_signed(path, pairs, host):
        return _error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
    moment = now or datetime.now(UTC)
    if moment > signed + expires:
        return _error(403, "AccessDenied", "Request has expired")
    if moment < signed - timedelta(minutes=15):
        return _error(403, "AccessDenied", "Request is not yet valid")
    bucket, _, key = path.removeprefix(PREFIX).partition("/")
    read = {"Bucket": bucket, "Key": unquote(key)}
    if parameters.get("versionId"):
        read["VersionId"] = parameters["versionId"]
    try:
        stored = s3.get_object(**read)
    except s3.exceptions.NoSuchKey:
        return _error(404, "NoSuchKey", "The specified key does not exist.")
    headers = [
        (
            "Content-Type",
            parameters.get("response-content-type") or stored.get("ContentType") or "application/octet-stream",
        ),
        ("Content-Disposition", parameters.get("response-content-disposition") or "attachment"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", SANDBOX),
    ]
    return Answer(200, stored["Body"].read(), headers)
