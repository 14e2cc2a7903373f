"""Lambda's DynamoDB event source mapping, emulated: a thread polls a table's stream and invokes the
function with batches of records in Lambda's event shape, configured by the function's `DynamoDB` event in
template.yaml (StartingPosition, BatchSize, FilterCriteria, FunctionResponseTypes, MaximumRetryAttempts,
BisectBatchOnFunctionError, the on-failure destination)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from refund_local.environment import REGION
from refund_local.provision import Template

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_dynamodbstreams.type_defs import RecordTypeDef

log = logging.getLogger("refund_local")

Invoke = Callable[[dict[str, Any]], Any]
_SCALARS = (str, int, float, bool, type(None))
_MAX_BACKOFF_SECONDS = 30.0
# Lambda's poller looks for new shards now and then, not before every read (moto never splits a shard): a
# DescribeStream per poll was half of what an idle runner asked of moto.
_DISCOVERY_SECONDS = 10.0


@dataclass(frozen=True)
class StreamSource:
    """One `Type: DynamoDB` event of a function in the template."""

    function: str
    code_uri: str
    handler: str
    table: str  # logical id of the table whose stream it reads
    starting_position: str
    batch_size: int
    report_batch_item_failures: bool
    maximum_retry_attempts: int  # -1: until the record expires
    bisect_batch_on_function_error: bool
    filter_patterns: tuple[dict[str, Any], ...]
    on_failure: str  # where AWS would send what is given up on, for the log line


def _is_prefix(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == ["prefix"] and isinstance(value["prefix"], str)


def _check_pattern(pattern: Mapping[str, Any], where: str) -> None:
    """Only exact values and prefixes (`{"key": {"nested": ["v1", {"prefix": "v"}]}}`) are emulated; anything
    else would be silently wrong, so it stops the runner."""
    for key, expected in pattern.items():
        if isinstance(expected, dict):
            _check_pattern(expected, where)
        elif not (
            isinstance(expected, list) and all(isinstance(value, _SCALARS) or _is_prefix(value) for value in expected)
        ):
            raise ValueError(
                f"{where}: filter {key!r}: {expected!r} is neither exact values nor prefixes, all refund-local emulates"
            )


def _allows(allowed: Any, value: Any) -> bool:
    if _is_prefix(allowed):
        return isinstance(value, str) and value.startswith(allowed["prefix"])
    # `True == 1` in Python, not in a filter.
    return bool(value == allowed and isinstance(value, bool) == isinstance(allowed, bool))


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Lambda event filtering (EventBridge pattern syntax): exact values and prefixes."""
    for key, expected in pattern.items():
        if key not in event:
            return False
        actual = event[key]
        if isinstance(expected, dict):
            if not (isinstance(actual, dict) and matches(expected, actual)):
                return False
        else:
            candidates = actual if isinstance(actual, list) else [actual]
            if not any(_allows(allowed, value) for value in candidates for allowed in expected):
                return False
    return True


def _destination(props: Mapping[str, Any]) -> str:
    on_failure = props.get("DestinationConfig", {}).get("OnFailure", {})
    destination = on_failure.get("Destination")
    if isinstance(destination, dict) and "Fn::GetAtt" in destination:
        return f"{on_failure.get('Type', 'destination')} {destination['Fn::GetAtt'][0]}"
    return str(destination or "nowhere (no OnFailure destination)")


def stream_sources(template: Template) -> list[StreamSource]:
    """Every DynamoDB stream event of every AWS::Serverless::Function, in template order."""
    defaults = template.get("Globals", {}).get("Function", {})
    sources: list[StreamSource] = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        for name, event in props.get("Events", {}).items():
            if event.get("Type") != "DynamoDB":
                continue
            where = f"{logical_id}.Events.{name}"
            event_props = event["Properties"]
            stream = event_props["Stream"]
            if not (
                isinstance(stream, dict) and list(stream) == ["Fn::GetAtt"] and stream["Fn::GetAtt"][1] == "StreamArn"
            ):
                raise ValueError(f"{where}: Stream must be !GetAtt <table>.StreamArn, got {stream!r}")
            patterns = tuple(
                json.loads(item["Pattern"]) for item in event_props.get("FilterCriteria", {}).get("Filters", [])
            )
            for pattern in patterns:
                _check_pattern(pattern, where)
            if event_props["StartingPosition"] not in {"TRIM_HORIZON", "LATEST"}:
                raise ValueError(f"{where}: StartingPosition {event_props['StartingPosition']} is not emulated")
            sources.append(
                StreamSource(
                    function=logical_id,
                    code_uri=props.get("CodeUri", defaults.get("CodeUri")),
                    handler=props.get("Handler", defaults.get("Handler")),
                    table=stream["Fn::GetAtt"][0],
                    starting_position=event_props["StartingPosition"],
                    batch_size=int(event_props.get("BatchSize", 100)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in event_props.get("FunctionResponseTypes", []),
                    maximum_retry_attempts=int(event_props.get("MaximumRetryAttempts", -1)),
                    bisect_batch_on_function_error=bool(event_props.get("BisectBatchOnFunctionError", False)),
                    filter_patterns=patterns,
                    on_failure=_destination(event_props),
                )
            )
    return sources


def lambda_record(record: RecordTypeDef, stream_arn: str, region: str) -> dict[str, Any]:
    """A stream record as Lambda delivers it: JSON-shaped, with the ARN and region of its source."""
    change: dict[str, Any] = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


class StreamPoller:
    """Reads every shard of one stream in order and hands the matching records to the function (`invoke`
    takes Lambda's event and answers the function's response), one batch at a time per shard, as the event
    source mapping would: a failed batch blocks its shard until it succeeds or is given up on."""

    def __init__(
        self,
        source: StreamSource,
        stream_arn: str,
        invoke: Invoke,
        *,
        streams: DynamoDBStreamsClient,
        region: str = REGION,
        poll_seconds: float = 0.2,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.source = source
        self.stream_arn = stream_arn
        self._invoke_function = invoke
        self._streams = streams
        self._region = region
        self._skip_existing = source.starting_position == "LATEST"
        self._poll_seconds = poll_seconds
        self._backoff_seconds = backoff_seconds
        # Per shard, the sequence number of the last record done with (None: none yet), and the iterator that
        # reads on from it.
        self._checkpoints: dict[str, str | None] = {}
        self._iterators: dict[str, str] = {}
        self._discover_at = 0.0  # time.monotonic() of the next look for new shards
        self._finished: set[str] = set()  # closed shards read to their end
        self._stopping = threading.Event()
        self._caught_up = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{source.function}", daemon=True)

    def start(self) -> StreamPoller:
        self._discover_shards()
        if self._skip_existing:
            # Start after what the stream holds now: read it, and leave it.
            for shard_id in self._checkpoints:
                while records := self._read(shard_id):
                    self._checkpoints[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
        self._thread.start()
        return self

    def drain(self, timeout: float) -> bool:
        """Waits until a poll finds nothing new (what the stream held is delivered or given up on)."""
        self._caught_up.clear()
        return self._caught_up.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _discover_shards(self) -> None:
        arguments: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self._streams.describe_stream(**arguments)["StreamDescription"]
            for shard in description.get("Shards", []):
                if shard["ShardId"] not in self._finished:
                    self._checkpoints.setdefault(shard["ShardId"], None)
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            arguments["ExclusiveStartShardId"] = last
        self._discover_at = time.monotonic() + _DISCOVERY_SECONDS

    def _read(self, shard_id: str) -> list[dict[str, Any]]:
        """The records after the shard's checkpoint."""
        iterator = self._iterators.get(shard_id)
        if iterator is None:
            checkpoint = self._checkpoints[shard_id]
            position: dict[str, Any] = (
                {"ShardIteratorType": "TRIM_HORIZON"}
                if checkpoint is None
                else {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": checkpoint}
            )
            taken = self._streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **position)
            iterator = taken["ShardIterator"]
        try:
            response = self._streams.get_records(ShardIterator=iterator, Limit=1000)
        except Exception:
            self._iterators.pop(shard_id, None)  # taken again from the checkpoint at the next read
            raise
        if next_iterator := response.get("NextShardIterator"):
            self._iterators[shard_id] = next_iterator
        else:  # closed, and read to its end: not read again, and its children are looked for at the next poll
            self._iterators.pop(shard_id, None)
            self._finished.add(shard_id)
            self._discover_at = 0.0
        return [lambda_record(record, self.stream_arn, self._region) for record in response.get("Records", [])]

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self._poll_once()
            except Exception:  # a local runner keeps polling, as Lambda does, whatever one poll hit
                log.exception("%s: polling the %s stream failed; trying again", self.source.function, self.source.table)
                self._stopping.wait(1.0)
                continue
            if not busy:
                self._caught_up.set()
                self._stopping.wait(self._poll_seconds)

    def _poll_once(self) -> bool:
        if time.monotonic() >= self._discover_at:
            self._discover_shards()
        busy = False
        for shard_id in [shard for shard in self._checkpoints if shard not in self._finished]:
            if self._stopping.is_set():
                break
            records = self._read(shard_id)
            wanted = [record for record in records if self._wanted(record)]
            for start in range(0, len(wanted), self.source.batch_size):
                self._deliver(wanted[start : start + self.source.batch_size], retries=0)
            if records:
                # Past every record read, delivered, given up on or filtered out.
                self._checkpoints[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                busy = True
        return busy

    def _wanted(self, record: Mapping[str, Any]) -> bool:
        patterns = self.source.filter_patterns
        return not patterns or any(matches(pattern, record) for pattern in patterns)

    def _invoke(self, batch: Sequence[dict[str, Any]]) -> tuple[int | None, bool]:
        """(index of the first record to retry, or None when all succeeded; whether the function failed)."""
        try:
            response = self._invoke_function({"Records": list(batch)})
        except Exception:  # the function's error: Lambda retries the batch
            log.exception("%s failed on a batch of %d records", self.source.function, len(batch))
            return 0, True
        if not self.source.report_batch_item_failures or not isinstance(response, dict):
            return None, False
        failures = response.get("batchItemFailures") or []
        positions = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(batch)}
        failed = [positions.get(failure.get("itemIdentifier") or "") for failure in failures]
        if any(index is None for index in failed):
            # An empty, null or unknown itemIdentifier fails the whole batch.
            return 0, False
        return (min(index for index in failed if index is not None) if failed else None), False

    def _deliver(self, batch: Sequence[dict[str, Any]], retries: int) -> None:
        pending = list(batch)
        while pending:
            failed_at, function_error = self._invoke(pending)
            if failed_at is None:
                return
            # Checkpoint before the first failed record; retry from there.
            pending = pending[failed_at:]
            limit = self.source.maximum_retry_attempts
            if 0 <= limit <= retries:
                self._give_up(pending, retries)
                return
            retries += 1
            delay = min(self._backoff_seconds * 2 ** (retries - 1), _MAX_BACKOFF_SECONDS)
            log.warning(
                "%s: %d records from sequence number %s failed; retry %d in %.1f s",
                self.source.function,
                len(pending),
                pending[0]["dynamodb"]["SequenceNumber"],
                retries,
                delay,
            )
            if self._stopping.wait(delay):
                return  # shutting down: left unprocessed, as a stopped event source mapping leaves them
            if function_error and self.source.bisect_batch_on_function_error and len(pending) > 1:
                # Each half carries on with the retries the batch has used.
                half = len(pending) // 2
                self._deliver(pending[:half], retries)
                self._deliver(pending[half:], retries)
                return

    def _give_up(self, records: Sequence[dict[str, Any]], retries: int) -> None:
        sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
        log.error(
            "%s: gave up on %d records (sequence numbers %s to %s) after %d retries; sent to %s "
            "(locally: this line only)",
            self.source.function,
            len(records),
            sequence_numbers[0],
            sequence_numbers[-1],
            retries,
            self.source.on_failure,
        )
