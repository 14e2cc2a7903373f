"""What callers send: the bodies of API.md's routes, validated before any service code runs."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from refund_core.models import Text

_ALLOWED_CONTROLS = {"\n", "\r", "\t"}


class _Command(BaseModel):
    # Unknown fields (a `username`, say) are ignored: identity comes from the authorizer only.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")


def _free_text(value: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters")
    if not value.strip():
        raise ValueError("must contain some text")
    if any(unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS for char in value):
        raise ValueError("must not contain control characters")
    return value


class SubmitRefundRequest(_Command):
    order_id: Text = Field(description="The order whose payment the customer wants back")
    reason: str = Field(min_length=1, description="Why the customer gives up the service (1 to 2,000 characters)")
    support_ticket_id: Text = Field(description="The support ticket that proves the technical problem")

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return _free_text(value, 2000)


class AssessCommand(_Command):
    action: Literal["assess"]


class ApproveCommand(_Command):
    action: Literal["approve"]
    amount: Annotated[str, Field(max_length=40, pattern=r"^\d+(\.\d+)?$")] | None = Field(
        default=None, description="Decimal string in the order's currency; left out for a full refund"
    )
    note: str | None = None

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return None if value is None else _free_text(value, 2000)

    def amount_decimal(self) -> Decimal | None:
        return None if self.amount is None else Decimal(self.amount)


class RefuseCommand(_Command):
    action: Literal["refuse"]
    note: str = Field(min_length=1, description="The reviewer's reason, sent to the customer")

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        return _free_text(value, 2000)


EvaluateCommand = Annotated[AssessCommand | ApproveCommand | RefuseCommand, Field(discriminator="action")]
