"""The real review-deadline ASL, run by moto's Step Functions interpreter on the template's tables."""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from refund_core.policy.models import utc_iso
from refund_local.moto_patches.atomic import make_dynamodb_calls_atomic
from refund_local.moto_patches.waits import make_waits_exact
from refund_local.provision import (
    LOCAL_STATE_MACHINE_ROLE_ARN,
    REPO_ROOT,
    create_state_machine,
    create_tables,
    load_template,
)

TIMEOUT_SECONDS = 10


@dataclass
class Aws:
    dynamodb: Any
    sfn: Any
    table: str
    state_machine_arn: str


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        # As the local runner's emulator does: each DynamoDB call atomic, transactions all or nothing.
        make_dynamodb_calls_atomic()
        make_waits_exact()
        template = load_template()
        dynamodb, sfn = boto3.client("dynamodb"), boto3.client("stepfunctions")
        tables = create_tables(template, dynamodb)
        arn = create_state_machine(template, sfn, tables)
        yield Aws(dynamodb, sfn, tables["RequestsTable"], arn)
        # Executions are threads that outlive mock_aws (and would then call real endpoints): stop them.
        for machine in sfn.list_state_machines()["stateMachines"]:
            running = sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")
            for execution in running["executions"]:
                sfn.stop_execution(executionArn=execution["executionArn"])


def wait_timestamp(moment: datetime) -> str:
    """Whole seconds, rounded up, ending in Z: the form submit gives the workflow."""
    return (moment.replace(microsecond=0) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def stored_form(timestamp: str) -> str:
    """A workflow timestamp as the requests table stores times (`...T16:00:00.000+00:00`)."""
    return utc_iso(datetime.fromisoformat(timestamp))


def put_pending_request(aws: Aws, request_id: str, reminder_at: str, deadline: str) -> None:
    aws.dynamodb.put_item(
        TableName=aws.table,
        Item={
            "pk": {"S": f"REQUEST#{request_id}"},
            "sk": {"S": "REQUEST"},
            "requestId": {"S": request_id},
            "status": {"S": "PENDING"},
            "version": {"N": "1"},
            "reminderAt": {"S": stored_form(reminder_at)},
            "deadline": {"S": stored_form(deadline)},
            "reminded": {"BOOL": False},
            "overdue": {"BOOL": False},
            "gsi1pk": {"S": "STATUS#PENDING"},
            "gsi1sk": {"S": f"{stored_form(deadline)}#{request_id}"},
        },
    )


def pending_request(aws: Aws, reminder_in: float, deadline_in: float) -> tuple[str, str, str]:
    """A new pending request, to be reminded `reminder_in` seconds from now and overdue `deadline_in` seconds from
    now: its id, and its reminder and deadline as submit gives them to the workflow."""
    request_id = f"rr_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    reminder_at = wait_timestamp(now + timedelta(seconds=reminder_in))
    deadline = wait_timestamp(now + timedelta(seconds=deadline_in))
    put_pending_request(aws, request_id, reminder_at, deadline)
    return request_id, reminder_at, deadline


def decide(aws: Aws, request_id: str) -> None:
    """Approve the way the API does: conditional on PENDING, bumping version."""
    aws.dynamodb.update_item(
        TableName=aws.table,
        Key={"pk": {"S": f"REQUEST#{request_id}"}, "sk": {"S": "REQUEST"}},
        UpdateExpression="SET #status = :approved, version = version + :one",
        ConditionExpression="#status = :pending",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":approved": {"S": "APPROVED"}, ":pending": {"S": "PENDING"}, ":one": {"N": "1"}},
    )


def start(aws: Aws, request_id: str, reminder_at: str, deadline: str, state_machine_arn: str | None = None) -> str:
    # Named like submit does (by request id): unnamed executions collide in moto.
    return aws.sfn.start_execution(
        stateMachineArn=state_machine_arn or aws.state_machine_arn,
        name=request_id,
        input=json.dumps({"requestId": request_id, "reminderAt": reminder_at, "deadline": deadline, "tries": 0}),
    )["executionArn"]


def finished(aws: Aws, execution_arn: str) -> dict[str, Any]:
    give_up = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < give_up:
        execution = aws.sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.1)
    raise AssertionError(f"{execution_arn} still running after {TIMEOUT_SECONDS} s")


def request_item(aws: Aws, request_id: str) -> dict[str, Any]:
    key = {"pk": {"S": f"REQUEST#{request_id}"}, "sk": {"S": "REQUEST"}}
    return aws.dynamodb.get_item(TableName=aws.table, Key=key, ConsistentRead=True)["Item"]


def request_items(aws: Aws, request_id: str, sort_key_prefix: str) -> list[dict[str, Any]]:
    """The request's items whose sort key begins with `sort_key_prefix` (`HISTORY#`, `OWED#`), read consistently."""
    return aws.dynamodb.query(
        TableName=aws.table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"REQUEST#{request_id}"}, ":prefix": {"S": sort_key_prefix}},
        ConsistentRead=True,
    )["Items"]


def history(aws: Aws, request_id: str) -> list[dict[str, Any]]:
    return request_items(aws, request_id, "HISTORY#")


def put_history(aws: Aws, request_id: str, key: str, at: str, event: str, by: str) -> None:
    """A history entry as another writer leaves it (`HISTORY#<key>`)."""
    item = {"pk": f"REQUEST#{request_id}", "sk": f"HISTORY#{key}", "at": at, "event": event, "by": by}
    aws.dynamodb.put_item(TableName=aws.table, Item={name: {"S": value} for name, value in item.items()})


def entered_states(aws: Aws, execution_arn: str) -> list[str]:
    events = aws.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [event["stateEnteredEventDetails"]["name"] for event in events if "stateEnteredEventDetails" in event]


def stream_images(aws: Aws, request_id: str) -> list[dict[str, Any]]:
    """Every change of the request item, in order, as the notifier would see it."""
    streams = boto3.client("dynamodbstreams")
    stream_arn = aws.dynamodb.describe_table(TableName=aws.table)["Table"]["LatestStreamArn"]
    changes: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        changes.extend(
            record["dynamodb"]
            for record in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
            if record["dynamodb"]["Keys"] == {"pk": {"S": f"REQUEST#{request_id}"}, "sk": {"S": "REQUEST"}}
        )
    return changes


def test_pending_request_is_reminded_then_overdue(aws: Aws) -> None:
    request_id, reminder_at, deadline = pending_request(aws, 2, 4)

    execution = finished(aws, start(aws, request_id, reminder_at, deadline))

    assert execution["status"] == "SUCCEEDED"
    item = request_item(aws, request_id)
    assert (item["status"]["S"], item["reminded"]["BOOL"], item["overdue"]["BOOL"]) == ("PENDING", True, True)
    assert item["version"] == {"N": "1"}, "the workflow's writes leave version to the API"
    entries = history(aws, request_id)
    assert [(h["sk"]["S"], h["event"]["S"], h["by"]["S"]) for h in entries] == [
        (f"HISTORY#{reminder_at}#reminded", "reminded", "review-deadline"),
        (f"HISTORY#{deadline}#overdue", "overdue", "review-deadline"),
    ]
    # Each at the time its step ran: from its moment on, never before.
    reminded_at, overdue_at = (datetime.fromisoformat(h["at"]["S"]) for h in entries)
    assert datetime.fromisoformat(reminder_at) <= reminded_at <= overdue_at
    assert datetime.fromisoformat(deadline) <= overdue_at


def test_a_step_that_runs_late_is_recorded_when_it_ran_after_what_was_written_meanwhile(aws: Aws) -> None:
    # The reminder was due 5 s ago (the workflow was down, say); the request's history has moved on since.
    request_id, reminder_at, deadline = pending_request(aws, -5, 60)
    written_meanwhile = utc_iso(datetime.now(UTC))
    put_history(aws, request_id, f"{written_meanwhile}#00-email sent", written_meanwhile, "email sent", "outbox")

    start(aws, request_id, reminder_at, deadline)
    give_up = time.monotonic() + TIMEOUT_SECONDS
    while not request_item(aws, request_id).get("reminded", {}).get("BOOL") and time.monotonic() < give_up:
        time.sleep(0.1)

    by_time = sorted(history(aws, request_id), key=lambda h: datetime.fromisoformat(h["at"]["S"]))
    assert [h["event"]["S"] for h in by_time] == ["email sent", "reminded"], "the history only grows at its end"


def owed(aws: Aws, request_id: str) -> list[dict[str, Any]]:
    return request_items(aws, request_id, "OWED#")


def test_each_step_owes_its_email_in_the_same_transaction(aws: Aws) -> None:
    request_id, reminder_at, deadline = pending_request(aws, 1, 2)

    execution_arn = start(aws, request_id, reminder_at, deadline)
    assert finished(aws, execution_arn)["status"] == "SUCCEEDED"

    assert {(item["effect"]["S"], item["state"]["S"], item["owedAt"]["S"]) for item in owed(aws, request_id)} == {
        ("email#reminder", "OWED", reminder_at),
        ("email#escalation", "OWED", deadline),
        ("email#delay", "OWED", deadline),
    }
    # Four state transitions: two waits, the two steps.
    assert entered_states(aws, execution_arn) == ["WaitForReminder", "MarkReminded", "WaitForDeadline", "MarkOverdue"]


def test_a_step_an_earlier_attempt_committed_is_not_done_twice(aws: Aws) -> None:
    """As if each step's transaction had committed and its answer been lost: the retry finds it done (its
    owed email and history there) and goes on; nothing is written twice, nothing is overwritten."""
    request_id, reminder_at, deadline = pending_request(aws, 0, 0)
    key = {"pk": {"S": f"REQUEST#{request_id}"}, "sk": {"S": "REQUEST"}}
    aws.dynamodb.update_item(
        TableName=aws.table,
        Key=key,
        UpdateExpression="SET reminded = :yes, overdue = :yes",
        ExpressionAttributeValues={":yes": {"BOOL": True}},
    )
    for event, kind in (("reminded", "reminder"), ("overdue", "escalation")):
        put_history(aws, request_id, f"{deadline}#{event}", deadline, event, "earlier-attempt")
        aws.dynamodb.put_item(
            TableName=aws.table,
            Item={
                "pk": {"S": f"REQUEST#{request_id}"},
                "sk": {"S": f"OWED#email#{kind}"},
                "requestId": {"S": request_id},
                "effect": {"S": f"email#{kind}"},
                "state": {"S": "DONE"},
                "owedAt": {"S": deadline},
                "attempts": {"N": "1"},
            },
        )

    execution_arn = start(aws, request_id, reminder_at, deadline)
    execution = finished(aws, execution_arn)

    assert execution["status"] == "SUCCEEDED"
    assert entered_states(aws, execution_arn)[-1] == "Overdue"
    assert [(h["event"]["S"], h["by"]["S"]) for h in history(aws, request_id)] == [
        ("overdue", "earlier-attempt"),
        ("reminded", "earlier-attempt"),
    ]
    assert {item["state"]["S"] for item in owed(aws, request_id)} == {"DONE"}


def test_request_decided_before_the_reminder_ends_the_workflow(aws: Aws) -> None:
    request_id, reminder_at, deadline = pending_request(aws, 1, 2)
    execution_arn = start(aws, request_id, reminder_at, deadline)
    decide(aws, request_id)

    execution = finished(aws, execution_arn)

    assert execution["status"] == "SUCCEEDED"
    assert entered_states(aws, execution_arn)[-1] == "NoLongerPending"
    item = request_item(aws, request_id)
    assert (item["status"]["S"], item["reminded"]["BOOL"], item["overdue"]["BOOL"]) == ("APPROVED", False, False)
    assert history(aws, request_id) == []


def test_request_decided_after_the_reminder_is_never_overdue(aws: Aws) -> None:
    request_id, reminder_at, deadline = pending_request(aws, 1, 3)
    execution_arn = start(aws, request_id, reminder_at, deadline)
    give_up = time.monotonic() + TIMEOUT_SECONDS
    while not request_item(aws, request_id)["reminded"]["BOOL"]:
        assert time.monotonic() < give_up, "never reminded"
        time.sleep(0.05)
    decide(aws, request_id)

    execution = finished(aws, execution_arn)

    assert execution["status"] == "SUCCEEDED"
    entered = entered_states(aws, execution_arn)
    assert (entered[-4], entered[-1]) == ("MarkOverdue", "NoLongerPending")
    item = request_item(aws, request_id)
    assert (item["status"]["S"], item["reminded"]["BOOL"], item["overdue"]["BOOL"]) == ("APPROVED", True, False)
    assert [h["event"]["S"] for h in history(aws, request_id)] == ["reminded"]


# moto's Wait sleeps only the whole seconds left (int()), so it wakes up to 1 s before the deadline.
# Decisions spread over that second, one of them at the deadline itself, so that both orders happen.
DECISION_OFFSETS = (-0.9, -0.7, -0.5, -0.3, -0.1, 0.0)


def test_decisions_racing_the_deadline_are_never_marked_overdue(aws: Aws) -> None:
    now = datetime.now(UTC)
    reminder_at, deadline = wait_timestamp(now + timedelta(seconds=1)), wait_timestamp(now + timedelta(seconds=2))
    deadline_epoch = datetime.fromisoformat(deadline).timestamp()
    races: dict[str, str] = {}
    decisions: list[threading.Timer] = []
    for offset in DECISION_OFFSETS:
        request_id = f"rr_{uuid.uuid4().hex}"
        put_pending_request(aws, request_id, reminder_at, deadline)
        races[request_id] = start(aws, request_id, reminder_at, deadline)
        delay = max(0.0, deadline_epoch + offset - time.time())
        decisions.append(threading.Timer(delay, decide, (aws, request_id)))
    for decision in decisions:
        decision.start()

    for execution_arn in races.values():
        assert finished(aws, execution_arn)["status"] == "SUCCEEDED"
    for decision in decisions:
        decision.join(TIMEOUT_SECONDS)

    for request_id, execution_arn in races.items():
        item = request_item(aws, request_id)
        assert item["status"]["S"] == "APPROVED", "the decision, conditional on PENDING, always succeeds"
        overdue_history = [h for h in history(aws, request_id) if h["event"]["S"] == "overdue"]
        if item["overdue"]["BOOL"]:
            # Overdue first, then decided: the flag was set while the request was still pending.
            (marking,) = [
                change
                for change in stream_images(aws, request_id)
                if change["NewImage"]["overdue"]["BOOL"] and not change["OldImage"]["overdue"]["BOOL"]
            ]
            assert marking["NewImage"]["status"]["S"] == "PENDING"
            assert len(overdue_history) == 1
        else:
            # Decided first: the workflow found the request no longer pending and stopped there.
            assert entered_states(aws, execution_arn)[-1] == "NoLongerPending"
            assert overdue_history == []


def test_unexpected_error_is_recorded_on_the_request_and_fails_the_execution(aws: Aws) -> None:
    """The same definition, with MarkReminded pointed at a missing table and no pause between its tries:
    every other state is untouched, so the check, the tries and RecordFailure run as deployed."""
    template = load_template()
    machine = template["Resources"]["ReviewDeadlineStateMachine"]["Properties"]
    text = (REPO_ROOT / machine["DefinitionUri"]).read_text().replace("${RequestsTableName}", aws.table)
    definition = json.loads(text)
    states = definition["States"]
    # The step fails every time (a table that does not exist), and is tried again without pausing.
    for item in states["MarkReminded"]["Parameters"]["TransactItems"]:
        next(iter(item.values()))["TableName"] = "NoSuchTable"
    states["TryReminderAgain"]["Parameters"] |= {"pause": 0}
    del states["TryReminderAgain"]["Parameters"]["pause.$"]
    broken_arn = aws.sfn.create_state_machine(
        name="BrokenReviewDeadline", definition=json.dumps(definition), roleArn=LOCAL_STATE_MACHINE_ROLE_ARN
    )["stateMachineArn"]
    request_id, reminder_at, deadline = pending_request(aws, 0, 3600)

    execution = finished(aws, start(aws, request_id, reminder_at, deadline, broken_arn))

    assert execution["status"] == "FAILED"
    assert execution["error"].endswith("ResourceNotFoundException")
    (failure,) = history(aws, request_id)
    assert (failure["event"]["S"], failure["by"]["S"]) == ("workflow_failed", "review-deadline")
    assert failure["sk"]["S"] == f"HISTORY#{failure['at']['S']}#workflow_failed"
    assert "ResourceNotFoundException: " in failure["detail"]["S"]
    item = request_item(aws, request_id)
    assert (item["reminded"]["BOOL"], item["overdue"]["BOOL"]) == (False, False)


@pytest.fixture
def engine_waking_early(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine whose Wait-until-timestamp wakes 2 s early the first time (moto's own wakes up to 1 s early)."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp  # noqa: PLC0415

    early: set[int] = set()
    original = Timestamp._get_wait_seconds

    def wake_early(self: Any, env: Any) -> int:
        seconds: int = original(self, env)
        if id(env) not in early and seconds > 2:
            early.add(id(env))
            return seconds - 2
        return seconds

    monkeypatch.setattr(Timestamp, "_get_wait_seconds", wake_early)


def test_an_engine_that_wakes_early_never_makes_a_request_overdue_before_its_deadline(
    aws: Aws, engine_waking_early: None
) -> None:
    now = datetime.now(UTC)
    reminder_at, deadline = wait_timestamp(now + timedelta(seconds=1)), wait_timestamp(now + timedelta(seconds=5))
    deadline_epoch = datetime.fromisoformat(deadline).timestamp()
    left_pending, decided_just_before = f"rr_{uuid.uuid4().hex}", f"rr_{uuid.uuid4().hex}"
    executions = {}
    for request_id in (left_pending, decided_just_before):
        put_pending_request(aws, request_id, reminder_at, deadline)
        executions[request_id] = start(aws, request_id, reminder_at, deadline)
    decision = threading.Timer(max(0.0, deadline_epoch - 0.5 - time.time()), decide, (aws, decided_just_before))
    decision.start()

    for execution_arn in executions.values():
        assert finished(aws, execution_arn)["status"] == "SUCCEEDED"
    decision.join(TIMEOUT_SECONDS)

    # Decided half a second before the deadline: never overdue, though the engine woke 2 s before it.
    assert request_item(aws, decided_just_before)["overdue"]["BOOL"] is False
    assert entered_states(aws, executions[decided_just_before])[-1] == "NoLongerPending"
    # Left pending: overdue, marked only once the deadline had passed; the step tried early did nothing.
    assert request_item(aws, left_pending)["overdue"]["BOOL"] is True
    events = aws.sfn.get_execution_history(executionArn=executions[left_pending], maxResults=1000)["events"]
    tries = [
        event["timestamp"].timestamp()
        for event in events
        if event.get("stateEnteredEventDetails", {}).get("name") == "MarkOverdue"
    ]
    assert tries[0] < deadline_epoch <= tries[-1]
    assert [h["event"]["S"] for h in history(aws, left_pending)] == ["reminded", "overdue"]
