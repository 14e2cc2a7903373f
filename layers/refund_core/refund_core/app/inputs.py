"""What callers send: the bodies and path parameters of API.md's routes, validated before any service
code runs."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from refund_core.errors import InvalidInput
from refund_core.http.resolver import PATH_ID_MAX_LENGTH, PATH_ID_PATTERN
from refund_core.policy.evidence import (
    MAX_BYTES,
    MAX_NAME_CHARACTERS,
    EvidenceType,
    extension_problem,
    file_name_problem,
)
from refund_core.policy.models import ID_PATTERN, CamelModel, RequestStatus, Text

# No control character (Unicode category Cc: C0, DEL and C1) but tab, line feed and carriage return. Checked by
# `_free_text`, for a message a person can read, and declared in the OpenAPI document from the same pattern.
_NO_CONTROLS = re.compile(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")
# Characters are code points, as API.md counts them (and as Python's len and JSON Schema's maxLength do).
FreeText = Annotated[str, Field(min_length=1, max_length=2000, json_schema_extra={"pattern": _NO_CONTROLS.pattern})]


# Characters that show nothing: controls, format characters (zero-width space, byte-order mark...), spaces and
# separators (API.md "A text field counts as empty...").
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _written_as_iso_date(value: object) -> object:
    # pydantic also reads a number as a Unix time ("0" is 1970-01-01): a date is only ever written YYYY-MM-DD.
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise PydanticCustomError("date_format", "must be a date written YYYY-MM-DD")


# The days a filter, a report or a simulation may name: those of the years the service can have seen. Further
# out, a day's start in Hong Kong time is not a moment Python can convert to UTC (year 1, year 9999).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def _within_the_service_years(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise PydanticCustomError(
            "date_range", "must be a date from {first} to {last}", {"first": str(FIRST_DAY), "last": str(LAST_DAY)}
        )
    return value


# A Hong Kong calendar date in a query or a body (API.md: ISO dates).
IsoDate = Annotated[date, BeforeValidator(_written_as_iso_date), AfterValidator(_within_the_service_years)]
# A report or a simulation covers at most a year of requests.
MAX_PERIOD_DAYS = 366


class Period(CamelModel):
    """A period of Hong Kong dates, both included, in a body."""

    start: IsoDate = Field(alias="from", description="A Hong Kong date: requests received from its start")
    end: IsoDate = Field(alias="to", description="A Hong Kong date: requests received until its end")


def check_period(first: date, last: date, what: str) -> None:
    """A period of Hong Kong dates, both included: in order, and at most MAX_PERIOD_DAYS long."""
    if first > last:
        raise InvalidInput("from must not be after to", field="from", code="period_reversed")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise InvalidInput(
            f"a {what} covers at most {MAX_PERIOD_DAYS} days",
            field="to",
            code="period_too_long",
            params={"days": MAX_PERIOD_DAYS},
        )


# A request id in a path: API Gateway hands it over decoded, so it is checked like any other input.
RequestId = Annotated[str, Path(min_length=1, max_length=PATH_ID_MAX_LENGTH, pattern=PATH_ID_PATTERN)]

# A claim's ids in a path and a query (GET /orders/{orderId}/assessment), as API.md writes ids.
OrderId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]
SupportTicketId = Annotated[
    str,
    Query(
        alias="supportTicketId",
        min_length=1,
        max_length=128,
        pattern=ID_PATTERN,
        description="The support ticket that proves the technical problem",
    ),
]


class _Command(CamelModel):
    # Unknown fields (a `username`, say) are ignored: identity comes from the authorizer only.
    model_config = ConfigDict(extra="ignore")


def _free_text(value: str) -> str:
    if not _NO_CONTROLS.fullmatch(value):
        raise PydanticCustomError("control_characters", "must not contain control characters")
    if any(unicodedata.category(character) == "Cs" for character in value):
        raise PydanticCustomError("control_characters", "must not contain a lone surrogate (half of a UTF-16 pair)")
    if all(unicodedata.category(character) in _INVISIBLE for character in value):
        raise PydanticCustomError("no_visible_text", "must contain some visible text")
    return value


class SubmitRefundRequest(_Command):
    order_id: Text = Field(description="The order whose payment the customer wants back", examples=["ord-1001"])
    reason: FreeText = Field(
        description="Why the customer gives up the service (1 to 2,000 characters, some of them not spaces)",
        examples=["The VPN drops every few minutes"],
    )
    support_ticket_id: Text = Field(
        description="The support ticket that proves the technical problem", examples=["T-1001"]
    )

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return _free_text(value)


class AssessCommand(_Command):
    action: Literal["assess"]
    policy: Literal["receipt", "current"] = Field(
        default="receipt",
        description="The policy to assess under: the version in force when the request was received, or now",
    )


class ApproveCommand(_Command):
    action: Literal["approve"]
    # [0-9], not \d: \d also matches other scripts' digits ("١٢"), which Decimal would read as 12.
    amount: Annotated[str, Field(max_length=40, pattern=r"^[0-9]+(\.[0-9]+)?$")] | None = Field(
        default=None,
        description="Decimal string in the order's currency; left out for a full refund",
        examples=["7.50"],
    )
    note: FreeText | None = Field(default=None, description="The note to the customer (1 to 2,000 characters)")
    internal_note: FreeText | None = Field(
        default=None, description="For staff only: kept in the history, never emailed or shown to the customer"
    )

    @field_validator("note", "internal_note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return None if value is None else _free_text(value)

    def amount_decimal(self) -> Decimal | None:
        return None if self.amount is None else Decimal(self.amount)


class RefuseCommand(_Command):
    action: Literal["refuse"]
    note: FreeText = Field(description="The reviewer's reason, sent to the customer (1 to 2,000 characters)")
    internal_note: FreeText | None = Field(
        default=None, description="For staff only: kept in the history, never emailed or shown to the customer"
    )

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        return _free_text(value)

    @field_validator("internal_note")
    @classmethod
    def _internal_note(cls, value: str | None) -> str | None:
        return None if value is None else _free_text(value)


class TakeCommand(_Command):
    """A reviewer takes a pending request to review it: theirs until they release it or someone takes it over."""

    action: Literal["take"]
    take_over: StrictBool = Field(
        default=False, description="Take the request from the reviewer who holds it (without: a 409 while held)"
    )


class ReleaseCommand(_Command):
    action: Literal["release"]


class ConfirmApprovalCommand(_Command):
    """Four eyes: another reviewer than its approver makes an approval above the policy's secondApprovalAbove
    the decision."""

    action: Literal["confirmApproval"]
    internal_note: FreeText | None = Field(
        default=None, description="For staff only: kept in the history, never emailed or shown to the customer"
    )

    @field_validator("internal_note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return None if value is None else _free_text(value)


class AskCustomerCommand(_Command):
    """A reviewer asks the customer for what the request lacks: the customer is emailed, and answers on the
    request's page or by replying to any of its emails. The review deadline keeps running."""

    action: Literal["askCustomer"]
    question: FreeText = Field(description="The question, sent to the customer (1 to 2,000 characters)")

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return _free_text(value)


class AnswerQuestion(_Command):
    """The customer's answer to the reviewer's open question."""

    answer: FreeText = Field(description="The customer's answer (1 to 2,000 characters)")

    @field_validator("answer")
    @classmethod
    def _answer(cls, value: str) -> str:
        return _free_text(value)


# What a reviewer may do to a request (POST /refund-requests/{id}/evaluate), told apart by its `action`.
type EvaluateAction = (
    AssessCommand
    | ApproveCommand
    | RefuseCommand
    | TakeCommand
    | ReleaseCommand
    | ConfirmApprovalCommand
    | AskCustomerCommand
)
EvaluateCommand = Annotated[EvaluateAction, Field(discriminator="action")]


class AttachEvidence(_Command):
    """A file to attach to a pending request: its type, its name and its size, before its bytes are sent."""

    content_type: EvidenceType = Field(description="PDF, PNG, JPEG or plain text")
    file_name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARACTERS)] = Field(
        description="The file's name as the person knows it (shown, and given to downloads), ending as its type "
        "does (.pdf, .png, .jpg or .jpeg, .txt)",
        examples=["receipt.pdf"],
    )
    size: Annotated[int, Field(ge=1, le=MAX_BYTES)] = Field(description="Bytes; at most 10 MiB")

    @field_validator("file_name")
    @classmethod
    def _name(cls, value: str, info: ValidationInfo) -> str:
        if problem := file_name_problem(value):
            raise PydanticCustomError("file_name", problem)
        content_type = info.data.get("content_type")
        if content_type is not None and (problem := extension_problem(value, content_type)):
            raise PydanticCustomError("extension", problem)
        return value


# A long job's id (app/jobs.py new_job_id), a decisions export's or a policy simulation's: the moment it was asked
# for (to the microsecond, UTC), then 12 hex digits.
_JOB_ID = Path(min_length=1, max_length=64, pattern=r"^[0-9]{8}T[0-9]{12}-[0-9a-f]{12}$")
ExportId = Annotated[str, _JOB_ID]
SimulationId = Annotated[str, _JOB_ID]
EvidenceId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^ev_[0-9A-Z]+$")]


ReplyId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$", description="lower case, digits, hyphens")
]


class SaveCannedReply(_Command):
    """A canned reply created (no `version`) or edited (the `version` read: a 409 if it changed since)."""

    title: Annotated[str, Field(min_length=1, max_length=80)]
    english: FreeText
    chinese: FreeText
    version: Annotated[int, Field(ge=1)] | None = None

    @field_validator("title", "english", "chinese")
    @classmethod
    def _text(cls, value: str) -> str:
        return _free_text(value)


class RetireCannedReply(_Command):
    version: Annotated[int, Field(ge=1, description="The version read")]


@dataclass(frozen=True)
class RequestListing:
    """`GET /refund-requests`' filters as sent (API.md), each validated by the route; None: not narrowed. The
    received dates are Hong Kong days, both inclusive."""

    status: RequestStatus | None = None
    overdue: bool | None = None
    username: str | None = None
    order_id: str | None = None
    received_from: date | None = None
    received_to: date | None = None
    held_by: str | None = None
