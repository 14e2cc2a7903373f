"""What moto 5.2.5 needs to behave as DynamoDB does when several callers use it at once: each call atomic,
and transactions that write nothing unless every condition holds.

- moto's DynamoDB is not thread-safe: the HTTP requests of the workers, the stream poller and the Step
  Functions executions all reach the same backend. One call at a time restores DynamoDB's per-call
  atomicity (the cost is nil at a local runner's load).
- moto's TransactWriteItems deep-copies every table it touches, once per item of the transaction, then
  applies the writes one by one (each emitting its stream record) and, on a failed condition, puts the
  copies back in place of the tables. That costs time in proportion to everything the tables hold (and
  their stream records, never trimmed), shows a stream reader the records of a transaction that is then
  cancelled, and leaves a shard iterator taken before reading the discarded table's shard. Here a
  transaction checks every condition first and writes only when all hold; the tables are never replaced.
  A write that fails after the checks (a malformed update, which our code never sends) is undone item by
  item."""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

_LOCK = threading.RLock()
_PATCHED = "_refund_local_atomic"
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
_writes = 0
_OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})
MAX_TRANSACTION_ITEMS = 100


def _serialized(call_action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(call_action)
    def call_one_at_a_time(self: Any) -> Any:
        global _writes  # noqa: PLW0603 - one counter for the process, under the lock
        with _LOCK:
            if self._get_action() in _WRITES:
                _writes += 1
            return call_action(self)

    setattr(call_one_at_a_time, _PATCHED, True)
    return call_one_at_a_time


def _key_of(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _failed_condition(backend: DynamoDBBackend, op: dict[str, Any], key: dict[str, Any]) -> tuple[Any, ...] | None:
    """(code, message, item) of the cancellation reason when the operation's condition fails, else None."""
    expression = op.get("ConditionExpression")
    if expression is None:
        return None
    current = backend.get_item(op["TableName"], key)
    condition = get_filter_expression(
        expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    if condition.expr(current):
        return None
    wants_item = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current is not None
    item = current.to_json()["Attributes"] if wants_item and current is not None else None
    return ("ConditionalCheckFailed", ConditionalCheckFailed(item=item).message, item)


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """TransactWriteItems as DynamoDB does it: all of it, or nothing (not even a stream record)."""
    if len(transact_items) > MAX_TRANSACTION_ITEMS:
        raise TooManyTransactionsException()
    operations: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    targets: set[tuple[str, str]] = set()
    reasons: list[tuple[Any, ...]] = []
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException()
        op_type, op = next(iter(entry.items()))
        if op_type not in _OPERATIONS:
            reasons.append(("ValidationException", f"Unsupported transaction operation {op_type}", None))
            continue
        key = _key_of(self, op_type, op)
        target = (str(op["TableName"]), str(dict(sorted(key.items()))))
        if target in targets:
            raise MultipleTransactionsException()
        targets.add(target)
        operations.append((op_type, op, key))
        reasons.append(_failed_condition(self, op, key) or (None, None, None))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    undo: list[tuple[str, dict[str, Any], Any]] = []
    try:
        for op_type, op, key in operations:
            table_name = op["TableName"]
            undo.append((table_name, key, copy.deepcopy(self.get_item(table_name, key))))
            if op_type == "Put":
                self.put_item(table_name, op["Item"])
            elif op_type == "Delete":
                self.delete_item(table_name, key)
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=op.get("ExpressionAttributeNames") or {},
                    expression_attribute_values=op.get("ExpressionAttributeValues") or {},
                )
    except Exception:
        for table_name, key, before in reversed(undo):
            if before is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before.to_json()["Attributes"])
        raise


def writes_so_far() -> int:
    """How many DynamoDB write calls this process's emulator has taken (the state changed when it grows)."""
    return _writes


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """A block of this process's own work on moto's tables that no DynamoDB call interleaves with."""
    with _LOCK:
        yield


def make_dynamodb_calls_atomic() -> None:
    """Idempotent; process-wide, like moto's own patching."""
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        if not getattr(handler.call_action, _PATCHED, False):
            handler.call_action = _serialized(handler.call_action)  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
