"""Canned replies (casework): supervisors keep a small library of notes to customers in both languages (create,
edit, retire); reviewers see the ones in use, pick one and edit it before sending it with a decision."""

from __future__ import annotations

from datetime import UTC, datetime

from refund_core.adapters import canned_replies as library
from refund_core.app.inputs import RetireCannedReply, SaveCannedReply
from refund_core.app.resources import CannedReplyList
from refund_core.errors import NotAReviewer, NotASupervisor, NotFound
from refund_core.http.identity import Caller
from refund_core.policy.models import CannedReply


def list_canned_replies(caller: Caller) -> CannedReplyList:
    """Reviewers: the replies in use; supervisors: the retired ones too (theirs to keep)."""
    if not caller.is_reviewer:
        raise NotAReviewer("only refund reviewers and supervisors use canned replies")
    replies = sorted(library.canned_replies(), key=lambda reply: (reply.retired, reply.title.casefold()))
    return CannedReplyList(items=tuple(reply for reply in replies if caller.is_supervisor or not reply.retired))


def save_canned_reply(
    caller: Caller, reply_id: str, command: SaveCannedReply, now: datetime | None = None
) -> CannedReply:
    if not caller.is_supervisor:
        raise NotASupervisor("only refund supervisors keep the canned replies")
    reply = CannedReply(
        reply_id=reply_id,
        title=command.title,
        english=command.english,
        chinese=command.chinese,
        updated_by=caller.username,
        updated_at=now or datetime.now(UTC),
        version=(command.version or 0) + 1,
    )
    library.save_canned_reply(reply, command.version)
    return reply


def retire_canned_reply(
    caller: Caller, reply_id: str, command: RetireCannedReply, now: datetime | None = None
) -> CannedReply:
    if not caller.is_supervisor:
        raise NotASupervisor("only refund supervisors keep the canned replies")
    found = next((reply for reply in library.canned_replies() if reply.reply_id == reply_id), None)
    if found is None:
        raise NotFound(f"canned reply {reply_id} not found")
    at = now or datetime.now(UTC)
    library.retire_canned_reply(reply_id, command.version, caller.username, at)
    return found.model_copy(
        update={"retired": True, "updated_by": caller.username, "updated_at": at, "version": command.version + 1}
    )
