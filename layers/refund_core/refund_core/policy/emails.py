"""The emails the service sends (API.md "Emails"): which ones a change of a request calls for, and each
rendered from the request by pure functions.

The wording lives in `email_templates/<language>/`: `<name>.txt` (a `Subject: ...` line, a blank line, the
body) and `<name>.html`, both filled with `string.Template`, and `phrases.json` (dates, the money's path). A
customer's email is in their language of record (`en` or `zh-HK`, English when unknown); the reviewers' and
supervisors' are in English. A decision's reasons are its failed rules' sentences in the customer's language
(policy/reasons.py); a Chinese email says once that the English policy prevails. In the HTML part every value is escaped: a customer's
reason or a reviewer's note may hold markup. Customers read the policy's words ("refund", "claim",
"working days"), never the service's codes; reviewers and supervisors get the facts they act on."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from string import Template
from typing import assert_never
from urllib.parse import quote
from zoneinfo import ZoneInfo

from refund_core.policy.calendar import ReviewCalendar
from refund_core.policy.document import Policy
from refund_core.policy.letters import FIELD_ASKED_FOR, LetterProblem
from refund_core.policy.models import (
    Decision,
    Language,
    Outcome,
    RefundRequest,
    RefundType,
    RequestStatus,
    RuleResult,
)
from refund_core.policy.payouts import Payout
from refund_core.policy.reasons import english_prevails, reason_text
from refund_core.policy.wording import (
    day_words,
    long_date,
    money_path,
    payout_failure_words,
    phrases,
    refund_path_words,
)


class EmailKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    DECISION = "decision"
    CANCELLATION = "cancellation"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    # The customer's apology when the deadline passed without a decision, with the new expectation.
    DELAY = "delay"
    # What became of the approval's payout (PAYOUTS.md): sent, with its reference; or not, and what happens next.
    PAYOUT_SENT = "payout_sent"
    PAYOUT_FAILED = "payout_failed"
    # A reviewer's question: what they ask, how to answer, and that the deadline still holds.
    QUESTION = "question"


LANGUAGES: tuple[Language, ...] = ("en", "zh-HK")


@dataclass(frozen=True)
class Recipients:
    """Where each kind of email goes: the customer (None: no address known), reviewers, supervisors; the
    customer's name of record, which greets them ("Dear customer" when the records hold none), and their
    language; where customers reach support and their Control Panel (the web app, whose pages the emails
    link)."""

    customer: str | None
    reviewers: str
    supervisors: str
    customer_name: str | None = None
    customer_language: Language = "en"
    support: str = "support@example.com"
    control_panel: str = "https://example.com/"


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    # The Message-ID of the letter this answers: the mail programs thread the answer under it.
    in_reply_to: str | None = None
    # An answer the service made by itself to a letter: marked so (RFC 3834) that no auto-responder answers it.
    auto_replied: bool = False


class NoRecipient(ValueError):
    """No email address is known for the request's customer."""


# A value is one piece of text, or a list the renderer lays out (bullets in text, <ul> in HTML).
Value = str | tuple[str, ...]

_OUTCOME_WORDS = {
    Outcome.FULL_REFUND: "full refund",
    Outcome.PARTIAL_REFUND: "partial refund at the company's discretion",
    Outcome.REFUSED: "refused",
    Outcome.NEEDS_REVIEW: "needs review: some facts are unknown",
}


_DECIDED = frozenset({RequestStatus.APPROVED, RequestStatus.REFUSED})


def emails_owed(old: RefundRequest | None, new: RefundRequest | None) -> tuple[EmailKind, ...]:
    """The emails a change of a request calls for (docs/design.md "Emails"): `old` None for a new request,
    `new` None for a removed one."""
    if new is None:
        return ()
    if old is None:
        if new.status is RequestStatus.PENDING:
            return (EmailKind.ACKNOWLEDGEMENT,)
        return (EmailKind.DECISION,) if new.status in _DECIDED else ()
    kinds: list[EmailKind] = []
    if new.status in _DECIDED and old.status not in _DECIDED:
        kinds.append(EmailKind.DECISION)
    if old.status is RequestStatus.PENDING and new.status is RequestStatus.CANCELLED:
        kinds.append(EmailKind.CANCELLATION)
    if new.status is RequestStatus.PENDING:
        if new.reminded and not old.reminded:
            kinds.append(EmailKind.REMINDER)
        if new.overdue and not old.overdue:
            kinds += (EmailKind.ESCALATION, EmailKind.DELAY)
    return tuple(kinds)


@cache
def _templates(name: str, language: str = "en") -> tuple[Template, Template, Template]:
    folder = resources.files("refund_core.policy").joinpath("email_templates", language)
    head, _, body = folder.joinpath(f"{name}.txt").read_text("utf-8").partition("\n\n")
    if not head.startswith("Subject: ") or "\n" in head:
        raise ValueError(f"email template {name}.txt must start with one 'Subject: ' line and a blank line")
    html_template = folder.joinpath(f"{name}.html").read_text("utf-8")
    return Template(head.removeprefix("Subject: ")), Template(body), Template(html_template)


def _as_text(value: Value) -> str:
    if isinstance(value, str):
        return value
    return "\n".join(f"- {item}" for item in value)


def _as_html(value: Value) -> str:
    if isinstance(value, str):
        return html.escape(value).replace("\n", "<br>\n")
    items = "".join(f"<li>{_as_html(item)}</li>\n" for item in value)
    return f"<ul>\n{items}</ul>"


def _fill(name: str, to: str, values: Mapping[str, Value], language: str = "en") -> Email:
    subject_template, text_template, html_template = _templates(name, language)
    subject = subject_template.substitute({key: value for key, value in values.items() if isinstance(value, str)})
    return Email(
        to=to,
        subject=subject,
        text=text_template.substitute({key: _as_text(value) for key, value in values.items()}),
        html=html_template.substitute(
            {"subject": html.escape(subject), **{key: _as_html(value) for key, value in values.items()}}
        ),
    )


def _date_and_time(moment: datetime, policy: Policy) -> str:
    zone = ZoneInfo(policy.time_zone)
    place = policy.time_zone.rsplit("/", 1)[-1].replace("_", " ")
    return f"{long_date(moment, zone)}, {moment.astimezone(zone):%H:%M} {place} time"


def _customer_address(request: RefundRequest, recipients: Recipients) -> str:
    if not recipients.customer:
        raise NoRecipient(f"refund request {request.request_id} has no customer email address")
    return recipients.customer


def _decision_of(request: RefundRequest) -> Decision:
    if request.decision is None:
        raise ValueError(f"refund request {request.request_id} is {request.status} but has no decision")
    return request.decision


def _reasons_in(decision: Decision, language: str) -> dict[str, Value]:
    """The decision's reasons in `language` (each failed rule's sentence, then the reviewer's own words), and
    the one line saying the English policy prevails when any was translated."""
    if not decision.grounds:  # decided before grounds were recorded: the English reasons as they stand
        return {"reasons": decision.reasons, "english_prevails": english_prevails(language, decision.reasons)}

    def words(ground: RuleResult) -> str:
        if ground.code is None:
            return ground.reason
        return reason_text(ground.id, ground.code, ground.params, language, lambda iso: day_words(iso, language))

    reasons = (*map(words, decision.grounds), *((decision.note,) if decision.note else ()))
    return {"reasons": reasons, "english_prevails": english_prevails(language, decision.grounds)}


def _decision_email(request: RefundRequest, policy: Policy, to: str, common: dict[str, Value], language: str) -> Email:
    decision = _decision_of(request)
    if request.status is RequestStatus.REFUSED:
        return _fill("refusal", to, {**common, **_reasons_in(decision, language)}, language)
    if request.status is not RequestStatus.APPROVED or decision.amount is None:
        raise ValueError(f"refund request {request.request_id} is {request.status} with no refunded amount")
    values: dict[str, Value] = {
        **common,
        "amount": decision.amount.written(),
        "money_path": money_path(request.payment_channel, policy, language),
    }
    if decision.refund_type is RefundType.FULL:
        return _fill("approval_full", to, values, language)
    # The partial-path rules that failed, then the reviewer's own words; the bare policy if neither.
    given = _reasons_in(decision, language)
    if not decision.grounds and decision.note:
        given["reasons"] = (*decision.reasons, decision.note)
    if not given["reasons"]:
        given["reasons"] = (str(phrases(language)["partialAtDiscretion"]),)
    values |= {"amount_paid": request.amount_paid.written(), **given}
    return _fill("approval_partial", to, values, language)


def _staff_values(request: RefundRequest, policy: Policy, common: dict[str, Value]) -> dict[str, Value]:
    assessment = request.assessment
    outcome = _OUTCOME_WORDS[assessment.outcome]
    if assessment.suggested_amount is not None and assessment.outcome is not Outcome.FULL_REFUND:
        outcome = f"{outcome} (suggested amount {assessment.suggested_amount.written()})"
    return {
        **common,
        "amount_paid": request.amount_paid.written(),
        "received": _date_and_time(request.received_at, policy),
        "deadline": _date_and_time(request.deadline, policy),
        "deadline_date": long_date(request.deadline, ZoneInfo(policy.time_zone)),
        "outcome": outcome,
    }


def render(
    kind: EmailKind, request: RefundRequest, policy: Policy, recipients: Recipients, payout: Payout | None = None
) -> Email:
    """The email of `kind` about `request`, as it stands in the stream image that called for it (and, for the
    payout's emails, its payout); for a request that came by letter, the customer's emails answer the letter
    (LETTERS.md "Answering")."""
    email = _render(kind, request, policy, recipients, payout)
    if request.letter is None or kind in (EmailKind.REMINDER, EmailKind.ESCALATION):
        return email
    subject = request.letter.subject or email.subject
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    return replace(email, subject=subject, in_reply_to=request.letter.message_id)


def letter_reply(
    problem: LetterProblem,
    to: str,
    language: str,
    values: Mapping[str, str],
    *,
    labels: Mapping[str, str] | None = None,
    letter_message_id: str = "",
    letter_subject: str = "",
) -> Email:
    """The one reply to a letter that cannot become a request: what is missing or wrong, and what to do, in
    the label the customer used for the missing field (`labels`), else the app's own."""
    language = language if language in LANGUAGES else "en"
    catalogue = phrases(language)
    words = catalogue["letterProblems"][problem.value]
    asked_for = FIELD_ASKED_FOR.get(problem)
    label = (labels or {}).get(asked_for or "") or (str(catalogue["letterLabels"][asked_for]) if asked_for else "")
    phrased = {**values, "label": label}
    filled = {
        **values,
        "problem": str(words["problem"]).format(**phrased),
        "what_to_do": str(words["whatToDo"]).format(**phrased),
    }
    email = _fill("letter_reply", to, filled, language)
    subject = letter_subject if letter_subject.lower().startswith("re:") else f"Re: {letter_subject or email.subject}"
    return replace(email, subject=subject, in_reply_to=letter_message_id or None, auto_replied=True)


def _payout_email(
    kind: EmailKind, payout: Payout | None, policy: Policy, to: str, *, common: dict[str, Value], language: str
) -> Email:
    if payout is None:
        raise ValueError(f"the {kind} email is about a payout, and there is none")
    values: dict[str, Value] = {**common, "amount": payout.amount.written()}
    if kind is EmailKind.PAYOUT_SENT:
        sent = payout.sent_at or payout.state_since
        values |= {
            "sent_on": long_date(sent, ZoneInfo(policy.time_zone), language),
            "payout_reference": payout.reference or payout.request_id,
            "sent_path": str(phrases(language)["sentPath"]).format(
                path=refund_path_words(payout.payment_channel, policy, language)
            ),
        }
        return _fill("payout_sent", to, values, language)
    return _fill("payout_failed", to, values | {"failure_reason": payout_failure_words(payout.failure_reason, language)},
                 language)  # fmt: skip


def _render(
    kind: EmailKind, request: RefundRequest, policy: Policy, recipients: Recipients, payout: Payout | None
) -> Email:
    zone = ZoneInfo(policy.time_zone)
    language = recipients.customer_language if recipients.customer_language in LANGUAGES else "en"
    common: dict[str, Value] = {
        "request_id": request.request_id,
        "order_id": request.order_id,
        "username": request.username,
        # A username is not a name: without a name of record the customer is greeted as a customer.
        "customer_name": recipients.customer_name or str(phrases(language)["customerFallback"]),
        "request_url": f"{recipients.control_panel}#/requests/{quote(request.request_id, safe='')}",
        "support_email": recipients.support,
        "control_panel_url": recipients.control_panel,
    }
    match kind:
        case EmailKind.ACKNOWLEDGEMENT:
            values: dict[str, Value] = {
                **common,
                "received_on": long_date(request.received_at, zone, language),
                "reason": request.reason,
                "working_days": str(policy.review_working_days),
                "decision_by": long_date(request.deadline, zone, language),
            }
            return _fill("acknowledgement", _customer_address(request, recipients), values, language)
        case EmailKind.DECISION:
            return _decision_email(request, policy, _customer_address(request, recipients), common, language)
        case EmailKind.CANCELLATION:
            return _fill("cancellation", _customer_address(request, recipients), common, language)
        case EmailKind.DELAY:
            promised = ReviewCalendar(policy).decision_promised_after_delay(request.deadline)
            values = {
                **common,
                "working_days": str(policy.review_working_days),
                "decision_by": long_date(request.deadline, zone, language),
                "new_decision_by": long_date(promised, zone, language),
            }
            return _fill("delay", _customer_address(request, recipients), values, language)
        case EmailKind.QUESTION:
            values = {
                **common,
                "question": _question_of(request),
                "working_days": str(policy.review_working_days),
                "decision_by": long_date(request.deadline, zone, language),
            }
            return _fill("question", _customer_address(request, recipients), values, language)
        case EmailKind.PAYOUT_SENT | EmailKind.PAYOUT_FAILED:
            to = _customer_address(request, recipients)
            return _payout_email(kind, payout, policy, to, common=common, language=language)
        case EmailKind.REMINDER:
            return _fill("reminder", recipients.reviewers, _staff_values(request, policy, common))
        case EmailKind.ESCALATION:
            return _fill("escalation", recipients.supervisors, _staff_values(request, policy, common))
        case _:
            assert_never(kind)


def _question_of(request: RefundRequest) -> str:
    """The question the email asks: the latest asked (a new one replaces the last, answered or not)."""
    if request.question is None:
        raise ValueError(f"refund request {request.request_id} has no question to email")
    return request.question.question
