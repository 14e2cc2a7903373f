"""Lambda's SQS event source mapping and EventBridge schedules, emulated, as template.yaml configures them.

- `QueuePoller`: threads (the event source's MaximumConcurrency) receive a queue's messages (a long poll,
  then what else waits, up to the batch size) and invoke the function with them in Lambda's SQS event shape; what succeeds is deleted, what `ReportBatchItemFailures` names (or every
  message, when the function fails) stays and comes back after its visibility timeout, and after the
  queue's `maxReceiveCount` the emulated SQS moves it to the dead-letter queue.
- `Schedule`: a thread invokes a function at its `rate(...)`, with a scheduled event's shape."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from refund_local.environment import REGION
from refund_local.provision import Template

log = logging.getLogger("refund_local")

Invoke = Callable[[dict[str, Any]], Any]
_RATE = re.compile(r"^rate\((\d+) (second|seconds|minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class QueueSource:
    """One `Type: SQS` event of a function in the template."""

    function: str
    queue: str  # logical id
    batch_size: int
    report_batch_item_failures: bool
    # ScalingConfig.MaximumConcurrency: how many batches at once (Lambda's pollers), else 2.
    concurrency: int = 2


@dataclass(frozen=True)
class ScheduleSource:
    """One `Type: Schedule` event of a function in the template."""

    function: str
    name: str
    every_seconds: float


def _functions(template: Template) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, resource.get("Properties", {}))
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
    ]


def queue_sources(template: Template) -> list[QueueSource]:
    sources: list[QueueSource] = []
    for logical_id, props in _functions(template):
        for name, event in props.get("Events", {}).items():
            if event.get("Type") != "SQS":
                continue
            queue = event["Properties"]["Queue"]
            if not (isinstance(queue, dict) and "Fn::GetAtt" in queue and queue["Fn::GetAtt"][1] == "Arn"):
                raise ValueError(f"{logical_id}.Events.{name}: Queue must be !GetAtt <queue>.Arn, got {queue!r}")
            sources.append(
                QueueSource(
                    function=logical_id,
                    queue=queue["Fn::GetAtt"][0],
                    batch_size=int(event["Properties"].get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in event["Properties"].get("FunctionResponseTypes", []),
                    concurrency=int(event["Properties"].get("ScalingConfig", {}).get("MaximumConcurrency", 2)),
                )
            )
    return sources


def schedule_sources(template: Template, every_seconds: float | None = None) -> list[ScheduleSource]:
    """`every_seconds` replaces every schedule's rate (demos and tests)."""
    sources: list[ScheduleSource] = []
    for logical_id, props in _functions(template):
        for name, event in props.get("Events", {}).items():
            if event.get("Type") != "Schedule":
                continue
            expression = str(event["Properties"]["Schedule"])
            found = _RATE.fullmatch(expression)
            if found is None:
                raise ValueError(
                    f"{logical_id}.Events.{name}: {expression!r} is not a rate(), all refund-local emulates"
                )
            seconds = int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]
            sources.append(ScheduleSource(logical_id, name, every_seconds or float(seconds)))
    return sources


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for message in messages
        ]
    }


class QueuePoller:
    """Lambda's SQS event source mapping: up to `concurrency` pollers, each a long poll, a batch and the
    function. While the queue is empty one receive at a time watches it and the pollers not in one rest; they
    all poll again as soon as a receive finds messages, and one takes over the watch when no receive is left
    (a long poll per poller and second was most of what an idle runner asked of moto)."""

    def __init__(self, source: QueueSource, queue_url: str, invoke: Invoke, sqs: Any) -> None:
        self.source = source
        self._queue_url = queue_url
        self._invoke = invoke
        self._sqs = sqs
        self._arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._stopping = threading.Event()
        self._finishing = threading.Event()  # stop at the first receive that finds the queue empty
        self._watch = threading.Condition()
        self._receiving = 0  # pollers in a receive, under _watch
        self._messages_waiting = False  # the last receive found messages: every free poller polls
        self._threads = [
            threading.Thread(target=self._run, name=f"queue-{source.function}-{number}", daemon=True)
            for number in range(max(1, source.concurrency))
        ]

    def start(self) -> QueuePoller:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_soon()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def stop_soon(self) -> None:
        """No new receive: each poller ends once its receive (at most a second) and its invocation are done."""
        self._stopping.set()
        with self._watch:
            self._watch.notify_all()  # the resting pollers see the stop

    def finish(self, timeout: float) -> None:
        """Stops once a receive finds the queue empty (what it held is delivered, or waits its backoff), or after
        `timeout`: no receive starts after the empty one (each would hold the stop for up to a second)."""
        self._finishing.set()
        self._stopping.wait(timeout)
        self.stop()

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._watch:
                if self._stopping.is_set():  # set under the watch by a finishing receive
                    break
                if self._receiving and not self._messages_waiting:
                    self._watch.wait(1.0)
                    continue
                self._receiving += 1
            try:
                self._poll_once()
            except Exception:  # a local runner keeps polling, as Lambda does, whatever one poll hit
                log.exception("%s: polling %s failed; trying again", self.source.function, self.source.queue)
                self._stopping.wait(1.0)

    def _receive(self) -> list[dict[str, Any]]:
        received = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=min(self.source.batch_size, 10),
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = received.get("Messages", [])
        # A long poll answers as soon as one message is there; Lambda's poller fills the batch from what waits.
        while (
            messages
            and len(messages) < self.source.batch_size
            and (
                more := self._sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=min(self.source.batch_size - len(messages), 10),
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            )
        ):
            messages += more
        return messages

    def _poll_once(self) -> None:
        """One receive (this poller counted in `_receiving` by `_run`), then the function on what it found."""
        messages: list[dict[str, Any]] | None = None  # None: the receive failed
        try:
            messages = self._receive()
        finally:
            with self._watch:
                self._receiving -= 1
                self._messages_waiting = bool(messages)
                if messages == [] and self._finishing.is_set():
                    self._stopping.set()  # before the pollers it wakes can start another receive
                self._watch.notify_all()
        if not messages:
            return
        try:
            response = self._invoke(sqs_event(messages, self._arn))
        except Exception:  # the function's error: every message comes back after its visibility timeout
            log.exception("%s failed on %d messages", self.source.function, len(messages))
            return
        failed: set[str] = set()
        if self.source.report_batch_item_failures and isinstance(response, dict):
            failed = {str(item.get("itemIdentifier")) for item in response.get("batchItemFailures") or []}
        done = [message for message in messages if message["MessageId"] not in failed]
        if done:
            deleted = self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(done)],
            )
            for failure in deleted.get("Failed", []):  # it comes back after its visibility timeout, as in AWS
                log.warning("%s: a done message was not deleted: %s", self.source.function, failure.get("Code"))


class Schedule:
    def __init__(self, source: ScheduleSource, invoke: Invoke) -> None:
        self.source = source
        self._invoke = invoke
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{source.function}", daemon=True)

    def start(self) -> Schedule:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.wait(self.source.every_seconds):
            try:
                self._invoke(scheduled_event(self.source.name, datetime.now(UTC)))
            except Exception:  # the next run does the same work
                log.exception("%s: the scheduled run failed", self.source.function)


def scheduled_event(schedule: str, at: datetime, event_id: str | None = None) -> dict[str, Any]:
    """What EventBridge passes a function on its schedule."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/{schedule}"],
        "detail": {},
    }
