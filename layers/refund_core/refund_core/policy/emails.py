"""The emails the service sends (API.md "Emails"): which ones a change of a request calls for, and each
rendered from the request by pure functions.

The wording lives in `email_templates/`: `<name>.txt` (a `Subject: ...` line, a blank line, the body) and
`<name>.html`, both filled with `string.Template`. In the HTML part every value is escaped: a customer's
reason or a reviewer's note may hold markup. Customers read the policy's words ("refund", "claim",
"working days"), never the service's codes; reviewers and supervisors get the facts they act on."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from enum import StrEnum
from functools import cache
from importlib import resources
from string import Template
from typing import assert_never
from zoneinfo import ZoneInfo

from refund_core.policy.document import Policy
from refund_core.policy.models import Decision, Outcome, RefundRequest, RefundType, RequestStatus


class EmailKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    DECISION = "decision"
    CANCELLATION = "cancellation"
    REMINDER = "reminder"
    ESCALATION = "escalation"


@dataclass(frozen=True)
class Recipients:
    """Where each kind of email goes: the customer (None: no address known), reviewers, supervisors; and the
    customer's name of record, which greets them (their username when the records hold none)."""

    customer: str | None
    reviewers: str
    supervisors: str
    customer_name: str | None = None


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


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
_PARTIAL_AT_DISCRETION = "Under our Refund Policy such a refund is at our sole discretion."


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
            kinds.append(EmailKind.ESCALATION)
    return tuple(kinds)


@cache
def _templates(name: str) -> tuple[Template, Template, Template]:
    folder = resources.files("refund_core.policy").joinpath("email_templates")
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


def _fill(name: str, to: str, values: Mapping[str, Value]) -> Email:
    subject_template, text_template, html_template = _templates(name)
    subject = subject_template.substitute({key: value for key, value in values.items() if isinstance(value, str)})
    return Email(
        to=to,
        subject=subject,
        text=text_template.substitute({key: _as_text(value) for key, value in values.items()}),
        html=html_template.substitute(
            {"subject": html.escape(subject), **{key: _as_html(value) for key, value in values.items()}}
        ),
    )


def long_date(moment: datetime, zone: ZoneInfo) -> str:
    """The local calendar date in full, with the year: "Friday 11 December 2026"."""
    local = moment.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y}"


def _date_and_time(moment: datetime, policy: Policy) -> str:
    zone = ZoneInfo(policy.time_zone)
    place = policy.time_zone.rsplit("/", 1)[-1].replace("_", " ")
    return f"{long_date(moment, zone)}, {moment.astimezone(zone):%H:%M} {place} time"


def money_path(payment_channel: str | None, policy: Policy) -> str:
    """Where the money goes and how long it usually takes; for a channel the company cannot refund
    (the App Store), who refunds it instead."""
    excluded_reason = policy.excluded_channel_reasons.get(payment_channel or "")
    if payment_channel in policy.excluded_payment_channels and excluded_reason:
        return excluded_reason
    return f"We pay the refund {policy.refund_path(payment_channel)}."


def _customer_address(request: RefundRequest, recipients: Recipients) -> str:
    if not recipients.customer:
        raise NoRecipient(f"refund request {request.request_id} has no customer email address")
    return recipients.customer


def _decision_of(request: RefundRequest) -> Decision:
    if request.decision is None:
        raise ValueError(f"refund request {request.request_id} is {request.status} but has no decision")
    return request.decision


def _decision_email(request: RefundRequest, policy: Policy, to: str, common: dict[str, Value]) -> Email:
    decision = _decision_of(request)
    if request.status is RequestStatus.REFUSED:
        return _fill("refusal", to, {**common, "reasons": decision.reasons})
    if request.status is not RequestStatus.APPROVED or decision.amount is None:
        raise ValueError(f"refund request {request.request_id} is {request.status} with no refunded amount")
    values: dict[str, Value] = {
        **common,
        "amount": str(decision.amount),
        "money_path": money_path(request.payment_channel, policy),
    }
    if decision.refund_type is RefundType.FULL:
        return _fill("approval_full", to, values)
    # The partial-path rules that failed, then the reviewer's own words; the bare policy if neither.
    reasons = (*decision.reasons, *((decision.note,) if decision.note else ())) or (_PARTIAL_AT_DISCRETION,)
    return _fill("approval_partial", to, {**values, "amount_paid": str(request.amount_paid), "reasons": reasons})


def _staff_values(request: RefundRequest, policy: Policy, common: dict[str, Value]) -> dict[str, Value]:
    assessment = request.assessment
    outcome = _OUTCOME_WORDS[assessment.outcome]
    if assessment.suggested_amount is not None and assessment.outcome is not Outcome.FULL_REFUND:
        outcome = f"{outcome} (suggested amount {assessment.suggested_amount})"
    return {
        **common,
        "amount_paid": str(request.amount_paid),
        "received": _date_and_time(request.received_at, policy),
        "deadline": _date_and_time(request.deadline, policy),
        "deadline_date": long_date(request.deadline, ZoneInfo(policy.time_zone)),
        "outcome": outcome,
    }


def render(kind: EmailKind, request: RefundRequest, policy: Policy, recipients: Recipients) -> Email:
    """The email of `kind` about `request`, as it stands in the stream image that called for it."""
    zone = ZoneInfo(policy.time_zone)
    common: dict[str, Value] = {
        "request_id": request.request_id,
        "order_id": request.order_id,
        "username": request.username,
        "customer_name": recipients.customer_name or request.username,
    }
    match kind:
        case EmailKind.ACKNOWLEDGEMENT:
            values: dict[str, Value] = {
                **common,
                "received_on": long_date(request.received_at, zone),
                "reason": request.reason,
                "working_days": str(policy.review_working_days),
                "decision_by": long_date(request.deadline, zone),
            }
            return _fill("acknowledgement", _customer_address(request, recipients), values)
        case EmailKind.DECISION:
            return _decision_email(request, policy, _customer_address(request, recipients), common)
        case EmailKind.CANCELLATION:
            return _fill("cancellation", _customer_address(request, recipients), common)
        case EmailKind.REMINDER:
            return _fill("reminder", recipients.reviewers, _staff_values(request, policy, common))
        case EmailKind.ESCALATION:
            return _fill("escalation", recipients.supervisors, _staff_values(request, policy, common))
        case _:
            assert_never(kind)


def mime_message(email: Email, sender: str) -> bytes:
    """The email as a MIME multipart/alternative message (plain text, then HTML) for SES SendRawEmail."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message.as_bytes()
