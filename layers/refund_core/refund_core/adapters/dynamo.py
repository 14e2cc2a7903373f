"""Every DynamoDB call of the data-access modules (repository, customer_records) goes through `call`: throttling
that outlasts botocore's own retries is a ServiceBusy (503), counted, never a 500."""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from refund_core.adapters import clients
from refund_core.errors import InvalidInput, ServiceBusy
from refund_core.observability import count, logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
# The codes of a call DynamoDB refused for throughput: the caller is told to try again (503).
THROTTLED = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"})


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
        if error.response["Error"]["Code"] in THROTTLED:
            raise busy(error) from error
        raise


def query_pages(arguments: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """What a Query finds, a page (at most 1 MB) at a time, deserialized."""
    while True:
        response = call("query", **arguments)
        yield [deserialize(item) for item in response.get("Items", [])]
        if "LastEvaluatedKey" not in response:
            return
        arguments = {**arguments, "ExclusiveStartKey": response["LastEvaluatedKey"]}


def query_all(arguments: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every item a Query finds, page after page, deserialized."""
    return [item for page in query_pages(arguments) for item in page]


def failed_condition(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def written(operation: str, **arguments: Any) -> bool:
    """A conditional write: True when it was made, False when its condition failed."""
    try:
        call(operation, **arguments)
    except ClientError as error:
        if failed_condition(error):
            return False
        raise
    return True


def stored(table: str, item: Mapping[str, Any]) -> bool:
    """Whether the table holds `item` exactly (read consistently by its `pk` and `sk`). A conditional write whose
    condition failed may be its own: its first try's answer was lost, and botocore's retry found it in place."""
    key = {"pk": item["pk"], "sk": item["sk"]}
    found = call("get_item", TableName=table, Key=key, ConsistentRead=True).get("Item")
    return bool(found == item)


# DynamoDB's limit for a sort key value (a partition key value may have 2,048 bytes; ours are far shorter).
_MAX_KEY_BYTES = 1024


def encode_token(key: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def decode_token(token: str, expected_keys: set[str], partition: tuple[str, str]) -> dict[str, Any]:
    """The key a page ended on, from a token the same query issued. DynamoDB answers anything else (a key
    that is not a non-empty string, one over its key size, one outside the query's partition) with a
    ValidationException, which would be our 500."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error) as error:
        raise InvalidInput("nextToken is not a token this service issued", field="nextToken") from error
    valid = (
        isinstance(key, dict)
        and set(key) == expected_keys
        and all(
            isinstance(value, dict)
            and set(value) == {"S"}
            and isinstance(value["S"], str)
            and 0 < len(value["S"].encode("utf-8", "surrogatepass")) <= _MAX_KEY_BYTES
            for value in key.values()
        )
        and key[partition[0]]["S"] == partition[1]
    )
    if not valid:
        raise InvalidInput("nextToken is not a token this service issued", field="nextToken")
    return dict(key)


@dataclass(frozen=True)
class Page[Item]:
    """One page of a listing, and the token of the next one (None: this was the last)."""

    items: tuple[Item, ...]
    next_token: str | None


_BATCH_TRIES = 5
_BATCH_BACKOFF_SECONDS = 0.02


def batch_get(
    table: str, keys: list[dict[str, AttributeValueTypeDef]], projection: str | None = None
) -> list[dict[str, Any]]:
    """The table's items of `keys` (at most 100), read consistently (a projection may name `#status`)."""
    request: dict[str, Any] = {"Keys": keys, "ConsistentRead": True}
    if projection:
        request |= {"ProjectionExpression": projection, "ExpressionAttributeNames": {"#status": "status"}}
    return batch_get_tables({table: request})[table]


def batch_get_tables(requests: Mapping[str, Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """One BatchGetItem over several tables (each request as BatchGetItem takes it: keys, consistency...), the
    items found by table; unprocessed keys tried again with jitter."""
    unprocessed: dict[str, Any] = dict(requests)
    found: dict[str, list[dict[str, Any]]] = {table: [] for table in requests}
    for attempt in range(_BATCH_TRIES):
        response = call("batch_get_item", RequestItems=unprocessed)
        for table, items in response.get("Responses", {}).items():
            found[table] += [deserialize(item) for item in items]
        unprocessed = dict(response.get("UnprocessedKeys") or {})
        if not unprocessed:
            return found
        time.sleep(random.uniform(0, _BATCH_BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter
    raise ServiceBusy("the service is busy; try again in a few seconds")
