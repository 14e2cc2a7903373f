"""The emulated DynamoDB event source mapping (refund_local.stream) against moto's stream of the requests
table, with a stand-in function: filtering, batching, the Lambda record shape, partial batch failures,
retries, bisecting and giving up, as template.yaml's NotifierFunction event configures them."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from refund_local.environment import REGION
from refund_local.provision import load_template
from refund_local.stack import LocalAws
from refund_local.stream import StreamPoller, StreamSource, matches, stream_sources

REQUEST_ONLY = {"dynamodb": {"Keys": {"sk": {"S": ["REQUEST"]}}}}
Answer = Callable[[list[dict[str, Any]]], Any]


@pytest.fixture
def notifier_source() -> StreamSource:
    return next(source for source in stream_sources(load_template()) if source.function == "NotifierFunction")


class Function:
    """Records the sequence numbers of every batch it is given and answers as told."""

    def __init__(self, answer: Answer = lambda records: {"batchItemFailures": []}) -> None:
        self.batches: list[list[str]] = []
        self.records: list[dict[str, Any]] = []
        self._answer = answer

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.batches.append([record["dynamodb"]["SequenceNumber"] for record in event["Records"]])
        self.records.extend(event["Records"])
        return self._answer(event["Records"])


def put(stack: LocalAws, pk: str, sk: str = "REQUEST") -> None:
    table = stack.table_names["RequestsTable"]
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": sk}})


def cancelled_transaction(stack: LocalAws) -> None:
    """A transaction that puts REQUEST#cancelled on condition that REQUEST#first is not there: it is, so the
    transaction is cancelled."""
    table = stack.table_names["RequestsTable"]
    with pytest.raises(ClientError, match="TransactionCanceled"):
        boto3.client("dynamodb", region_name=REGION).transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "REQUEST#cancelled"}, "sk": {"S": "REQUEST"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "REQUEST#first"}, "sk": {"S": "REQUEST"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )


def keys(function: Function) -> list[str]:
    return [record["dynamodb"]["Keys"]["pk"]["S"] for record in function.records]


def poll(stack: LocalAws, source: StreamSource, function: Function, streams: Any = None) -> StreamPoller:
    table = stack.table_names[source.table]
    stream_arn = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=table)["Table"][
        "LatestStreamArn"
    ]
    streams = streams or boto3.client("dynamodbstreams", region_name=REGION)
    return StreamPoller(
        source,
        stream_arn,
        lambda event: function(event, None),
        streams=streams,
        region=REGION,
        poll_seconds=0.01,
        backoff_seconds=0.01,
    ).start()


def eventually(condition: Callable[[], bool], timeout: float = 10) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, "not within the time"
        time.sleep(0.01)


def test_the_notifier_event_is_read_from_the_template(notifier_source: StreamSource) -> None:
    assert notifier_source == StreamSource(
        function="NotifierFunction",
        code_uri="functions/notifier/",
        handler="app.lambda_handler",
        table="RequestsTable",
        starting_position="TRIM_HORIZON",
        batch_size=10,
        report_batch_item_failures=True,
        maximum_retry_attempts=5,
        bisect_batch_on_function_error=True,
        filter_patterns=(
            {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": ["REQUEST", {"prefix": "OWED#"}]}}}},
            {
                "eventName": ["MODIFY"],
                "dynamodb": {
                    "Keys": {"sk": {"S": ["REQUEST"]}},
                    "OldImage": {"status": {"S": ["PENDING"]}},
                    "NewImage": {"status": {"S": ["APPROVED", "REFUSED", "CANCELLED"]}},
                },
            },
        ),
        on_failure="SQS NotifierDeadLetterQueue",
    )


def test_filter_patterns_match_exact_values_and_prefixes() -> None:
    record = {"eventName": "MODIFY", "dynamodb": {"Keys": {"sk": {"S": "REQUEST"}}, "NewImage": {"n": {"N": "1"}}}}
    assert matches(REQUEST_ONLY, record)
    assert not matches(REQUEST_ONLY, {"dynamodb": {"Keys": {"sk": {"S": "HISTORY#x"}}}})
    assert not matches(REQUEST_ONLY, {"dynamodb": {}})
    assert matches({"eventName": ["INSERT", "MODIFY"]}, record)
    assert not matches({"flag": [True]}, {"flag": 1})
    assert matches({"tags": ["b"]}, {"tags": ["a", "b"]})
    owed = {"dynamodb": {"Keys": {"sk": {"S": ["REQUEST", {"prefix": "OWED#"}]}}}}
    assert matches(owed, {"dynamodb": {"Keys": {"sk": {"S": "OWED#email#decision"}}}})
    assert matches(owed, record)
    assert not matches(owed, {"dynamodb": {"Keys": {"sk": {"S": "HISTORY#OWED#"}}}})
    assert not matches({"n": [{"prefix": "1"}]}, {"n": 1})


def test_a_content_filter_it_cannot_emulate_stops_the_runner() -> None:
    template = copy.deepcopy(load_template())
    event = template["Resources"]["NotifierFunction"]["Properties"]["Events"]["RequestsStream"]["Properties"]
    event["FilterCriteria"]["Filters"][0]["Pattern"] = json.dumps(
        {"dynamodb": {"Keys": {"sk": {"S": [{"anything-but": "R"}]}}}}
    )
    with pytest.raises(ValueError, match="neither exact values nor prefixes"):
        stream_sources(template)


def test_only_matching_records_are_delivered_in_batches_shaped_as_lambda_does(
    stack: LocalAws, notifier_source: StreamSource
) -> None:
    for index in range(12):
        put(stack, f"REQUEST#{index}")
        put(stack, f"REQUEST#{index}", sk=f"HISTORY#{index}")
    function = Function()
    poller = poll(stack, notifier_source, function)
    try:
        eventually(lambda: len(function.records) == 12)
    finally:
        poller.stop()
    assert [len(batch) for batch in function.batches] == [10, 2]
    assert keys(function) == [f"REQUEST#{index}" for index in range(12)]
    record = function.records[0]
    assert {name: record[name] for name in ("eventName", "eventSource", "awsRegion", "eventSourceARN")} == {
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "eventSourceARN": poller.stream_arn,
    }
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert record["dynamodb"]["NewImage"] == {"pk": {"S": "REQUEST#0"}, "sk": {"S": "REQUEST"}}


def test_a_partial_failure_is_retried_from_the_first_failed_record(
    stack: LocalAws, notifier_source: StreamSource
) -> None:
    for index in range(5):
        put(stack, f"REQUEST#{index}")

    def fail_once(records: list[dict[str, Any]]) -> Any:
        if len(function.batches) > 1:
            return None
        return {"batchItemFailures": [{"itemIdentifier": records[i]["dynamodb"]["SequenceNumber"]} for i in (4, 2)]}

    function = Function(fail_once)
    poller = poll(stack, notifier_source, function)
    try:
        eventually(lambda: len(function.batches) == 2)
        put(stack, "REQUEST#later")
        eventually(lambda: len(function.batches) == 3)
    finally:
        poller.stop()
    first, retry, later = function.batches
    assert retry == first[2:]
    assert len(later) == 1
    assert keys(function)[-1] == "REQUEST#later"


def test_an_empty_item_identifier_fails_the_whole_batch(stack: LocalAws, notifier_source: StreamSource) -> None:
    for index in range(3):
        put(stack, f"REQUEST#{index}")
    function = Function(
        lambda records: {"batchItemFailures": [{"itemIdentifier": ""}]} if len(function.batches) == 1 else {}
    )
    poller = poll(stack, notifier_source, function)
    try:
        eventually(lambda: len(function.batches) == 2)
    finally:
        poller.stop()
    assert function.batches[0] == function.batches[1]


def test_records_are_given_up_on_after_the_maximum_retries(
    stack: LocalAws, notifier_source: StreamSource, caplog: pytest.LogCaptureFixture
) -> None:
    put(stack, "REQUEST#poison")

    def fail_on_poison(records: list[dict[str, Any]]) -> Any:
        if any(record["dynamodb"]["Keys"]["pk"]["S"] == "REQUEST#poison" for record in records):
            raise RuntimeError("cannot send this one")
        return None

    function = Function(fail_on_poison)
    poller = poll(stack, replace(notifier_source, maximum_retry_attempts=2), function)
    try:
        eventually(lambda: len(function.batches) == 3)
        put(stack, "REQUEST#next")
        eventually(lambda: keys(function)[-1] == "REQUEST#next")
    finally:
        poller.stop()
    assert len(function.batches) == 4
    assert "gave up on 1 records" in caplog.text
    assert "sent to SQS NotifierDeadLetterQueue" in caplog.text


def test_a_failing_batch_is_bisected_down_to_the_poison_record(
    stack: LocalAws, notifier_source: StreamSource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="refund_local")
    for index in range(4):
        put(stack, f"REQUEST#{index}")

    def fail_on_two(records: list[dict[str, Any]]) -> Any:
        if any(record["dynamodb"]["Keys"]["pk"]["S"] == "REQUEST#2" for record in records):
            raise RuntimeError("cannot send this one")
        return None

    function = Function(fail_on_two)
    poller = poll(stack, notifier_source, function)
    try:
        eventually(lambda: "gave up" in caplog.text)
        eventually(lambda: len(function.batches) == 8)
    finally:
        poller.stop()
    every = function.batches[0]
    # Halves, then halves of the failing half; the poison record alone until its 5 retries are used up.
    assert function.batches == [every, every[:2], every[2:], *[[every[2]]] * 4, [every[3]]]
    assert "gave up on 1 records" in caplog.text


def test_latest_starts_after_what_the_stream_holds(stack: LocalAws, notifier_source: StreamSource) -> None:
    put(stack, "REQUEST#old")
    function = Function()
    poller = poll(stack, replace(notifier_source, starting_position="LATEST"), function)
    try:
        put(stack, "REQUEST#new")
        eventually(lambda: bool(function.records))
    finally:
        poller.stop()
    assert keys(function) == ["REQUEST#new"]


def test_a_cancelled_transaction_neither_shows_nor_hides_records(
    stack: LocalAws, notifier_source: StreamSource
) -> None:
    """moto writes a transaction's items, then puts back a copy of the table when a condition fails: the
    poller must not deliver the cancelled writes, and must still see every record after them."""
    put(stack, "REQUEST#first")
    function = Function()
    poller = poll(stack, notifier_source, function)
    try:
        eventually(lambda: keys(function) == ["REQUEST#first"])
        cancelled_transaction(stack)
        put(stack, "REQUEST#after")
        eventually(lambda: "REQUEST#after" in keys(function))
    finally:
        poller.stop()
    assert keys(function) == ["REQUEST#first", "REQUEST#after"]


def test_a_transaction_cancelled_while_the_poller_reads_shows_nothing(
    stack: LocalAws, notifier_source: StreamSource
) -> None:
    """The poller takes an iterator, then reads with it: a transaction cancelled between the two calls must
    not make it read the discarded table's shard (the cancelled writes), nor lose the records after it. In
    `refund-local serve`, 50 submits at once once made it acknowledge a request refused with a 409, then
    lose the next request's records."""
    put(stack, "REQUEST#first")
    racing: list[threading.Thread] = []

    def another_thread_writes_meanwhile(**_: Any) -> None:
        if not racing:
            racing.append(threading.Thread(target=cancelled_transaction, args=(stack,)))
            racing[0].start()
            racing[0].join(timeout=0.3)  # as long as it may take, unless the poller holds it off

    streams = boto3.client("dynamodbstreams", region_name=REGION)
    streams.meta.events.register("after-call.dynamodbstreams.GetShardIterator", another_thread_writes_meanwhile)
    function = Function()
    poller = poll(stack, notifier_source, function, streams)
    try:
        eventually(lambda: bool(racing) and not racing[0].is_alive())
        put(stack, "REQUEST#after")
        eventually(lambda: "REQUEST#after" in keys(function), timeout=5)
    finally:
        poller.stop()
    assert keys(function) == ["REQUEST#first", "REQUEST#after"]


class _SplitStream:
    """A stream whose first shard closes after two records; its child, listed once the parent is closed, holds
    a third. Counts the calls the poller makes."""

    def __init__(self) -> None:
        self.describes = 0
        self.reads: list[str] = []
        self.parent_closed = False

    def describe_stream(self, StreamArn: str, **_: Any) -> dict[str, Any]:
        self.describes += 1
        shards = [{"ShardId": "parent"}] + ([{"ShardId": "child", "ParentShardId": "parent"}] * self.parent_closed)
        return {"StreamDescription": {"Shards": shards}}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, **position: Any) -> dict[str, Any]:
        return {"ShardIterator": f"{ShardId}:{position.get('SequenceNumber', '')}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        shard, _, after = ShardIterator.partition(":")
        self.reads.append(shard)
        if shard == "parent":
            self.parent_closed = True
            # Closed: no NextShardIterator, whatever the iterator.
            return {"Records": [] if after else [_record("1", "a"), _record("2", "b")]}
        return {"Records": [] if after else [_record("3", "c")], "NextShardIterator": "child:3"}


def _record(sequence_number: str, pk: str) -> dict[str, Any]:
    return {
        "eventID": sequence_number,
        "eventName": "INSERT",
        "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": "REQUEST"}}, "SequenceNumber": sequence_number},
    }


def test_a_closed_shard_is_read_once_to_its_end_then_its_child(stack: LocalAws, notifier_source: StreamSource) -> None:
    split, function = _SplitStream(), Function()
    poller = poll(stack, replace(notifier_source, filter_patterns=()), function, streams=split)
    try:
        eventually(lambda: keys(function) == ["a", "b", "c"])
        time.sleep(0.3)  # 30 more polls at 0.01 s
    finally:
        poller.stop()

    assert keys(function) == ["a", "b", "c"]  # each once, the parent's first
    assert split.reads.count("parent") == 1
    # Shards are looked for at the start, once the parent closed, and not before every read.
    assert split.describes == 2
    assert split.reads.count("child") > 10
