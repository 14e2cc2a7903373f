"""One DynamoDB (and DynamoDB Streams) call at a time in moto, so that each call is atomic as in DynamoDB.

moto 5.2.5 applies a TransactWriteItems one write at a time, each emitting its stream record, and on a
failed condition puts back a deep copy of the table taken before the transaction. With other threads
about (HTTP requests, the stream poller, Step Functions executions) that means: a stream reader sees the
records of a transaction that is then cancelled; the copy put back erases what other threads wrote
meanwhile; and a shard iterator taken before keeps reading the discarded table's shard, blind to every
later record. Serializing the calls removes the first two (the cost is nil at a local runner's load); the
stream poller avoids the third by taking a fresh iterator from its checkpoint for every read, and holding
every other call off between taking it and reading with it (`one_at_a_time`)."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

_LOCK = threading.RLock()
_PATCHED = "_refund_local_atomic"


def _serialized(call_action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(call_action)
    def call_one_at_a_time(self: Any) -> Any:
        with _LOCK:
            return call_action(self)

    setattr(call_one_at_a_time, _PATCHED, True)
    return call_one_at_a_time


def make_dynamodb_calls_atomic() -> None:
    """Idempotent; process-wide, like moto's own patching."""
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        if not getattr(handler.call_action, _PATCHED, False):
            handler.call_action = _serialized(handler.call_action)  # type: ignore[method-assign]


@contextlib.contextmanager
def one_at_a_time() -> Iterator[None]:
    """Makes a block of DynamoDB calls of this thread one atomic step: no other thread's call runs between them."""
    with _LOCK:
        yield
