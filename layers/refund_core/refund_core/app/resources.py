"""What callers are shown: the resources of API.md, made from the stored records, never the records
themselves (no optimistic-lock version, no stored address)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from refund_core.policy.models import RefundRequest


class RefundRequestResource(RefundRequest):
    """A refund request as API.md shows it."""

    @classmethod
    def of(cls, request: RefundRequest) -> Self:
        return cls.model_validate(request, from_attributes=True)


class RequestList(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    items: tuple[RefundRequestResource, ...]
    next_token: str | None
