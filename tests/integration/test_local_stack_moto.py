"""What the local stack changes in moto 5.2.5 for speed must change nothing a caller sees:

- refund_local.moto_patches.atomic: a transaction checks every condition before it writes (moto copies whole tables and
  puts them back): a failed one leaves no item and no stream record; a write that fails after the checks is
  undone;
- refund_local.moto_patches.speed: a query reads its partition (moto sorts the whole table first): each query of the
  table and of its indexes answers what a scan of the whole table, filtered and sorted as DynamoDB would,
  answers, through puts, updates that move an item from one index partition to another, and deletes; and
  the item operations, their requests read and their answers written as JSON, answer what moto's own parser
  and serializer make of them; an update expression, valid or not, is answered as moto's own validators answer it;
  executions of one state machine share no evaluation component;
- refund_local.moto_patches.snapshots: each stack after the first in a process is a copy of what provisioning
  made, and shows what a stack provisioned from scratch shows, whatever the stacks before it were left holding;
  its queues wake a waiting receive;
- refund_local.state: a save writes again only the items written since the last, and what it saved is what the
  tables hold, through puts, updates, deletes and transactions."""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from api_support import table_stream_records
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.parsing import validators as moto_validators
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.dynamodb.parsing.validators import ActionCountValidator, OverlappingPathsValidator
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from refund_core.settings import settings
from refund_local.environment import REGION
from refund_local.provision import load_template
from refund_local.stack import LocalAws
from refund_local.state import DataDir

INDEXES = {"ByStatus": ("gsi1pk", "gsi1sk"), "ByCustomer": ("gsi2pk", "gsi2sk"), "ByOwed": ("gsi3pk", "gsi3sk")}


def _dynamodb() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def _every_item(operation: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of every page of a scan or a query (`operation`), each page asked from where the last ended."""
    items: list[dict[str, Any]] = []
    while True:
        page = getattr(_dynamodb(), operation)(**arguments)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        arguments = arguments | {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def _all_items(table: str) -> list[dict[str, Any]]:
    return _every_item("scan", {"TableName": table, "ConsistentRead": True})


def test_a_transaction_whose_last_condition_fails_writes_nothing_not_even_a_stream_record(stack: LocalAws) -> None:
    table = settings().requests_table_name
    _dynamodb().put_item(TableName=table, Item={"pk": {"S": "REQUEST#a"}, "sk": {"S": "REQUEST"}, "n": {"N": "1"}})
    before_items, before_records = _all_items(table), len(table_stream_records())

    with pytest.raises(ClientError) as raised:
        _dynamodb().transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "REQUEST#b"}, "sk": {"S": "REQUEST"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "REQUEST#a"}, "sk": {"S": "REQUEST"}},
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": "REQUEST#a"}, "sk": {"S": "HISTORY#1"}},
                        "ConditionExpression": "attribute_exists(sk)",
                    }
                },
            ]
        )

    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [reason["Code"] for reason in raised.value.response["CancellationReasons"]] == [
        "None",
        "None",
        "ConditionalCheckFailed",
    ]
    assert _all_items(table) == before_items
    assert len(table_stream_records()) == before_records


def test_a_transaction_that_fails_after_its_checks_is_undone_item_by_item(stack: LocalAws) -> None:
    table = settings().requests_table_name
    _dynamodb().put_item(TableName=table, Item={"pk": {"S": "REQUEST#a"}, "sk": {"S": "REQUEST"}, "n": {"N": "1"}})
    before = _all_items(table)

    with pytest.raises(ClientError):
        _dynamodb().transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "REQUEST#b"}, "sk": {"S": "REQUEST"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "REQUEST#a"}, "sk": {"S": "REQUEST"}},
                        "UpdateExpression": "SET n = n + :text",  # a number plus a string: fails as it is applied
                        "ExpressionAttributeValues": {":text": {"S": "x"}},
                    }
                },
            ]
        )

    assert _all_items(table) == before


def _random_item(rng: random.Random, n: int) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": f"REQUEST#{rng.randrange(40)}"}, "sk": {"S": f"ITEM#{n:04d}"}}
    for partition_key, sort_key in INDEXES.values():
        if rng.random() < 0.7:
            item[partition_key] = {"S": rng.choice(["PENDING", "APPROVED", "CUSTOMER#a", "CUSTOMER#b", "OWED"])}
            item[sort_key] = {"S": f"2026-12-{rng.randrange(1, 29):02d}#{n:04d}"}
    return item


def _expected(items: list[dict[str, Any]], index: str | None, value: str, forward: bool) -> list[dict[str, Any]]:
    """What DynamoDB answers, from a scan: the partition's items in its sort key's order (then the table's)."""
    if index is None:
        found = [item for item in items if item["pk"]["S"] == value]
        return sorted(found, key=lambda item: item["sk"]["S"], reverse=not forward)
    partition_key, sort_key = INDEXES[index]
    found = [item for item in items if partition_key in item and item[partition_key]["S"] == value and sort_key in item]
    ordered = sorted(found, key=lambda item: (item[sort_key]["S"], item["pk"]["S"], item["sk"]["S"]))
    if index == "ByOwed":  # it projects the keys and the owed effect's attributes, none of which these items have
        ordered = [{name: item[name] for name in ("pk", "sk", partition_key, sort_key)} for item in ordered]
    return ordered if forward else ordered[::-1]


def _query_all(table: str, index: str | None, value: str, forward: bool, limit: int) -> list[dict[str, Any]]:
    partition_key = "pk" if index is None else INDEXES[index][0]
    arguments: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#key = :value",
        "ExpressionAttributeNames": {"#key": partition_key},
        "ExpressionAttributeValues": {":value": {"S": value}},
        "ScanIndexForward": forward,
        "Limit": limit,
    }
    if index is not None:
        arguments["IndexName"] = index
    return _every_item("query", arguments)


def test_queries_of_the_table_and_of_each_index_answer_what_a_whole_table_scan_answers(stack: LocalAws) -> None:
    table = settings().requests_table_name
    rng = random.Random(16)
    written = 0
    for round_ in range(6):
        for _ in range(60):  # puts, new and over older items
            _dynamodb().put_item(TableName=table, Item=_random_item(rng, rng.randrange(written + 60)))
            written += 1
        items = _all_items(table)
        for item in rng.sample(items, 15):  # updates that move items between index partitions, or out of one
            key = {"pk": item["pk"], "sk": item["sk"]}
            if rng.random() < 0.5:
                _dynamodb().update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression="SET gsi1pk = :status, gsi1sk = :at",
                    ExpressionAttributeValues={
                        ":status": {"S": rng.choice(["PENDING", "APPROVED"])},
                        ":at": {"S": "x"},
                    },
                )
            else:
                _dynamodb().update_item(TableName=table, Key=key, UpdateExpression="REMOVE gsi1pk, gsi2pk, gsi3pk")
        for item in rng.sample(_all_items(table), 10):
            _dynamodb().delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})

        items = _all_items(table)
        forward = round_ % 2 == 0
        for partition in ("REQUEST#1", "REQUEST#7", "REQUEST#39", "REQUEST#none"):
            assert _query_all(table, None, partition, forward, limit=7) == _expected(items, None, partition, forward)
        for index in INDEXES:
            for value in ("PENDING", "APPROVED", "CUSTOMER#a", "OWED", "nobody"):
                assert _query_all(table, index, value, forward, limit=9) == _expected(items, index, value, forward)


EVERY_TYPE = {
    "pk": {"S": "REQUEST#types"},
    "sk": {"S": "REQUEST"},
    "text": {"S": "退款 refund"},
    "amount": {"N": "59.99"},
    "yes": {"BOOL": True},
    "none": {"NULL": True},
    "list": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"deep": {"L": [{"BOOL": False}]}}}]},
    "map": {"M": {"decision": {"M": {"amount": {"N": "10"}, "currency": {"S": "USD"}}}}},
    "strings": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "bytes": {"B": b"\x00\x01"},
    "gsi1pk": {"S": "STATUS#PENDING"},
    "gsi1sk": {"S": "2026-12-01"},
}


def _stream_records(table: str) -> dict[str, Any]:
    """The stream's record of one put made after the iterator was taken (its time set aside: each run's own)."""
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    stream_arn = _dynamodb().describe_table(TableName=table)["Table"]["LatestStreamArn"]
    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")
    _dynamodb().put_item(TableName=table, Item={"pk": {"S": "REQUEST#streamed"}, "sk": {"S": "REQUEST"}})
    records: dict[str, Any] = streams.get_records(ShardIterator=iterator["ShardIterator"])
    records.pop("NextShardIterator")  # each run's own, like each record's id, number and time
    for record in records["Records"]:
        record.pop("eventID")
        record["dynamodb"].pop("SequenceNumber")
        # moto's size is its record's JSON length, its time and number among it: the digits vary run to run.
        assert isinstance(record["dynamodb"].pop("SizeBytes"), int)
        assert isinstance(record["dynamodb"].pop("ApproximateCreationDateTime"), datetime)
    return records


def _answers_of_every_item_operation(table: str) -> list[dict[str, Any]]:
    dynamodb = _dynamodb()
    key = {"pk": EVERY_TYPE["pk"], "sk": EVERY_TYPE["sk"]}
    without_bytes = {name: value for name, value in EVERY_TYPE.items() if name != "bytes"} | {"sk": {"S": "B"}}
    answers = [
        dynamodb.put_item(TableName=table, Item=EVERY_TYPE, ReturnConsumedCapacity="TOTAL"),
        dynamodb.put_item(TableName=table, Item=without_bytes, ReturnValues="ALL_OLD"),
        dynamodb.put_item(TableName=table, Item=without_bytes, ReturnValues="ALL_OLD"),
        dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True),
        dynamodb.get_item(TableName=table, Key={"pk": key["pk"], "sk": {"S": "B"}}),
        dynamodb.get_item(TableName=table, Key={"pk": key["pk"], "sk": {"S": "missing"}}),
        dynamodb.query(
            TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": key["pk"]}
        ),
        dynamodb.query(
            TableName=table,
            IndexName="ByStatus",
            KeyConditionExpression="gsi1pk = :status",
            ExpressionAttributeValues={":status": EVERY_TYPE["gsi1pk"]},
            Limit=1,
        ),
        dynamodb.batch_get_item(RequestItems={table: {"Keys": [key, {"pk": key["pk"], "sk": {"S": "B"}}]}}),
        dynamodb.update_item(
            TableName=table,
            Key={"pk": key["pk"], "sk": {"S": "B"}},
            UpdateExpression="SET amount = amount + :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        ),
        dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}]),
        dynamodb.scan(TableName=table, Limit=1),
        dynamodb.delete_item(TableName=table, Key={"pk": key["pk"], "sk": {"S": "B"}}, ReturnValues="ALL_OLD"),
        _stream_records(table),
    ]
    for answer in answers:
        answer.pop("ResponseMetadata")
    return answers


def test_the_item_operations_read_and_answer_as_moto_s_own_parser_and_serializer_do(stack: LocalAws) -> None:
    table = settings().requests_table_name
    written_as_json = _answers_of_every_item_operation(table)
    # The binary attribute was read by moto's parser, which decodes its base64 (JSON would keep the text).
    stored = (
        dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
        .get_table(table)
        .get_item(DynamoType(EVERY_TYPE["pk"]), DynamoType(EVERY_TYPE["sk"]))
    )
    assert stored.attrs["bytes"].value == b"\x00\x01"
    for item in _all_items(table):
        _dynamodb().delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})

    handlers = (DynamoHandler, DynamoDBStreamsHandler)
    fast = [handler.serialized for handler in handlers]
    fast_parse = DynamoHandler.parse_parameters
    for handler in handlers:
        handler.serialized = handler.serialized.__wrapped__  # type: ignore[attr-defined]
    DynamoHandler.parse_parameters = fast_parse.__wrapped__  # type: ignore[attr-defined]
    try:
        serialized_by_moto = _answers_of_every_item_operation(table)
    finally:
        for handler, serialized in zip(handlers, fast, strict=True):
            handler.serialized = serialized  # type: ignore[method-assign]
        DynamoHandler.parse_parameters = fast_parse  # type: ignore[method-assign]

    assert written_as_json == serialized_by_moto
    assert written_as_json[3]["Item"]["bytes"] == {"B": b"\x00\x01"}


def _received_in(table: str) -> list[dict[str, Any]]:
    answer = _dynamodb().query(
        TableName=table,
        IndexName="ByReceived",
        KeyConditionExpression="gsi4pk = :month",
        ExpressionAttributeValues={":month": {"S": "RECEIVED#2026-11"}},
    )
    return list(answer["Items"])


def test_an_index_projects_what_moto_s_own_projection_does(stack: LocalAws) -> None:
    """ByReceived keeps its keys and ten attributes (INCLUDE): projected from one conversion of each item, the
    answers are moto's own, deep maps, lists, sets, numbers and absent attributes alike."""
    table = settings().requests_table_name
    for index in range(3):
        item = {
            "pk": {"S": f"REQUEST#rr_{index}"}, "sk": {"S": "REQUEST"},
            "gsi4pk": {"S": "RECEIVED#2026-11"}, "gsi4sk": {"S": f"2026-11-0{index + 1}T00:00:00.000Z"},
            "requestId": {"S": f"rr_{index}"}, "status": {"S": "APPROVED"}, "overdue": {"BOOL": index == 1},
            "decision": {"M": {"amount": {"M": {"amount": {"N": "7.50"}, "currency": {"S": "USD"}}},
                               "reasons": {"L": [{"S": "R1"}, {"N": "2"}]}, "tags": {"SS": ["a", "b"]}}},
            "facts": {"M": {"trafficBytes": {"N": "1200000000"}}},  # not projected
            **({"paymentChannel": {"S": "card"}} if index else {}),
        }  # fmt: skip
        _dynamodb().put_item(TableName=table, Item=item)
    fast = _received_in(table)
    fast_project = Item.project
    Item.project = fast_project.__wrapped__  # type: ignore[attr-defined,method-assign]
    try:
        by_moto = _received_in(table)
    finally:
        Item.project = fast_project  # type: ignore[method-assign]

    assert fast == by_moto
    assert [item["requestId"]["S"] for item in fast] == ["rr_0", "rr_1", "rr_2"]
    assert all("facts" not in item for item in fast) and "paymentChannel" not in fast[0]
    assert sorted(fast[2]["decision"]["M"]["tags"]["SS"]) == ["a", "b"]


# Valid, then each wrong in one of the ways the two validators checked at the root alone look for (a clause twice, a
# path set twice, under another path set, or through two name placeholders), with what moto answers each.
UPDATES = [
    ("SET #a = :one, b = :two REMOVE c ADD d :one", {"#a": "a"}, None),
    ("SET a = :one SET b = :two", {}, 'The "SET" section can only be used once'),
    # moto finds the REMOVEs first (its check runs from the last clause up); the root alone would have named ADD.
    ("ADD a :one REMOVE b ADD c :one REMOVE d", {}, 'The "REMOVE" section can only be used once'),
    ("REMOVE x REMOVE y SET a = :one SET b = :two", {}, 'The "SET" section can only be used once'),
    ("SET a = :one, a = :two", {}, "Two document paths overlap"),
    ("SET a.b = :one, a = :two REMOVE c", {}, "Two document paths overlap"),
    ("SET #a = :one, #b = :two", {"#a": "same", "#b": "same"}, "Two document paths overlap"),
]
VALUES = {":one": {"N": "1"}, ":two": {"N": "2"}}


def _update_answers(table: str) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = []
    for index, (expression, names, _) in enumerate(UPDATES):
        arguments: dict[str, Any] = {
            "TableName": table,
            "Key": {"pk": {"S": f"update-{index}"}, "sk": {"S": "item"}},
            "UpdateExpression": expression,
            # Only those it uses: moto refuses an unused value before any validator sees the expression.
            "ExpressionAttributeValues": {name: value for name, value in VALUES.items() if name in expression},
            "ReturnValues": "ALL_NEW",
        }
        if names:
            arguments["ExpressionAttributeNames"] = names
        try:
            answers.append(_dynamodb().update_item(**arguments)["Attributes"])
        except ClientError as error:
            answers.append(error.response["Error"])
    return answers


def test_update_expressions_are_answered_as_moto_s_own_validators_answer_them(stack: LocalAws) -> None:
    """Checked at the root alone, parsed once (each expression is sent twice: parsed the second time from what
    the first kept) and its tree copied through pickle, the answers are moto's own traversals', parses' and
    copies'."""
    table = settings().requests_table_name
    fast_answers = _update_answers(table)
    for item in _all_items(table):
        _dynamodb().delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})

    validators = (ActionCountValidator, OverlappingPathsValidator)
    fast = [validator.traverse for validator in validators]
    fast_make = UpdateExpressionParser.__dict__["make"]
    fast_copy = moto_validators.deepcopy  # type: ignore[attr-defined]
    moto_validators.deepcopy = copy.deepcopy  # type: ignore[attr-defined]
    for validator in validators:
        validator.traverse = validator.traverse.__wrapped__  # type: ignore[attr-defined]
    UpdateExpressionParser.make = classmethod(fast_make.__func__.__wrapped__)
    try:
        by_moto = _update_answers(table)
    finally:
        for validator, traverse in zip(validators, fast, strict=True):
            validator.traverse = traverse  # type: ignore[method-assign]
        UpdateExpressionParser.make = fast_make
        moto_validators.deepcopy = fast_copy  # type: ignore[attr-defined]

    assert fast_copy is not copy.deepcopy
    assert fast_answers == by_moto
    assert fast_answers[0] == {"pk": {"S": "update-0"}, "sk": {"S": "item"}, "a": {"N": "1"}, "b": {"N": "2"},
                               "d": {"N": "1"}}  # fmt: skip
    for answer, (expression, _, refusal) in zip(fast_answers[1:], UPDATES[1:], strict=True):
        assert answer["Code"] == "ValidationException" and refusal in answer["Message"], (expression, answer)


def test_an_update_sent_again_with_other_values_writes_them_and_leaves_the_old_item_as_it_was(
    stack: LocalAws,
) -> None:
    """The parsed expression is kept, so each validation works on a copy of it; so does `list_append` on a copy
    of the stored list: neither the next call's values nor the answer's old values may see another's."""
    table = settings().requests_table_name
    key = {"pk": {"S": "copies"}, "sk": {"S": "item"}}
    _dynamodb().put_item(TableName=table, Item=key | {"l": {"L": [{"N": "1"}]}})
    olds = []
    for value in ("2", "3"):
        answer = _dynamodb().update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET l = list_append(l, :more), v = :value",
            ExpressionAttributeValues={":more": {"L": [{"N": value}]}, ":value": {"N": value}},
            ReturnValues="UPDATED_OLD",
        )
        olds.append(answer["Attributes"])
    assert olds == [{"l": {"L": [{"N": "1"}]}}, {"l": {"L": [{"N": "1"}, {"N": "2"}]}, "v": {"N": "2"}}]
    stored = _dynamodb().get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert stored == key | {"l": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}, "v": {"N": "3"}}


def _saved(directory: Path, table: str) -> list[dict[str, Any]]:
    lines = (directory / "state" / f"{table}.jsonl").read_text(encoding="utf-8").splitlines()
    return sorted((json.loads(line) for line in lines), key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def _held(table: str) -> list[dict[str, Any]]:
    return sorted(_all_items(table), key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def test_each_save_holds_what_the_tables_hold_while_writing_again_only_what_changed(
    stack: LocalAws, tmp_path: Path
) -> None:
    table = settings().requests_table_name
    rng = random.Random(7)
    for n in range(50):
        _dynamodb().put_item(TableName=table, Item=_random_item(rng, n))
    data_dir = DataDir(tmp_path, load_template())
    assert data_dir.open(reset=False) is False
    data_dir.save([])
    assert _saved(tmp_path, table) == _held(table)

    items = _held(table)
    _dynamodb().update_item(
        TableName=table,
        Key={"pk": items[0]["pk"], "sk": items[0]["sk"]},
        UpdateExpression="SET amount = :n",
        ExpressionAttributeValues={":n": {"N": "5"}},
    )
    _dynamodb().delete_item(TableName=table, Key={"pk": items[1]["pk"], "sk": items[1]["sk"]})
    _dynamodb().transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "REQUEST#new"}, "sk": {"S": "REQUEST"}}}},
            {"Delete": {"TableName": table, "Key": {"pk": items[2]["pk"], "sk": items[2]["sk"]}}},
        ]
    )
    data_dir.save([{"to": "a@example.com"}])

    assert _saved(tmp_path, table) == _held(table)
    assert {"pk": {"S": "REQUEST#new"}, "sk": {"S": "REQUEST"}} in _saved(tmp_path, table)
    assert (tmp_path / "state" / "outbox.jsonl").read_text(encoding="utf-8") == '{"to":"a@example.com"}\n'


def test_an_update_addressed_by_the_table_s_arn_moves_the_item_in_its_index(stack: LocalAws) -> None:
    table = settings().requests_table_name
    arn = _dynamodb().describe_table(TableName=table)["Table"]["TableArn"]
    item = {"pk": {"S": "REQUEST#arn"}, "sk": {"S": "REQUEST"}, "gsi1pk": {"S": "PENDING"}, "gsi1sk": {"S": "a"}}
    _dynamodb().put_item(TableName=table, Item=item)
    assert len(_query_all(table, "ByStatus", "PENDING", True, limit=10)) == 1  # the index's map is built

    _dynamodb().update_item(
        TableName=arn,
        Key={"pk": item["pk"], "sk": item["sk"]},
        UpdateExpression="SET gsi1pk = :status",
        ExpressionAttributeValues={":status": {"S": "APPROVED"}},
    )

    assert _query_all(table, "ByStatus", "PENDING", True, limit=10) == []
    assert [found["pk"] for found in _query_all(table, "ByStatus", "APPROVED", True, limit=10)] == [item["pk"]]


def test_an_index_key_attribute_holding_a_list_is_stored_and_left_out_of_the_index(stack: LocalAws) -> None:
    table = settings().requests_table_name
    pending = {"pk": {"S": "REQUEST#s"}, "sk": {"S": "REQUEST"}, "gsi1pk": {"S": "PENDING"}, "gsi1sk": {"S": "a"}}
    _dynamodb().put_item(TableName=table, Item=pending)
    assert len(_query_all(table, "ByStatus", "PENDING", True, limit=10)) == 1  # the index's map is built

    listed = {
        "pk": {"S": "REQUEST#l"},
        "sk": {"S": "REQUEST"},
        "gsi1pk": {"L": [{"S": "PENDING"}]},
        "gsi1sk": {"S": "b"},
    }
    _dynamodb().put_item(TableName=table, Item=listed)

    assert _query_all(table, "ByStatus", "PENDING", True, limit=10) == [pending]
    assert listed in _all_items(table)


def _components(program: Any) -> set[int]:
    """The ids of every evaluation component reachable from `program`."""
    from moto.stepfunctions.parser.asl.component.component import Component  # noqa: PLC0415

    found: set[int] = set()
    waiting = [program]
    while waiting:
        value = waiting.pop()
        if isinstance(value, list | tuple):
            waiting += value
        elif isinstance(value, dict):
            waiting += value.values()
        elif isinstance(value, Component) and id(value) not in found:
            found.add(id(value))
            waiting += vars(value).values()
    return found


@pytest.mark.usefixtures("stack")
@pytest.mark.parametrize(
    "definition",
    [
        (Path(__file__).parents[2] / "statemachine" / "review_deadline.asl.json").read_text(encoding="utf-8"),
        # A Parallel state: each branch a program of its own, inside the machine's.
        json.dumps(
            {
                "StartAt": "Both",
                "States": {
                    "Both": {
                        "Type": "Parallel",
                        "End": True,
                        "Branches": [
                            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": True}}},
                            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": 2, "End": True}}},
                        ],
                    }
                },
            }
        ),
    ],
    ids=["review deadline", "parallel"],
)
def test_each_execution_of_a_definition_gets_components_of_its_own(definition: str) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser  # noqa: PLC0415

    programs = [AmazonStateLanguageParser.parse(definition)[0] for _ in range(3)]

    reached = [_components(program) for program in programs]
    assert all(len(components) > 10 for components in reached)
    assert not (reached[0] & reached[1]) and not (reached[1] & reached[2]) and not (reached[0] & reached[2])


def _bucket_name_taken(s3: Any, name: str) -> str:
    """S3's answer to making the bucket again (its name is taken: S3's names are global)."""
    try:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "made again"


def _what_was_provisioned() -> dict[str, Any]:
    """What a caller can see of the emulated AWS's resources (not of when they were made)."""
    dynamodb, sqs, s3 = _dynamodb(), boto3.client("sqs", region_name=REGION), boto3.client("s3", region_name=REGION)
    tables = {}
    for name in dynamodb.list_tables()["TableNames"]:
        table = dynamodb.describe_table(TableName=name)["Table"]
        tables[name] = {
            "keys": table["KeySchema"],
            "indexes": sorted(json.dumps(index["KeySchema"]) for index in table.get("GlobalSecondaryIndexes", [])),
            "stream": table.get("StreamSpecification"),
            "items": _all_items(name),
        }
    queues = {}
    for url in sqs.list_queues()["QueueUrls"]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        queues[url] = {name: value for name, value in attributes.items() if not name.endswith("Timestamp")}
    buckets = {
        bucket["Name"]: (
            s3.get_bucket_versioning(Bucket=bucket["Name"]).get("Status"),
            s3.list_object_versions(Bucket=bucket["Name"]).get("Versions", []),
            _bucket_name_taken(s3, bucket["Name"]),
        )
        for bucket in s3.list_buckets()["Buckets"]
    }
    rules = boto3.client("events", region_name=REGION).list_rules(EventBusName=settings().event_bus_name)["Rules"]
    ses, secrets = boto3.client("ses", region_name=REGION), boto3.client("secretsmanager", region_name=REGION)
    return {
        "tables": tables,
        "queues": queues,
        "buckets": buckets,
        "rules": sorted((rule["Name"], rule["EventPattern"]) for rule in rules),
        "identities": ses.list_identities()["Identities"],
        "sent": ses.get_send_quota()["SentLast24Hours"],
        "secrets": sorted(secret["Name"] for secret in secrets.list_secrets()["SecretList"]),
    }


def _leave_behind(stack: LocalAws, number: int) -> None:
    """Everything a test may leave behind: items, messages, files, an email, an execution, a table of its own."""
    _dynamodb().put_item(TableName=stack.table_names["RequestsTable"], Item={"pk": {"S": "R#1"}, "sk": {"S": "X"}})
    boto3.client("sqs", region_name=REGION).send_message(QueueUrl=settings().delivery_queue_url, MessageBody="{}")
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=str(settings().evidence_bucket_name), Key="evidence/R#1/bill.pdf", Body=b"%PDF"
    )
    boto3.client("ses", region_name=REGION).send_email(
        Source=settings().sender_email,
        Destination={"ToAddresses": ["kim@example.com"]},
        Message={"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "Hello"}}},
    )
    boto3.client("stepfunctions", region_name=REGION).start_execution(
        stateMachineArn=stack.state_machine_arn, name=f"left-behind-{number}", input="{}"
    )
    _dynamodb().create_table(
        TableName=f"Stray{number}",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_each_emulated_aws_holds_what_provisioning_made_and_nothing_the_last_test_wrote(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tests provision template.yaml once per process and restore a copy of it for each stack
    (refund_local.moto_patches.snapshots): each must be as the stack provisioned from scratch, whatever the
    stacks before it were left holding."""
    import refund_local.stack as stack_module  # noqa: PLC0415

    monkeypatch.setattr(stack_module, "_provisioned", {})
    provisioned: dict[str, Any] = {}
    for number in range(3):
        stack = LocalAws(execute_state_machine=False).start()
        try:
            seen = _what_was_provisioned()
            assert seen == (provisioned or seen)
            provisioned = seen
            sfn = boto3.client("stepfunctions", region_name=REGION)
            assert sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []
            _leave_behind(stack, number)
        finally:
            stack.stop()


def test_a_queue_of_a_restored_stack_wakes_a_waiting_receive_when_a_message_comes(stack: LocalAws) -> None:
    """Each restored SQS queue has a lock of its own (moto's long poll waits on it; the snapshot's cannot be
    copied): a message sent while a receive waits is received at once, not at the end of the wait."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = settings().delivery_queue_url
    sender = threading.Timer(0.3, lambda: sqs.send_message(QueueUrl=url, MessageBody="late"))
    sender.start()
    started = time.monotonic()
    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
    sender.join()
    assert [message["Body"] for message in received] == ["late"]
    assert time.monotonic() - started < 5
