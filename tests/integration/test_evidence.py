"""Evidence (issue 26): a customer or a reviewer attaches a file to a pending request through a presigned POST to
the private evidence bucket, whose policy binds the key, the type and at most 10 MiB; the file's bytes are
checked against its type before it is shown (HTML or SVG named .png or .txt is deleted); at most 5 files;
downloads are short presigned GETs, as attachments; nobody else's. Through the handler on moto built from
template.yaml (moto answers the presigned calls as S3 would, but does not check a POST's policy: what the
policy says is asserted here, and the local runner's S3 enforces it in tests/e2e)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from api_support import Response, call, read_request
from test_casework import RITA
from test_questions import pending

from refund_core.policy.evidence import MAX_BYTES
from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HTML_AS_PNG = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
SVG_AS_TEXT = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


def attach(request_id: str, claims: dict[str, str], body: Any) -> Response:
    path = f"/refund-requests/{request_id}/evidence"
    return call(api_event("POST", "/refund-requests/{requestId}/evidence", path,
                          path_parameters={"requestId": request_id}, claims=claims, body=body))  # fmt: skip


def check(request_id: str, evidence_id: str, claims: dict[str, str]) -> Response:
    path = f"/refund-requests/{request_id}/evidence/{evidence_id}/check"
    return call(api_event("POST", "/refund-requests/{requestId}/evidence/{evidenceId}/check", path,
                          path_parameters={"requestId": request_id, "evidenceId": evidence_id},
                          claims=claims))  # fmt: skip


def download(request_id: str, evidence_id: str, claims: dict[str, str]) -> Response:
    path = f"/refund-requests/{request_id}/evidence/{evidence_id}"
    return call(api_event("GET", "/refund-requests/{requestId}/evidence/{evidenceId}", path,
                          path_parameters={"requestId": request_id, "evidenceId": evidence_id},
                          claims=claims))  # fmt: skip


def upload(request_id: str, claims: dict[str, str], name: str, content_type: str, data: bytes) -> Response:
    """The file attached as the web app does it: a slot, the bytes posted to S3, then the check."""
    slot = attach(request_id, claims, {"fileName": name, "contentType": content_type, "size": len(data)})
    assert slot.status == 201, slot.json
    posted = requests.post(slot.json["url"], data=slot.json["fields"], files={"file": (name, data)}, timeout=30)
    assert posted.status_code in (200, 201, 204), posted.text
    return check(request_id, slot.json["evidenceId"], claims)


def test_a_customer_attaches_a_pdf_the_reviewer_sees_and_downloads_it(stack: LocalAws) -> None:
    request_id = pending("eva")
    eva = claims_for("eva")
    slot = attach(request_id, eva, {"fileName": "收據 receipt.pdf", "contentType": "application/pdf", "size": len(PDF)})
    assert slot.status == 201, slot.json
    policy = json.loads(base64.b64decode(slot.json["fields"]["policy"]))
    assert ["content-length-range", 1, MAX_BYTES] in policy["conditions"]
    assert {"Content-Type": "application/pdf"} in policy["conditions"]
    assert {"key": f"evidence/{request_id}/{slot.json['evidenceId']}"} in policy["conditions"]
    posted = requests.post(slot.json["url"], data=slot.json["fields"], files={"file": ("r.pdf", PDF)}, timeout=30)
    assert posted.status_code == 204
    checked = check(request_id, slot.json["evidenceId"], eva)
    assert checked.status == 200 and checked.json["state"] == "ACCEPTED" and checked.json["size"] == len(PDF)

    seen = read_request(request_id, eva)
    assert [(item["fileName"], item["addedBy"]) for item in seen["evidence"]] == [("收據 receipt.pdf", "you")]
    staff = read_request(request_id, RITA)
    assert [item["addedBy"] for item in staff["evidence"]] == ["eva"]
    assert ("evidence added", "收據 receipt.pdf") in [
        (entry["event"], entry.get("detail")) for entry in staff["history"]
    ]

    link = download(request_id, slot.json["evidenceId"], RITA)
    assert link.status == 200
    query = parse_qs(urlsplit(link.json["url"]).query)
    assert query["response-content-disposition"][0].startswith("attachment;")
    assert int(query["X-Amz-Expires"][0]) <= 60
    got = requests.get(link.json["url"], timeout=30)
    assert got.content == PDF and got.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("name", "content_type", "data"),
    [("photo.png", "image/png", HTML_AS_PNG), ("notes.txt", "text/plain", SVG_AS_TEXT),
     ("scan.jpg", "image/jpeg", PNG)],
)  # fmt: skip
def test_a_file_whose_bytes_are_not_its_type_is_refused_and_deleted(
    stack: LocalAws, name: str, content_type: str, data: bytes
) -> None:
    request_id = pending("fox")
    refused = upload(request_id, claims_for("fox"), name, content_type, data)
    assert (refused.status, refused.json["code"]) == (422, "not_of_its_type")
    assert read_request(request_id, RITA)["evidence"] == []
    from refund_core.adapters import clients  # noqa: PLC0415
    from refund_core.settings import settings  # noqa: PLC0415

    listed = clients.s3().list_objects_v2(Bucket=str(settings().evidence_bucket_name), Prefix=f"evidence/{request_id}/")
    assert listed.get("KeyCount", 0) == 0, "the refused file is deleted"
    # Its slot is free again: five more files fit.
    for number in range(5):
        assert upload(request_id, claims_for("fox"), f"{number}.png", "image/png", PNG).status == 200
    sixth = attach(request_id, claims_for("fox"), {"fileName": "6.png", "contentType": "image/png", "size": 9})
    assert (sixth.status, sixth.json["code"]) == (409, "evidence_closed")


def test_nobody_else_attaches_reads_or_downloads_a_customers_file(stack: LocalAws) -> None:
    request_id = pending("gia")
    slot = attach(request_id, claims_for("gia"), {"fileName": "a.pdf", "contentType": "application/pdf", "size": 9})
    evidence_id = slot.json["evidenceId"]
    stranger = claims_for("hob")
    assert (
        attach(request_id, stranger, {"fileName": "b.pdf", "contentType": "application/pdf", "size": 9}).status == 404
    )
    assert check(request_id, evidence_id, stranger).status == 404
    assert download(request_id, evidence_id, stranger).status == 404
    # Not uploaded yet: nothing to check, nothing to download.
    assert check(request_id, evidence_id, claims_for("gia")).json["code"] == "not_uploaded"
    assert download(request_id, evidence_id, claims_for("gia")).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fileName": "a.html", "contentType": "text/html", "size": 9}, "contentType"),
        ({"fileName": "a.pdf", "contentType": "application/pdf", "size": MAX_BYTES + 1}, "size"),
        ({"fileName": "../etc/passwd", "contentType": "text/plain", "size": 9}, "fileName"),
        ({"fileName": "a\u202egnp.exe", "contentType": "image/png", "size": 9}, "fileName"),
        ({"contentType": "image/png", "size": 9}, "fileName"),
        ({"fileName": "invoice.html", "contentType": "application/pdf", "size": 9}, "fileName"),
    ],
)
def test_a_bad_attachment_is_a_400_naming_the_field(stack: LocalAws, body: dict[str, Any], field: str) -> None:
    request_id = pending("ira")
    refused = attach(request_id, claims_for("ira"), body)
    assert (refused.status, [error["field"] for error in refused.json["errors"]]) == (400, [field])
    assert read_request(request_id, RITA)["evidence"] == []


def test_a_checked_file_stays_what_was_checked_and_text_is_read_whole(stack: LocalAws) -> None:
    request_id = pending("jay")
    jay = claims_for("jay")
    slot = attach(request_id, jay, {"fileName": "bill.pdf", "contentType": "application/pdf", "size": len(PDF)})
    form = slot.json
    assert requests.post(form["url"], data=form["fields"], files={"file": PDF}, timeout=30).status_code == 204
    assert check(request_id, form["evidenceId"], jay).json["state"] == "ACCEPTED"
    # The same upload form used again after the check: the download still gives what was checked.
    assert requests.post(form["url"], data=form["fields"], files={"file": HTML_AS_PNG}, timeout=30).status_code == 204
    link = download(request_id, form["evidenceId"], RITA).json["url"]
    assert "versionId=" in link and requests.get(link, timeout=30).content == PDF

    hidden = b"Notes from my router log.\n" * 200 + b"<script>alert(1)</script>\n"
    refused = upload(request_id, jay, "log.txt", "text/plain", hidden)
    assert (refused.status, refused.json["code"]) == (422, "not_of_its_type")


def test_slots_of_uploads_never_made_come_back_once_their_links_expire(stack: LocalAws) -> None:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from refund_core.app import evidence  # noqa: PLC0415
    from refund_core.app.inputs import AttachEvidence  # noqa: PLC0415
    from refund_core.errors import Conflict  # noqa: PLC0415
    from refund_core.http.identity import caller_from_claims  # noqa: PLC0415

    request_id = pending("kai")
    kai = caller_from_claims(claims_for("kai"))
    file = AttachEvidence(file_name="a.png", content_type="image/png", size=10)
    now = datetime.now(UTC)
    for _ in range(5):
        evidence.attach(kai, request_id, file, now=now)
    with pytest.raises(Conflict):
        evidence.attach(kai, request_id, file, now=now + timedelta(minutes=5))
    assert evidence.attach(kai, request_id, file, now=now + timedelta(minutes=7)).evidence_id
