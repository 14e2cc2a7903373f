"""How a refund request is stored: the request plus what only storage needs (the optimistic-lock
`version`, the address its emails go to), and the same item as the requests table's stream carries it."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamChangedRecordModel, DynamoDBStreamRecordModel
from pydantic import Discriminator, Tag

from refund_core.policy.models import RefundRequest

# The sort key of a request item; the table's other items (history, claim markers) are the repository's.
REQUEST_SK = "REQUEST"


class RequestRecord(RefundRequest):
    """The request item of the requests table (its keys are the repository's business)."""

    customer_email: str | None = None
    # Every API write is conditional on the version it read, and bumps it.
    version: int = 1


def _item_kind(image: Any) -> str:
    request = isinstance(image, RequestRecord) or (isinstance(image, dict) and image.get("sk") == REQUEST_SK)
    return "request" if request else "other"


# A request item's image is validated whole; any other item of the table stays as it is, and is ignored.
Image = Annotated[
    Annotated[RequestRecord, Tag("request")] | Annotated[dict[str, Any], Tag("other")], Discriminator(_item_kind)
]


class RequestImages(DynamoDBStreamChangedRecordModel):
    """A change of an item of the requests table: Powertools deserialises the images, this model validates
    those of a request."""

    NewImage: Image | None = None  # narrowed from Powertools' dict
    OldImage: Image | None = None


class RequestStreamRecord(DynamoDBStreamRecordModel):
    """One record of the requests table's stream (the event source's filter passes request items only)."""

    dynamodb: RequestImages
