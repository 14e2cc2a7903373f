"""Evidence: a customer (and a reviewer) attaches files to a pending request, at most MAX_FILES of MAX_BYTES
each, PDF, PNG, JPEG or plain text. The bytes go straight from the browser to the private evidence bucket by a
presigned POST whose conditions S3 enforces; then the file's real type is checked from its bytes (a PDF, PNG or
JPEG by its signature, a text file whole) before it is ever shown (an HTML page or an SVG named `.png` is deleted,
and said so); downloads are presigned GETs of a minute, of the version that was checked, always as attachments,
from S3's origin, never the app's. Kept as long as the request's personal data
(the retention erases them with it)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from refund_core.adapters import evidence as evidence_table
from refund_core.adapters import evidence_files, repository
from refund_core.adapters.records import RequestRecord
from refund_core.app.inputs import AttachEvidence
from refund_core.app.resources import DownloadLink, EvidenceUpload
from refund_core.errors import Conflict, NotEvidence, NotFound
from refund_core.http.identity import Caller
from refund_core.observability import count, count_by, logger
from refund_core.policy.evidence import (
    MAX_BYTES,
    MAX_FILES,
    SNIFFED_BYTES,
    EvidenceType,
    is_of_type,
    named_for_its_type,
)
from refund_core.policy.letters import LetterAttachment
from refund_core.policy.models import Evidence, EvidenceState, HistoryEntry, RequestStatus

EVIDENCE_ADDED = "evidence added"
EVIDENCE_REFUSED = "evidence refused"
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# A slot whose upload link expired this long ago with nothing checked is given back.
_ABANDONED_AFTER_SECONDS = 60


def _now() -> datetime:
    return datetime.now(UTC)


def _request_of(caller: Caller, request_id: str) -> RequestRecord:
    """The request, for its customer or a reviewer; for anyone else it does not exist."""
    request = repository.get_request(request_id)
    if request is None or (request.username != caller.username and not caller.is_reviewer):
        raise NotFound(f"refund request {request_id} not found")
    return request


def _evidence_of(request: RequestRecord, evidence_id: str) -> Evidence:
    found = next((item for item in request.evidence if item.evidence_id == evidence_id), None)
    if found is None:
        raise NotFound(f"file {evidence_id} not found")
    return found


def attach(caller: Caller, request_id: str, command: AttachEvidence, now: datetime | None = None) -> EvidenceUpload:
    """A slot for the file on the pending request, and where to upload its bytes."""
    at = now or _now()
    request = _request_of(caller, request_id)
    if request.status is not RequestStatus.PENDING:
        raise Conflict(
            f"refund request {request_id} is already {request.status.lower()}: files can no longer be added",
            code="evidence_closed",
            params={"max": MAX_FILES},
        )
    # Uploads whose links expired unused give their slots back before a new one is taken.
    abandoned_before = at - timedelta(seconds=evidence_files.UPLOAD_LINK_SECONDS + _ABANDONED_AFTER_SECONDS)
    for item in request.evidence:
        if item.state is EvidenceState.UPLOADING and item.added_at < abandoned_before:
            evidence_table.release_abandoned_upload(request_id, item)
    evidence_id = "ev_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))
    evidence = Evidence(
        evidence_id=evidence_id,
        file_name=command.file_name,
        content_type=str(command.content_type),
        size=command.size,
        added_by=caller.username,
        added_at=at,
    )
    evidence_table.record_upload_started(request_id, evidence, MAX_FILES)
    link = evidence_files.upload_link(
        evidence_files.evidence_key(request_id, evidence_id), evidence.content_type, MAX_BYTES, at
    )
    count("EvidenceUploadsStarted")
    return EvidenceUpload(evidence_id=evidence_id, url=link.url, fields=link.fields, expires_at=link.expires_at)


def check(caller: Caller, request_id: str, evidence_id: str, now: datetime | None = None) -> Evidence:
    """The uploaded file's bytes checked (a text file whole, else its start): accepted, in the history and shown
    in the version that was read; or deleted with the reason (422)."""
    at = now or _now()
    request = _request_of(caller, request_id)
    evidence = _evidence_of(request, evidence_id)
    if evidence.state is EvidenceState.UPLOADING:
        evidence = _checked(request_id, evidence, at)
    if evidence.state is EvidenceState.ACCEPTED:
        return evidence
    if evidence.size is not None and evidence.size > MAX_BYTES:
        raise NotEvidence(
            f"{evidence.file_name} is larger than {MAX_BYTES} bytes", field="file", code="too_large",
            params={"max": MAX_BYTES},
        )  # fmt: skip
    raise NotEvidence(
        f"{evidence.file_name} is not a {evidence.content_type} file: its contents say otherwise",
        field="file",
        code="not_of_its_type",
        params={"type": evidence.content_type},
    )


def _checked(request_id: str, evidence: Evidence, at: datetime) -> Evidence:
    """The file's verdict, recorded once (another check's, if it came first)."""
    key = evidence_files.evidence_key(request_id, evidence.evidence_id)
    kind = EvidenceType(evidence.content_type)
    found = evidence_files.uploaded(key, MAX_BYTES if kind is EvidenceType.TEXT else SNIFFED_BYTES)
    if found is None:
        raise Conflict(f"nothing was uploaded for {evidence.file_name} yet", code="not_uploaded")
    accepted = found.size <= MAX_BYTES and is_of_type(kind, found.first_bytes)
    state = EvidenceState.ACCEPTED if accepted else EvidenceState.REFUSED
    if not accepted:
        evidence_files.delete(key)
    checked = evidence.model_copy(
        update={"state": state, "size": found.size, "checked_at": at, "version_id": found.version_id}
    )
    entry = HistoryEntry(at=at, event=EVIDENCE_ADDED if accepted else EVIDENCE_REFUSED, by=evidence.added_by,
                         detail=evidence.file_name)  # fmt: skip
    if evidence_table.record_checked(request_id, checked, at, entry):
        count_by("Evidence", "accepted" if accepted else "refused")
        return checked
    recorded = repository.get_request(request_id)  # another check came first: its verdict stands
    return _evidence_of(recorded, evidence.evidence_id) if recorded else checked


def download(caller: Caller, request_id: str, evidence_id: str, now: datetime | None = None) -> DownloadLink:
    at = now or _now()
    evidence = _evidence_of(_request_of(caller, request_id), evidence_id)
    if evidence.state is not EvidenceState.ACCEPTED:
        raise NotFound(f"file {evidence_id} not found")
    url = evidence_files.download_link(
        evidence_files.evidence_key(request_id, evidence_id),
        evidence.file_name,
        evidence.content_type,
        evidence.version_id,
    )
    return DownloadLink(url=url, expires_at=at + timedelta(seconds=evidence_files.DOWNLOAD_LINK_SECONDS))


def keep_letter_attachments(
    request: RequestRecord, attachments: tuple[LetterAttachment, ...], letter_id: str, at: datetime
) -> int:
    """A letter's files of an evidence type (checked by their bytes when it was read) kept as evidence of the
    request it filed or answered, added by its customer, while the request is pending and has room; each file
    once, however often the letter is handled (its id comes from the letter's). Best effort: the letter's request
    or answer stands whatever becomes of its files (a failure is logged and counted). How many were kept."""
    kept = 0
    for position, attachment in enumerate(attachments):
        digest = hashlib.sha256(f"{letter_id}#{position}".encode()).digest()
        evidence_id = "ev_" + base64.b32encode(digest).decode("ascii")[:20]
        if any(item.evidence_id == evidence_id for item in request.evidence):
            continue  # kept by an earlier try of this letter
        key = evidence_files.evidence_key(request.request_id, evidence_id)
        data = base64.b64decode(attachment.data)
        try:
            version_id = evidence_files.put(key, data, attachment.content_type)
            evidence = Evidence(
                evidence_id=evidence_id,
                file_name=named_for_its_type(attachment.file_name, EvidenceType(attachment.content_type)),
                content_type=attachment.content_type,
                size=len(data),
                added_by=request.username,
                added_at=at,
                state=EvidenceState.ACCEPTED,
                checked_at=at,
                version_id=version_id,
            )
            entry = HistoryEntry(at=at, event=EVIDENCE_ADDED, by=request.username, detail=evidence.file_name)
            evidence_table.record_upload_started(request.request_id, evidence, MAX_FILES, entry)
        except Conflict:  # no room, or decided meanwhile: not kept
            evidence_files.delete(key)
            continue
        except (ClientError, BotoCoreError):
            logger.exception("a letter's file could not be kept", request_id=request.request_id)
            count("LetterFilesNotKept")
            continue
        count_by("Evidence", "letter")
        kept += 1
    return kept
