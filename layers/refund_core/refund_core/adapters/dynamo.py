"""Every DynamoDB call of the data-access modules (repository, customer_records) goes through `call`: throttling
that outlasts botocore's own retries is a ServiceBusy (503), counted, never a 500."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from refund_core.adapters import clients
from refund_core.errors import ServiceBusy
from refund_core.observability import count, logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_THROTTLED = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"})


def serialize(item: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def busy(error: ClientError) -> ServiceBusy:
    count("DynamoDBThrottled")
    logger.warning("DynamoDB throttled through every retry", operation=error.operation_name)
    return ServiceBusy("the service is busy; try again in a few seconds")


def call(operation: str, **arguments: Any) -> Any:
    """One DynamoDB call."""
    try:
        return getattr(clients.dynamodb(), operation)(**arguments)
    except ClientError as error:
        if error.response["Error"]["Code"] in _THROTTLED:
            raise busy(error) from error
        raise


def failed_condition(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"
