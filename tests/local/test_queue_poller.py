"""The SQS event source mapping's pollers (refund_local.queues) against moto's SQS: while the queue is empty
one receive at a time watches it, a slow invocation never leaves a new message waiting, and a stop delivers what
the queue holds, then ends at the first receive that finds it empty."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from refund_local.environment import REGION
from refund_local.queues import QueuePoller, QueueSource
from refund_local.stack import LocalAws


class _CountingSqs:
    """moto's SQS, with the receives counted."""

    def __init__(self) -> None:
        self._sqs = boto3.client("sqs", region_name=REGION)
        self.receives = 0
        self.found: list[int] = []  # the number of messages each receive found

    def receive_message(self, **arguments: Any) -> Any:
        self.receives += 1
        received = self._sqs.receive_message(**arguments)
        self.found.append(len(received.get("Messages", [])))
        return received

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)


@pytest.fixture
def queue(stack: LocalAws) -> str:
    url: str = boto3.client("sqs", region_name=REGION).create_queue(QueueName="poller-test")["QueueUrl"]
    return url


def _poller(queue_url: str, sqs: Any, invoke: Any, concurrency: int) -> QueuePoller:
    source = QueueSource("TestFunction", "TestQueue", 1, report_batch_item_failures=False, concurrency=concurrency)
    return QueuePoller(source, queue_url, invoke, sqs)


def test_an_empty_queue_is_watched_by_one_receive_at_a_time(queue: str) -> None:
    sqs = _CountingSqs()
    poller = _poller(queue, sqs, lambda event: None, concurrency=5).start()
    try:
        time.sleep(3.5)  # long polls of 1 s
    finally:
        poller.stop()
    # One watcher: about one receive a second (five pollers each polling would make about 17).
    assert sqs.receives <= 6


def test_a_slow_invocation_does_not_keep_the_next_message_waiting(queue: str) -> None:
    first_started, second_started, release = threading.Event(), threading.Event(), threading.Event()

    def invoke(event: dict[str, Any]) -> None:
        if event["Records"][0]["body"] == "first":
            first_started.set()
            release.wait(30)
        else:
            second_started.set()

    sqs = boto3.client("sqs", region_name=REGION)
    poller = _poller(queue, sqs, invoke, concurrency=2).start()
    try:
        sqs.send_message(QueueUrl=queue, MessageBody="first")
        assert first_started.wait(5)
        time.sleep(1.5)  # the other poller's receive after the first message has found the queue empty
        sqs.send_message(QueueUrl=queue, MessageBody="second")
        assert second_started.wait(5), "the second message waited for the first's invocation"
        assert not release.is_set()
    finally:
        release.set()
        poller.stop()


def test_a_finish_delivers_what_the_queue_holds_and_stops_at_the_first_empty_receive(queue: str) -> None:
    delivered: list[str] = []
    sqs = _CountingSqs()
    for body in ("one", "two", "three"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    poller = _poller(queue, sqs, lambda event: delivered.append(event["Records"][0]["body"]), concurrency=1)
    poller.start().finish(timeout=10)

    assert sorted(delivered) == ["one", "three", "two"]
    # No receive after the empty one: it would have held the stop for up to a second more.
    assert sqs.found == [1, 1, 1, 0]
