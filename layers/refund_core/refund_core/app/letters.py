"""Requests by letter (LETTERS.md): SES stored a message and told us (its receipt notification, through SNS and
the letters queue); the letter becomes a request through the same service function as the API's, or gets the
one reply that says what is missing, or nothing at all when its sender may be forged.

One letter is one submission: the whole answer (the request, or the reply) is idempotent by the letter's
Message-ID with Powertools, and a letter whose request is already recorded (an earlier try that crashed
before it could say so) is recognised by the request's own letter reference."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from pydantic import ValidationError

from refund_core.adapters import customer_records, letter_replies, outbound, repository, requests_table, stored_letters
from refund_core.adapters.records import RequestRecord
from refund_core.app import claims, evidence, policies, questions, service
from refund_core.app.idempotency import ONE_DAY, persistence
from refund_core.app.inputs import SubmitRefundRequest
from refund_core.app.letter_notifications import ReceiptNotification, StoredInS3
from refund_core.app.resources import OrderList
from refund_core.errors import ClaimsKeptChanging, NotFound, RefundError
from refund_core.http.identity import Caller
from refund_core.observability import count, count_by, logger
from refund_core.policy.emails import letter_reply
from refund_core.policy.letters import (
    MAX_ID_CHARACTERS,
    MAX_LETTER_BYTES,
    MAX_REASON_CHARACTERS,
    Letter,
    LetterAttachment,
    LetterProblem,
    UnreadableLetter,
    read_letter,
    reason_problem,
)
from refund_core.policy.models import LetterReference
from refund_core.policy.wording import phrases
from refund_core.settings import settings

# Replies a letter writer gets in a Hong Kong day, whatever they send: an auto-responder that ignores
# Auto-Submitted is answered a few times, not once per message of a loop.
MAX_REPLIES_A_DAY = 3
_NO_REPLY_MAILBOXES = frozenset({"noreply", "donotreply", "mailerdaemon", "postmaster"})


class LetterOutcome(StrEnum):
    FILED = "filed"
    REPLIED = "replied"
    ANSWERED = "answered"  # a reply to one of a request's emails: the customer's answer on that request
    IGNORED = "ignored"  # forged, or carrying a virus: no request, no reply


def _raw_letter(stored: StoredInS3) -> bytes:
    """The message as SES stored it; one over the size a letter can have is not read at all."""
    raw = stored_letters.read(stored.bucket_name, stored.object_key, most_bytes=MAX_LETTER_BYTES)
    if raw is None:
        raise UnreadableLetter(LetterProblem.TOO_LARGE)
    return raw


@dataclass(frozen=True)
class Answering:
    """To whom a reply goes and what it answers: the letter's Message-ID and subject, its language (None:
    English), whom it greets (None: "customer")."""

    to: str
    letter_id: str = ""
    subject: str = ""
    language: str | None = None
    name: str | None = None
    # The labels the letter used (LETTERS.md's or the app's): a reply asks for a field in the customer's word.
    labels: Mapping[str, str] = dataclass_field(default_factory=dict)


def _ours(address: str) -> bool:
    """One of the service's own addresses, or a program's that takes no answers: never replied to (a loop)."""
    own = settings()
    addresses = {own.sender_email, own.reviewers_email, own.supervisors_email, own.support_email}
    local = address.partition("@")[0].replace("-", "").replace("_", "").replace(".", "")
    return address in {known.strip().lower() for known in addresses} or local in _NO_REPLY_MAILBOXES


def _reply(answering: Answering, problem: LetterProblem, detail: str = "") -> LetterOutcome:
    to = answering.to.strip().lower()
    today = datetime.now(ZoneInfo(policies.in_force().time_zone)).date()
    if _ours(to) or not letter_replies.take_reply(to, today, MAX_REPLIES_A_DAY):
        count_by("LetterRepliesWithheld", problem)
        logger.info("letter reply withheld", problem=problem)
        return LetterOutcome.IGNORED
    language = answering.language or "en"
    name = answering.name or str(phrases(language)["customerFallback"])
    email = letter_reply(
        problem,
        answering.to,
        language,
        {
            "customer_name": name,
            "support_email": settings().support_email,
            "control_panel_url": settings().control_panel_url,
            "max": str(MAX_REASON_CHARACTERS),
            "detail": detail,
        },
        labels=answering.labels,
        letter_message_id=answering.letter_id,
        letter_subject=answering.subject,
    )
    outbound.send_email(email, {"email-kind": "letter-reply"})
    count_by("LettersAnswered", problem)
    logger.info("letter answered", problem=problem)
    return LetterOutcome.REPLIED


def _account_of(letter: Letter) -> str | None:
    """The letter's named account (none that long exists), else the one account whose email of record sent it."""
    if letter.username:
        return letter.username if len(letter.username) <= MAX_ID_CHARACTERS else None
    if letter.sender is None:
        return None
    accounts = customer_records.usernames_with_email(letter.sender)
    return accounts[0] if len(accounts) == 1 else None


def _order_of(letter: Letter, orders: OrderList) -> str | None:
    """The order the letter names, else the customer's one order without a request (if they have one)."""
    if letter.order_id:
        return letter.order_id
    open_orders = [order.order_id for order in orders.items if order.refund_request is None]
    return open_orders[0] if len(open_orders) == 1 and orders.next_token is None else None


def _filed_from(reference: LetterReference, orders: OrderList) -> bool:
    """Did an earlier try of this very letter record its request (and crash before it could remember so, or
    was its answer forgotten after a day)? Its request names the letter."""
    for order in orders.items:
        held = order.refund_request
        request = repository.get_request_item(held.request_id) if held else None
        if request and request.letter and request.letter.identity == reference.identity:
            return True
    return False


def answer_letter(notification: ReceiptNotification) -> LetterOutcome:
    """A stored letter: filed as a request, answered with the one reply of LETTERS.md, or ignored. Done once
    per letter: by its Message-ID (the same letter delivered twice), else by SES's id of the delivery."""
    if not notification.authentic or notification.receipt.virus.status.upper() == "FAIL" or notification.automatic:
        count("LettersIgnored")
        logger.info(
            "letter ignored",
            spf=notification.spf_status,
            dkim=notification.dkim_status,
            virus=notification.receipt.virus.status,
        )
        return LetterOutcome.IGNORED
    source = notification.source
    try:
        letter = read_letter(_raw_letter(notification.receipt.action))
    except UnreadableLetter as unreadable:
        if notification.spf_status != "PASS":  # no address anyone vouched for: nobody to answer
            count("LettersIgnored")
            return LetterOutcome.IGNORED
        key = f"{unreadable.message_id or 'ses:' + notification.mail.message_id}|{source}"
        return LetterOutcome(_answer_once()(letter={"key": key, "problem": unreadable.problem.value, "source": source}))
    if letter.automatic:
        count("LettersIgnored")
        return LetterOutcome.IGNORED
    vouched = notification.vouches_for(letter.sender)
    if not vouched and notification.spf_status != "PASS":
        count("LettersIgnored")  # neither the From address nor the envelope's is vouched for
        return LetterOutcome.IGNORED
    delivery = notification.mail.message_id
    # Keyed by who sent it too: somebody else reusing a Message-ID cannot silence the real letter.
    key = f"{letter.message_id or 'ses:' + delivery}|{letter.sender if vouched else source}"
    answer = {"key": key, "letter": asdict(letter), "delivery": delivery, "source": source, "vouched": vouched}
    return LetterOutcome(_answer_once()(letter=answer))


# The domain of the Message-IDs SES writes on what it sends (`<id>@<region>.amazonses.com`): the id is SES's own.
_SES_MESSAGE_DOMAIN = "amazonses.com"


def _replied_request(letter: Letter) -> RequestRecord | None:
    """The request one of whose emails the letter replies to, if it names one."""
    for replied in letter.replies_to:
        local, _, domain = replied.rpartition("@")
        if domain != _SES_MESSAGE_DOMAIN and not domain.endswith(f".{_SES_MESSAGE_DOMAIN}"):
            continue
        if request_id := requests_table.request_of_sent_email(local):
            return repository.get_request(request_id)
    return None


def _answer(letter: Letter, request: RequestRecord, sender: str | None, delivery: str) -> LetterOutcome:
    """A reply to one of `request`'s emails is an answer to it, never a new request: kept when it comes from
    the customer's own address (of record, else the one their token vouched for), vouched for; else ignored
    (anyone can write In-Reply-To)."""
    if request.personal_data_erased_at is not None:  # its retention is over: nothing of it is kept any more
        count("LetterAnswersIgnored")
        return LetterOutcome.IGNORED
    profile = customer_records.customer_profile(request.username)
    address = (profile.email if profile and profile.email else None) or request.customer_email
    if sender is None or address is None or address.strip().lower() != sender:
        count("LetterAnswersIgnored")
        logger.info("reply to a request's email not from its customer", request_id=request.request_id)
        return LetterOutcome.IGNORED
    text = letter.own_text or letter.reasons
    if not text.strip():
        count("LetterAnswersIgnored")
        return LetterOutcome.IGNORED
    at = datetime.now(UTC)
    letter_id = letter.message_id or f"ses:{delivery}"
    questions.answer_by_letter(request, text, letter_id, at)
    if letter.attachments:
        evidence.keep_letter_attachments(request, letter.attachments, letter_id, at)
    return LetterOutcome.ANSWERED


def _file(letter: Letter, delivery: str, source: str, vouched: bool) -> LetterOutcome:
    sender = letter.sender if vouched else None
    if (replied := _replied_request(letter)) is not None:
        return _answer(letter, replied, sender, delivery)
    answering = Answering(
        to=sender or source,
        letter_id=letter.message_id or "",
        subject=letter.subject,
        language=letter.language,
        labels=letter.labels,
    )
    reference = LetterReference(message_id=letter.message_id, subject=letter.subject, delivery_id=delivery)
    username = _account_of(letter)
    profile = customer_records.customer_profile(username) if username else None
    if profile is None or not profile.email or sender is None or profile.email.strip().lower() != sender:
        # No such account, or not its address: the same words either way (nothing said of another account).
        return _reply(answering, LetterProblem.NO_USERNAME)
    caller = Caller(username=profile.username, email=None, groups=frozenset())
    answering = replace(answering, language=letter.language or profile.language, name=profile.name or profile.username)
    orders = service.list_orders(caller, limit=100)  # read once: for the earlier try, then the order
    if _filed_from(reference, orders):
        return LetterOutcome.FILED
    order_id = _order_of(letter, orders)
    if order_id is None:
        return _reply(answering, LetterProblem.NO_ORDER)
    if not letter.ticket_id:
        return _reply(answering, LetterProblem.NO_TICKET)
    if problem := reason_problem(letter.reasons):
        return _reply(answering, problem)
    try:
        command = SubmitRefundRequest(order_id=order_id, reason=letter.reasons, support_ticket_id=letter.ticket_id)
    except ValidationError as invalid:  # an order or ticket id no API call could carry either
        return _reply(answering, LetterProblem.REFUSED, detail=str(invalid.errors()[0]["msg"]))
    try:
        filed = claims.submit_refund_request(caller, command, letter=reference)
    except ClaimsKeptChanging:
        raise  # a moment's contention, not an answer: the queue delivers the letter again
    except NotFound:
        return _reply(answering, LetterProblem.NO_ORDER)
    except RefundError as refused:
        return _reply(answering, LetterProblem.REFUSED, detail=refused.message)
    count("LettersFiled")
    if letter.attachments and (request := repository.get_request(filed.request_id)) is not None:
        evidence.keep_letter_attachments(request, letter.attachments, reference.identity, datetime.now(UTC))
    return LetterOutcome.FILED


_LETTERS = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=ONE_DAY)


def register_lambda_context(context: Any) -> None:
    """Lets an in-progress answer expire with the invocation, so that a crashed attempt can be retried."""
    _LETTERS.register_lambda_context(context)


@cache
def _answer_once() -> Any:
    def answer(letter: dict[str, Any]) -> str:
        if "problem" in letter:
            problem = LetterProblem(letter["problem"])
            return _reply(Answering(to=letter["source"]), problem).value
        read = letter["letter"]
        attachments = tuple(LetterAttachment(**attachment) for attachment in read.get("attachments", ()))
        filed = Letter(**{**read, "attachments": attachments, "replies_to": tuple(read.get("replies_to", ()))})
        return _file(filed, letter["delivery"], letter["source"], letter["vouched"]).value

    return idempotent_function(data_keyword_argument="letter", persistence_store=persistence(), config=_LETTERS)(answer)


def reset() -> None:
    """Forget the idempotent wrapper (tests and the local runner start a fresh emulated AWS)."""
    _answer_once.cache_clear()


def handle_letters_message(record: SQSRecord) -> LetterOutcome:
    """One message of the letters queue: SES's notification as SNS delivered it (raw), about one letter. A
    notification that is not one is logged and dropped (nothing could ever answer it); a failure of AWS is
    raised, so that the queue delivers the letter again."""
    try:
        notification = ReceiptNotification.model_validate_json(record.body)
    except ValidationError as error:
        logger.warning("not a receipt notification", errors=error.error_count())
        count("LettersUnreadableNotifications")
        return LetterOutcome.IGNORED
    return answer_letter(notification)
